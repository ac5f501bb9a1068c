"""Churn-event commands of the project actor: where a churn event changes state."""
from __future__ import annotations

from store import churn_events as store
from store.db import unit_of_work


class ChurnEventCommands:
    project_id: str

    def create_churn_event(self, fields: dict) -> tuple[dict, bool]:
        with unit_of_work():
            event, created = store.record_churn(self.project_id, fields)
            return store.event_json(self.project_id, event), created

    def mark_recovered(self, event_id: str, recovered_mrr_cents: int | None) -> dict:
        with unit_of_work():
            event = store.mark_recovered(self.project_id, event_id, recovered_mrr_cents)
            return store.event_json(self.project_id, event)

    def update_cancel_reason(self, event_id: str, reason: str, detail: str | None, detail_given: bool) -> dict:
        with unit_of_work():
            event = store.update_cancel_reason(self.project_id, event_id, reason, detail, detail_given)
            return store.event_json(self.project_id, event)
