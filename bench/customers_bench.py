"""The customers list on a big project: 1,000,000 tracked events of 20,000 customers.

    python bench/customers_bench.py [--database-url sqlite:////tmp/customers-bench.db]
                                    [--events 1000000] [--customers 20000] [--runs 30]

Seeds a fresh database (the default is a new SQLite file) through the same write path as
`/track` (tracked rows plus their daily counts, 5,000 events a transaction), scores every
customer once as the housekeeping would (timed: that is the daily re-scoring), then starts
`server.py` on it and times GET /customers (several sorts and filters) and one customer with its
timeline over HTTP from this process. Prints a Markdown table for docs/BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from services.security import hash_password_sync  # noqa: E402
from store import customer_scores, projects, tracking, users  # noqa: E402
from store.db import database, init_database, is_sqlite, transaction, unit_of_work  # noqa: E402
from store.migrations import migrate_database  # noqa: E402
from store.models import utcnow  # noqa: E402

NAMES = ("login", "report_viewed", "export_used", "dashboard_viewed", "invoice_created", "billing_page_viewed")
PASSWORD = "bench-password"


def seed(event_count: int, customer_count: int) -> tuple[str, str]:
    rng = random.Random(1)
    now = utcnow()
    with unit_of_work():
        migrate_database()
        if is_sqlite():
            database.obj.execute_sql("PRAGMA cache_size = -262144")
        user = users.create_user(f"bench-{os.getpid()}@example.com", "Bench", hash_password_sync(PASSWORD, 4))
        project, _ = projects.create_project(user.id, "Customers bench", f"customers-bench-{os.getpid()}")
        started = time.perf_counter()
        batch: list[dict] = []
        for n in range(event_count):
            customer = rng.randrange(customer_count)
            ago = rng.random() * 60 * (0.3 if customer % 5 == 0 else 1)  # a fifth stay busy lately
            batch.append({"event": rng.choice(NAMES), "customer_id": f"cus_{customer:06d}",
                          "customer_email": f"c{customer}@example.com", "properties_json": "{}",
                          "timestamp": now - dt.timedelta(days=ago)})
            if len(batch) == 5000 or n == event_count - 1:
                with transaction():
                    tracking.write_batch([tracking.rows_for(project.id, batch)])
                batch = []
        seeded = time.perf_counter() - started
        if is_sqlite():
            database.obj.execute_sql("ANALYZE")
        started = time.perf_counter()
        customer_scores.refresh_project(project.id, {}, now)  # writes the held-back rows first
        scored = time.perf_counter() - started
    print(f"seeded {event_count} events of {customer_count} customers in {seeded:.1f} s; "
          f"scored every customer in {scored:.1f} s", file=sys.stderr)
    return user.email, project.slug


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(url: str, token: str | None = None, body: dict | None = None) -> dict:
    request = urllib.request.Request(url, data=json.dumps(body).encode() if body else None,
                                     headers={"Content-Type": "application/json",
                                              **({"Authorization": f"Bearer {token}"} if token else {})})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", default=f"sqlite:///{tempfile.mktemp(prefix='customers-bench-', suffix='.db')}")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    init_database(args.database_url)
    email, slug = seed(args.events, args.customers)
    database.obj.close()
    port = free_port()
    env = {**os.environ, "WINDBACK_DATABASE_URL": args.database_url, "WINDBACK_PORT": str(port),
           "WINDBACK_RATE_LIMIT_SCALE": "0", "WINDBACK_LOG_LEVEL": "warning"}
    server = subprocess.Popen([sys.executable, os.path.join(ROOT, "server.py")], env=env, cwd=ROOT)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                call(base + "/health")
                break
            except OSError:
                time.sleep(0.1)
        token = call(base + "/api/v1/auth/login", body={"email": email, "password": PASSWORD})["data"]["token"]
        listing = f"{base}/api/v1/projects/{slug}/customers"
        first = call(listing, token)["data"][0]["key"]
        cases = [("customers (risk_score desc)", ""), ("level=high", "?level=high"),
                 ("sort=last_seen_at", "?sort=last_seen_at"), ("sort=mrr_cents&order=asc", "?sort=mrr_cents&order=asc"),
                 ("q=cus_01 (prefix)", "?q=cus_01"), ("page=500", "?page=500"), ("one customer + timeline", "/" + first)]
        print(f"| request ({args.events:,} events, {args.customers:,} customers) | median ms | p95 ms |")
        print("|---|---:|---:|")
        for label, suffix in cases:
            times = []
            for _ in range(args.runs):
                started = time.perf_counter()
                call(listing + suffix, token)
                times.append((time.perf_counter() - started) * 1000)
            times.sort()
            print(f"| {label} | {statistics.median(times):.1f} | {times[int(len(times) * 0.95) - 1]:.1f} |")
    finally:
        server.terminate()
        server.wait(10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
