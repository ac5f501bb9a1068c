"""A project's suppression list: addresses that unsubscribed and must never be mailed again.

Unique per (project, email), so an unsubscribe is idempotent and holds across processes.
"""
from __future__ import annotations

import peewee

from store import campaigns
from store.db import transaction
from store.models import BaseModel, Project, utcnow


class Suppression(BaseModel):
    project = peewee.ForeignKeyField(Project, on_delete="CASCADE", index=False)
    email = peewee.CharField(max_length=254)  # lower-cased
    reason = peewee.CharField(max_length=32, default="unsubscribed")
    customer_id = peewee.CharField(max_length=200, null=True)
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "suppressions"
        indexes = ((("project", "email"), True),)


def is_suppressed(project_id: str, email: str) -> bool:
    return (Suppression.select(Suppression.id)
            .where((Suppression.project == project_id) & (Suppression.email == email.lower()))
            .exists())


def suppress(project_id: str, email: str, customer_id: str | None = None, reason: str = "unsubscribed") -> bool:
    """Put the address on the list; returns False when the project does not exist. Repeating it
    changes nothing."""
    with transaction():
        if not Project.select(Project.id).where(Project.id == project_id).exists():
            return False
        (Suppression.insert(project=project_id, email=email.lower(), customer_id=customer_id, reason=reason,
                            created_at=utcnow())
         .on_conflict_ignore().execute())
        campaigns.end_for_address(project_id, email, "unsubscribed")
    return True
