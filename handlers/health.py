"""`GET /health`: database reachable, actors running (and what happened to them), version. No auth."""
from __future__ import annotations

from config import VERSION
from handlers.access import PUBLIC
from handlers.base import BaseHandler
from handlers.errors import ApiError
from handlers.responses import HEALTH_OUT, Returns
from store.db import database, run_db


def _ping() -> bool:
    database.obj.execute_sql("SELECT 1").fetchone()
    return True


class HealthHandler(BaseHandler):
    rules = {"GET": PUBLIC}
    response_schemas = {"GET": Returns(HEALTH_OUT)}

    async def get(self):
        """Database reachable, actors running, version (no authentication)."""
        try:
            await run_db(_ping)
        except Exception:
            raise ApiError(503, "UNAVAILABLE", "The database is not reachable") from None
        stats = self.ctx.actors.stats()
        await self.reply({"status": "ok", "database": "ok", "actors": stats["live"], "version": VERSION,
                          "actor_stats": stats})


default_handlers = [(r"/health", HealthHandler)]
