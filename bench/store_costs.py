"""CPU time of the store's write-path operations, without HTTP: what a create, a repeated churn,
a 20-event page and a Stripe churn delivery cost in the database layer.

    cd CHECKOUT && python /path/to/bench/store_costs.py [N]   (N operations per round, default 400)

Runs in one thread on a SQLite file in a temp dir (2,000 events first) and prints the thread CPU
time per operation, the lowest of five rounds: on a shared machine the minimum is the figure least
disturbed by the others. It imports the checkout it is started in, and runs from an older one too
(for before/after figures), so it falls back to the names modules had there.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import sys
import tempfile
import time

sys.path.insert(0, os.getcwd())  # the checkout being measured

from store import churn_events, projects, users, webhooks  # noqa: E402
from store.db import init_database, refresh_statistics, transaction, unit_of_work  # noqa: E402
from store.migrations import migrate_database  # noqa: E402
from store.webhook_effects import apply_stored_event  # noqa: E402

try:
    from store.churn_event_reads import list_events  # noqa: E402
except ImportError:  # before the reads had a module of their own
    from store.churn_events import list_events  # noqa: E402


def stripe_churn(n: str) -> str:
    return json.dumps({
        "id": f"evt_{n}", "object": "event", "type": "customer.subscription.deleted", "created": int(time.time()),
        "data": {"object": {
            "id": f"sub_{n}", "object": "subscription", "customer": f"cus_{n}", "status": "canceled",
            "currency": "usd", "metadata": {"email": f"w{n}@example.com"}, "cancel_at_period_end": False,
            "items": {"object": "list", "data": [{"id": "si", "object": "subscription_item", "quantity": 1, "price": {
                "id": "price", "object": "price", "unit_amount": 4900, "currency": "usd",
                "recurring": {"interval": "month", "interval_count": 1}}}]}}}})


def main() -> int:
    per_round = int(sys.argv[1]) if len(sys.argv) > 1 else 400
    init_database(f"sqlite:///{tempfile.mkdtemp(prefix='windback-store-costs-')}/costs.db")
    with unit_of_work():
        migrate_database()
        user = users.create_user("costs@example.com", "Costs", "x")
        project_id = projects.create_project(user.id, "Costs", "costs")[0].id
        for i in range(2000):
            with transaction():
                churn_events.record_churn(project_id, {"customer_email": f"warm{i}@example.com", "mrr_cents": 4900,
                                                       "source": "api"})
    refresh_statistics()
    run = secrets.token_hex(3)
    cutoff = dt.datetime.utcnow() - dt.timedelta(days=90)
    deliveries = iter(range(10**9))

    def create(i):
        with transaction():
            churn_events.record_churn(project_id, {
                "customer_email": f"c{run}{i}-{secrets.token_hex(3)}@example.com", "mrr_cents": 4900, "source": "api",
                "customer_name": "Casey", "plan": "pro", "cancel_reason": "too_expensive"})

    def repeat(i):
        with transaction():
            churn_events.record_churn(project_id, {"customer_email": f"warm{i % 2000}@example.com",
                                                   "mrr_cents": 5900 + i, "source": "api"})

    def page(i):
        list_events(project_id, {}, "created_at", "desc", 0, 20, cutoff)

    def delivery(i):
        n = f"{run}{next(deliveries)}"
        with transaction():
            stored = webhooks.store_deliveries([webhooks.Delivery(project_id, "stripe", f"evt_{n}",
                                                                  "customer.subscription.deleted", stripe_churn(n),
                                                                  None)])
        assert apply_stored_event(stored[0].id) == "processed"

    best: dict[str, float] = {}
    for _ in range(5):
        for label, operation in (("create", create), ("repeat churn", repeat), ("list 20", page),
                                 ("stripe churn delivery", delivery)):
            with unit_of_work():
                started = time.thread_time()
                for i in range(per_round):
                    operation(i)
                cost = (time.thread_time() - started) / per_round * 1e6
            best[label] = min(best.get(label, float("inf")), cost)
    print(" | ".join(f"{label} {cost:.0f} us" for label, cost in best.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
