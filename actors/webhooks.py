"""Webhook commands of the project actor: apply the project's stored webhook events.

Each event is applied by `store.webhook_effects.apply_stored_event`, which is idempotent (a stored
event takes effect once, whoever applies it: this actor, another server process, or
`scripts/replay_webhooks.py`) and isolates a failing event in a savepoint.
"""
from __future__ import annotations

from store import webhooks
from store.db import is_sqlite, transaction, unit_of_work
from store.webhook_effects import apply_stored_event

# Events applied per transaction. PostgreSQL pays a durable commit (fsync) per transaction, so a
# burst is applied 25 to a commit; SQLite commits cheaply but lets one writer in at a time, and a
# long transaction here would hold up the group commit that acknowledges deliveries.
PER_TRANSACTION_POSTGRES = 25


class WebhookCommands:
    project_id: str

    def drain_webhooks(self, limit: int = 200) -> int:
        """Apply up to `limit` stored, not yet applied events, oldest provider time first; returns
        how many were looked at (a failed one stays `failed` for the replay script)."""
        with unit_of_work():
            pending = webhooks.pending_ids(self.project_id, limit)
            if is_sqlite():
                for webhook_event_id in pending:
                    apply_stored_event(webhook_event_id)  # a transaction of its own
            else:
                for start in range(0, len(pending), PER_TRANSACTION_POSTGRES):
                    with transaction():  # each event in a savepoint of it
                        for webhook_event_id in pending[start:start + PER_TRANSACTION_POSTGRES]:
                            apply_stored_event(webhook_event_id)
        return len(pending)

