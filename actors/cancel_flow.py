"""Cancel-flow commands of the project actor: the widget's answer changes a churn event."""
from __future__ import annotations

from store import cancel_flow as store
from store.db import unit_of_work


class CancelFlowCommands:
    project_id: str

    def record_cancel_flow_answer(self, answer: dict) -> tuple[dict, bool]:
        """Returns ({churn_event_id, saved}, created)."""
        with unit_of_work():
            event, created = store.record_answer(self.project_id, answer)
            return {"churn_event_id": event.id, "saved": bool(event.saved)}, created
