"""Churn-event commands of the project actor: where a churn event changes state."""
from __future__ import annotations

import datetime as dt
import time

from store import churn_events as store
from store.churn_event_reads import churn_json, lost_cutoff
from store.db import unit_of_work
from store.models import utcnow
from store.projects import settings_of

CUTOFF_TTL = 5.0  # seconds a project's lost_after_days is reused between commands


class ChurnEventCommands:
    project_id: str

    def lost_cutoff(self) -> dt.datetime:
        """The `lost` cutoff for answers, without reading the project row for every command."""
        cached = getattr(self, "_lost_after_days", None)
        now = time.monotonic()
        if cached is None or now - cached[1] > CUTOFF_TTL:
            days = int(settings_of(self.project_id)["lost_after_days"])
            cached = self._lost_after_days = (days, now)
        return lost_cutoff(cached[0])

    def create_churn_event(self, fields: dict) -> tuple[dict, bool]:
        with unit_of_work():
            event, created = store.record_churn(self.project_id, fields)
            # `lost_after_days` is at least 1, so an event that churned within the last day is not
            # lost whatever the project's setting: a fresh actor (many projects, few commands
            # each) answers a new churn without reading the project row.
            a_day_ago = utcnow() - dt.timedelta(days=1)
            recent = event.churned_at is not None and event.churned_at >= a_day_ago
            return churn_json(event, a_day_ago if recent else self.lost_cutoff()), created

    def mark_recovered(self, event_id: str, recovered_mrr_cents: int | None) -> dict:
        with unit_of_work():
            event = store.mark_recovered(self.project_id, event_id, recovered_mrr_cents)
            return churn_json(event, self.lost_cutoff())

    def update_cancel_reason(self, event_id: str, reason: str, detail: str | None, detail_given: bool) -> dict:
        with unit_of_work():
            event = store.change_cancel_reason(self.project_id, event_id, reason, detail, detail_given)
            return churn_json(event, self.lost_cutoff())
