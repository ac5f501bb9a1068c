"""Webhook commands of the project actor: apply the project's stored webhook events.

Each event is applied in its own transaction by `store.webhook_effects.apply_stored_event`, which
is idempotent (a stored event takes effect once, whoever applies it: this actor, another server
process, or `scripts/replay_webhooks.py`).
"""
from __future__ import annotations

from store import webhooks
from store.db import unit_of_work
from store.webhook_effects import apply_stored_event


class WebhookCommands:
    project_id: str

    def drain_webhooks(self, limit: int = 200) -> int:
        """Apply up to `limit` stored, not yet applied events, oldest provider time first; returns
        how many were looked at (a failed one stays `failed` for the replay script)."""
        with unit_of_work():
            pending = webhooks.pending_ids(self.project_id, limit)
            for webhook_event_id in pending:
                apply_stored_event(webhook_event_id)
        return len(pending)

    def apply_webhook_event(self, webhook_event_id: str) -> str:
        with unit_of_work():
            return apply_stored_event(webhook_event_id)
