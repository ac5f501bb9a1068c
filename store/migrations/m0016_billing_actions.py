"""Billing actions, the coupons they reuse, each project's identity secret, and the one-click
offer links of discount emails (docs/offers.md)."""
from store.billing import BILLING_MODELS
from store.offer_links import OfferLink


def up(db):
    db.create_tables(BILLING_MODELS + [OfferLink], safe=True)
