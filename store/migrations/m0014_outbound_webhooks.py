"""Outbound webhooks: endpoints and the outbox of deliveries (store/outbound.py)."""
from store.outbound import WebhookDelivery, WebhookEndpoint


def up(db):
    db.create_tables([WebhookEndpoint, WebhookDelivery], safe=True)
