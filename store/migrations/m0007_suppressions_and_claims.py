"""Recovery emails: the suppression list, generation claims, and send claims on variants."""
from store.migrations import add_columns
from store.suppressions import Suppression
from store.variants import Variant, VariantGeneration


def up(db):
    db.create_tables([Suppression, VariantGeneration], safe=True)
    add_columns(Variant, "send_claim", "send_claim_expires_at")
