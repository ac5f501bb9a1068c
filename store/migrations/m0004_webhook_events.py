"""Stored webhook deliveries (SPEC 8)."""
from store.webhooks import WebhookEvent


def up(db):
    db.create_tables([WebhookEvent], safe=True)
