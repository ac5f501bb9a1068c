"""The project actor: applies one project's state changes one at a time.

Commands are grouped by concept in mixins (`actors/churn_events.py`, ...); each is a plain
method that does one guarded transaction in the store and returns JSON-ready data.
"""
from __future__ import annotations

import pykka

from actors.bridge import BridgedActorMixin
from actors.cancel_flow import CancelFlowCommands
from actors.churn_events import ChurnEventCommands
from actors.payment_recoveries import PaymentRecoveryCommands
from actors.runtime import ActorPool, PooledActor
from actors.variants import VariantCommands
from actors.webhooks import WebhookCommands


class ProjectActor(BridgedActorMixin, ChurnEventCommands, VariantCommands, CancelFlowCommands, WebhookCommands,
                   PaymentRecoveryCommands, PooledActor):
    """Runs on the registry's `ActorPool` (actors/runtime.py): no thread and no database
    connection of its own; its commands use the connection of the pool thread running them."""

    def __init__(self, project_id: str, pool: ActorPool):
        super().__init__(pool)
        self.project_id = project_id


def start_project_actor(project_id: str, pool: ActorPool) -> pykka.ActorRef:
    return ProjectActor.start(project_id, pool)
