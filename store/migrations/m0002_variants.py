"""Recovery email variants."""
from store.variants import Variant


def up(db):
    db.create_tables([Variant], safe=True)
