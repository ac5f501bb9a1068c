"""Stored webhook deliveries (docs/webhooks.md)."""
from store.webhooks import WebhookEvent


def up(db):
    db.create_tables([WebhookEvent], safe=True)
