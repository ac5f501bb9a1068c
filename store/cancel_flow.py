"""Cancel-flow submissions: every answer a customer gave in the widget (reason, offer shown,
offer accepted). `save_rate` = accepted / submissions (SPEC 6)."""
from __future__ import annotations

import peewee

from store.models import BaseModel, ChurnEvent, Project, utcnow


class CancelFlowSubmission(BaseModel):
    project = peewee.ForeignKeyField(Project, on_delete="CASCADE")
    churn_event = peewee.ForeignKeyField(ChurnEvent, on_delete="CASCADE")
    customer_email = peewee.CharField(max_length=254)
    reason = peewee.CharField(max_length=32)
    detail = peewee.TextField(null=True)
    offer_shown = peewee.TextField(null=True)  # JSON of the offer shown, if any
    offer_accepted = peewee.BooleanField(default=False)
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "cancel_flow_submissions"
        indexes = ((("project", "created_at"), False),)
