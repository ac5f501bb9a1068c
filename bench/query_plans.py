"""The query plans of every statement that reads or changes churn events on a hot path, on a
seeded database: which index each one uses (docs/BENCHMARKS.md, "Indexes on churn_events").

    python bench/query_plans.py [--database-url URL] [--events 20000]

Seeds `scripts/seed_demo.py --events N` into a fresh database (a SQLite file in a temp dir unless
--database-url names an empty one), runs each operation once with peewee's statement log on,
and prints every statement with its plan (SQLite `EXPLAIN QUERY PLAN`, PostgreSQL `EXPLAIN`).
"""
from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from store import analytics, analytics_rollups, analytics_scan, churn_event_reads, churn_events, webhooks  # noqa: E402
from store.analytics_months import add_months, month_start  # noqa: E402
from store.db import database, init_database, is_sqlite, refresh_statistics, unit_of_work  # noqa: E402
from store.models import ChurnEvent, Project  # noqa: E402
from store.webhook_effects import email_known_for  # noqa: E402


class Statements(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.seen: list[tuple[str, tuple]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if isinstance(record.msg, tuple) and len(record.msg) == 2:
            self.seen.append((record.msg[0], tuple(record.msg[1] or ())))


def operations(project_id: str, email: str, customer_id: str):
    now = dt.datetime.utcnow()
    scope = analytics.Scope(project_id, 90)
    yield "list: first page, newest first", lambda: churn_event_reads.list_events(
        project_id, {}, "created_at", "desc", 0, 20)
    yield "list: status=new", lambda: churn_event_reads.list_events(project_id, {"status": "new"}, "created_at",
                                                                    "desc", 0, 20)
    yield "list: customer_email", lambda: churn_event_reads.list_events(
        project_id, {"customer_email": email}, "created_at", "desc", 0, 20)
    yield "list: sort=mrr_cents (no index of its own)", lambda: churn_event_reads.list_events(
        project_id, {}, "mrr_cents", "desc", 0, 20)
    yield "create: the customer's open event", lambda: churn_events.find_open_event(project_id, email, customer_id)
    yield "webhook: email known for a customer id", lambda: email_known_for(project_id, customer_id)
    yield "webhook: the customer's history", lambda: list(ChurnEvent.select().where(
        ((ChurnEvent.project == project_id) & (ChurnEvent.customer_email == email))
        | ((ChurnEvent.project == project_id) & (ChurnEvent.customer_id == customer_id))))
    yield "webhook: an unmatched recovery of the customer", lambda: webhooks.pending_recovery(
        project_id, customer_id, email, now - dt.timedelta(days=30))
    yield "sweep: open events past the cutoff", lambda: churn_events.sweep_lost(now - dt.timedelta(days=3650))
    yield "analytics: stats (rollups)", lambda: analytics_rollups.stats(scope, now)
    yield "analytics: cohorts (rollups)", lambda: analytics_rollups.cohorts(scope, add_months(month_start(now), -11), 12)
    yield "analytics: forecasting (rollups)", lambda: analytics_rollups.forecast(scope, now, 3)
    yield "analytics: full scan, stats groups", lambda: analytics_scan.event_groups(scope, now)
    yield "analytics: full scan, recoveries by email kind", lambda: analytics_scan.recoveries_by_kind(scope)
    yield "analytics: full scan, emails sent by kind", lambda: analytics_scan.emails_sent_by_kind(scope)


def explain(sql: str, params: tuple) -> list[str]:
    db = database.obj
    if is_sqlite():
        return [row[-1] for row in db.execute_sql("EXPLAIN QUERY PLAN " + sql, params).fetchall()]
    return [row[0] for row in db.execute_sql("EXPLAIN " + sql, params).fetchall()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url")
    parser.add_argument("--events", type=int, default=20_000)
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{tempfile.mkdtemp(prefix='windback-plans-')}/plans.db"
    env = {**os.environ, "WINDBACK_DATABASE_URL": url, "WINDBACK_BCRYPT_ROUNDS": "4",
           "WINDBACK_SECRET": "plans-secret-0123456789abcdef0123456789"}
    subprocess.run([sys.executable, "scripts/seed_demo.py", "--events", str(args.events), "--slug", "plans",
                    "--email", "plans@windback.local"], cwd=ROOT, env=env, check=True, capture_output=True)
    init_database(url)
    refresh_statistics()
    with unit_of_work():
        project = Project.get(Project.slug == "plans")
        sample = ChurnEvent.select().where((ChurnEvent.project == project.id) & ChurnEvent.customer_id.is_null(False)
                                           ).order_by(ChurnEvent.created_at.desc()).first()
        email, customer_id = sample.customer_email, sample.customer_id
        indexes = ([row[0] for row in database.obj.execute_sql(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'churn_events'")] if is_sqlite()
            else [row[0] for row in database.obj.execute_sql(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'churn_events'")])
        print(f"{url.split('://')[0]}, {args.events} churn events; indexes on churn_events ({len(indexes)}):")
        for name in sorted(indexes):
            print(f"  {name}")
        logger = logging.getLogger("peewee")
        logger.setLevel(logging.DEBUG)
        for title, run in operations(project.id, email, customer_id):
            handler = Statements()
            logger.addHandler(handler)
            try:
                with database.obj.atomic() as transaction:
                    run()
                    transaction.rollback()  # the sweep changes rows: leave the data as seeded
            finally:
                logger.removeHandler(handler)
            print(f"\n## {title}")
            for sql, params in handler.seen:
                if not sql.lstrip().upper().startswith(("SELECT", "UPDATE", "WITH")):
                    continue
                print(f"  {sql[:160]}{'...' if len(sql) > 160 else ''}")
                for line in explain(sql, params):
                    print(f"    {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
