"""The project actor: applies one project's state changes one at a time.

Commands are grouped by concept in mixins (`actors/churn_events.py`, ...); each is a plain
method that does one guarded transaction in the store and returns JSON-ready data.
"""
from __future__ import annotations

import pykka

from actors.billing import BillingCommands
from actors.bridge import BridgedActorMixin, close_thread_connection
from actors.cancel_flow import CancelFlowCommands
from actors.churn_events import ChurnEventCommands
from actors.variants import VariantCommands
from actors.webhooks import WebhookCommands


class ProjectActor(BridgedActorMixin, ChurnEventCommands, VariantCommands, CancelFlowCommands, WebhookCommands,
                   BillingCommands, pykka.ThreadingActor):
    def __init__(self, project_id: str):
        super().__init__()
        self.project_id = project_id

    def on_stop(self) -> None:
        close_thread_connection()


def start_project_actor(project_id: str) -> pykka.ActorRef:
    return ProjectActor.start(project_id)
