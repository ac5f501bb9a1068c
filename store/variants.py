"""Recovery email variants: nine per churn event (3 strategies x 3 tones)."""
from __future__ import annotations

import peewee

from store.models import BaseModel, ChurnEvent, Project, new_id, utcnow

STRATEGIES = ("discount_offer", "value_reminder", "personal_check_in")
TONES = ("friendly", "professional", "urgent")
VARIANT_STATUSES = ("draft", "edited", "sent", "failed")


class Variant(BaseModel):
    id = peewee.CharField(primary_key=True, max_length=40, default=lambda: new_id("var"))
    project = peewee.ForeignKeyField(Project, on_delete="CASCADE")
    churn_event = peewee.ForeignKeyField(ChurnEvent, backref="variants", on_delete="CASCADE")
    strategy = peewee.CharField(max_length=32)
    tone = peewee.CharField(max_length=16)
    subject = peewee.CharField(max_length=500)
    body_text = peewee.TextField()
    body_html = peewee.TextField()
    status = peewee.CharField(max_length=16, default="draft")
    generator = peewee.CharField(max_length=120)
    sent_at = peewee.DateTimeField(null=True)
    message_id = peewee.CharField(max_length=300, null=True)
    error = peewee.TextField(null=True)
    created_at = peewee.DateTimeField(default=utcnow)
    updated_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "variants"
        indexes = (
            (("churn_event", "status"), False),
            (("project", "status", "sent_at"), False),
        )
