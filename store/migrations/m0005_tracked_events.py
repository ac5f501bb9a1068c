"""Tracked events (`POST /track`)."""
from store.tracking import TrackedEvent


def up(db):
    db.create_tables([TrackedEvent], safe=True)
