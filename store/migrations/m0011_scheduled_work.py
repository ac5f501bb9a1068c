"""Scheduled work that lives in the database (store/scheduled_jobs.py)."""
from store.scheduled_jobs import ScheduledJob


def up(db):
    db.create_tables([ScheduledJob], safe=True)
