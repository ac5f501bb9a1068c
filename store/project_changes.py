"""The project change log: one row per change of a project's own row or keys (settings, name,
plan, key rotation), written in the transaction that makes the change.

Every server process keeps what it read of a project (its keys, its row, its webhook secrets) in
memory and reads this log once a second (services/change_feed.py), so a change made through one
process reaches the caches of the others within about a second (docs/deploy.md).
"""
from __future__ import annotations

import datetime as dt

import peewee

from store.db import transaction
from store.models import BaseModel, utcnow

# Rows older than this are purged; a process that could not read the log for that long empties
# its caches instead of trusting them (services/change_feed.py).
KEEP = dt.timedelta(hours=1)


class ProjectChange(BaseModel):
    id = peewee.BigAutoField()
    # Not a foreign key: the row of a deleted project's change must outlive the project.
    project_id = peewee.CharField(max_length=40)
    changed_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "project_changes"


def record(project_id: str) -> None:
    """Note a change of the project; call inside the transaction that makes it, so the note and
    the change commit (or roll back) together."""
    ProjectChange.insert(project_id=project_id, changed_at=utcnow()).execute()


def latest_id() -> int:
    return ProjectChange.select(peewee.fn.MAX(ProjectChange.id)).scalar() or 0


def changes_after(after_id: int) -> list[tuple[int, str]]:
    """(id, project id) of the changes with an id above `after_id`, oldest first."""
    rows = (ProjectChange.select(ProjectChange.id, ProjectChange.project_id)
            .where(ProjectChange.id > after_id).order_by(ProjectChange.id).tuples())
    return list(rows)


def purge() -> int:
    """Drop changes older than KEEP. The newest row always stays: SQLite gives a new row the
    largest id plus one, and an emptied table would hand out ids the readers have passed."""
    newest = latest_id()
    with transaction():
        return (ProjectChange.delete()
                .where((ProjectChange.changed_at < utcnow() - KEEP) & (ProjectChange.id < newest))
                .execute())
