"""What the durable scheduler costs when nothing is due: an idle server's CPU with no scheduled
jobs and with 10,000 waiting (due next week).

    python bench/scheduler_idle.py [--seconds 30] [--waiting 10000] [--database-url URL]

Starts Windback server (temp SQLite unless `--database-url`, an empty database), measures its
CPU (user + system, all threads, /proc) over `--seconds` of idling, inserts `--waiting`
dunning-email jobs due in 7 days (straight into `scheduled_jobs`, as recoveries would), and
measures again. The server polls every second (WINDBACK_SCHEDULER_POLL_SECONDS), and its
minute-long housekeeping also runs in both windows.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.dunning_burst import cpu_seconds, start_server  # noqa: E402
from store.db import init_database, transaction, unit_of_work  # noqa: E402
from store.models import new_id, utcnow  # noqa: E402
from store.scheduled_jobs import ScheduledJob  # noqa: E402


def idle_cpu(pid: int, seconds: float) -> float:
    before = cpu_seconds(pid)
    time.sleep(seconds)
    return (cpu_seconds(pid) - before) / seconds * 1000  # ms of CPU per second


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--waiting", type=int, default=10000)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    server, _, url = start_server(tempfile.mkdtemp(prefix="windback-idle-bench-"), args.database_url)
    try:
        time.sleep(2)
        none = idle_cpu(server.pid, args.seconds)
        init_database(url)
        due = utcnow() + dt.timedelta(days=7)
        rows = [{"id": new_id("job"), "kind": "dunning_email", "project": None, "ref": new_id("pr"),
                 "payload": json.dumps({"step": 0}), "due_at": due + dt.timedelta(seconds=i), "status": "scheduled",
                 "attempts": 0, "created_at": utcnow()} for i in range(args.waiting)]
        with unit_of_work(), transaction():
            for start in range(0, len(rows), 500):
                ScheduledJob.insert_many(rows[start:start + 500]).execute()
        time.sleep(2)
        waiting = idle_cpu(server.pid, args.seconds)
        db = "PostgreSQL" if args.database_url else "SQLite"
        print(f"idle server, {db}, {args.seconds:.0f} s each, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
              f"load {open('/proc/loadavg').read().split()[:3]}")
        print(f"  no scheduled jobs:           {none:.2f} ms CPU per second")
        print(f"  {args.waiting:,} jobs waiting (next week): {waiting:.2f} ms CPU per second")
    finally:
        server.terminate()
        server.wait(30)


if __name__ == "__main__":
    main()
