"""Customers' risk scores kept current, and the one place that hears "the level became high".

Scores are computed in the store from daily counts (store/customer_scores.py). This module runs
that work off the IOLoop, for one project before its customers are read and for every project
from the server's housekeeping, and passes each customer whose level turned `high` to
`customer_became_high_risk`.
"""
from __future__ import annotations

import logging

from store import customer_scores
from store.customer_views import customer_json
from store.db import run_db
from store.projects import project_settings

log = logging.getLogger("windback.customers")

# Customers scored on a read before answering; the rest wait for housekeeping (once a minute).
READ_REFRESH_LIMIT = 2000


def customer_became_high_risk(ctx, project_id: str, customer: dict) -> None:
    """A customer's risk level became `high` (after the change committed; its `customer.at_risk`
    outbound event was queued in that transaction by `store.customer_scores`)."""
    log.info("customer %s of project %s is now at high risk (score %s)", customer["key"], project_id,
             customer["risk"]["score"])


def _announce(ctx, project_id: str, customers) -> None:
    for customer in customers:
        customer_became_high_risk(ctx, project_id, customer_json(customer))


async def refresh_project(ctx, project) -> None:
    """Score the project's customers whose activity or day changed since they were last scored."""
    became_high = await run_db(customer_scores.refresh_project, project.id, project_settings(project),
                               None, READ_REFRESH_LIMIT)
    _announce(ctx, project.id, became_high)


async def refresh_all(ctx) -> None:
    """Every project's due customers (the server's housekeeping calls this once a minute)."""
    for project_id, became_high in (await run_db(customer_scores.refresh_due)).items():
        _announce(ctx, project_id, became_high)
