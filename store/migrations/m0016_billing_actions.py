"""Billing actions, the coupons they reuse, and each project's identity secret (docs/offers.md)."""
from store.billing import BILLING_MODELS


def up(db):
    db.create_tables(BILLING_MODELS, safe=True)
