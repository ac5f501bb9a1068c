"""HTTP handlers. Each module has a `default_handlers` list of (route, handler) pairs; the
application is the concatenation of `HANDLER_MODULES` in order."""
from __future__ import annotations

import importlib

HANDLER_MODULES = [
    "handlers.health",
    "handlers.auth",
    "handlers.projects",
    "handlers.churn_events",
    "handlers.variants",
    "handlers.unsubscribe",
    "handlers.team",
    "handlers.google_auth",
    "handlers.cancel_flow",
    "handlers.widget",
    "handlers.track",
    "handlers.customers",
    "handlers.analytics",
    "handlers.payment_recoveries",
    "handlers.campaigns",
    "handlers.webhooks",
    "handlers.billing",
    "handlers.offers",
    "handlers.outbound_webhooks",
    "handlers.dashboard",
    "handlers.openapi",
]


def all_routes() -> list[tuple]:
    routes = []
    for name in HANDLER_MODULES:
        routes.extend(importlib.import_module(name).default_handlers)
    return routes
