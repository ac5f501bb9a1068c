"""The project actor: applies one project's state changes one at a time.

Commands are grouped by concept in mixins (`actors/churn_events.py`, ...); each is a plain
method that does one guarded transaction in the store and returns JSON-ready data.
"""
from __future__ import annotations

import pykka

from actors.bridge import BridgedActorMixin
from actors.cancel_flow import CancelFlowCommands
from actors.churn_events import ChurnEventCommands
from actors.variants import VariantCommands


class ProjectActor(BridgedActorMixin, ChurnEventCommands, VariantCommands, CancelFlowCommands,
                   pykka.ThreadingActor):
    def __init__(self, project_id: str):
        super().__init__()
        self.project_id = project_id

    def on_stop(self) -> None:
        from store.db import database

        db = database.obj
        if db is not None and not db.is_closed() and not hasattr(db, "close_all"):
            db.close()  # this thread's SQLite connection


def start_project_actor(project_id: str) -> pykka.ActorRef:
    return ProjectActor.start(project_id)
