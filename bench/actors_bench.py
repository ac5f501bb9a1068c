"""The actor layer alone, without HTTP or authentication: churn-event creates through
`ProjectActors`, 32 in flight, first all for one project, then spread over many projects.

    python bench/actors_bench.py [--database-url URL] [--projects 2000] [--commands 6000]
                                 [--max-actors 256] [--threads 16]

A SQLite file in a temp dir unless --database-url (an empty PostgreSQL database, say). Prints, for
each pattern, commands/s, the process's CPU microseconds per command, its peak threads and
resident memory, and the registry's counters. Numbers go in docs/BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from actors.project import start_project_actor  # noqa: E402
from actors.registry import ProjectActors  # noqa: E402
from store.db import init_database, unit_of_work  # noqa: E402
from store.migrations import migrate_database  # noqa: E402
from store.models import Project  # noqa: E402


def status(field: str) -> int:
    with open("/proc/self/status") as handle:
        return next(int(line.split()[1]) for line in handle if line.startswith(field + ":"))


async def drive(projects: list[str], commands: int, args) -> dict:
    actors = ProjectActors(start_project_actor, timeout=60, max_actors=args.max_actors, threads=args.threads)
    slots = asyncio.Semaphore(32)
    peak_threads = 0

    async def create(n: int) -> None:
        nonlocal peak_threads
        async with slots:
            await actors.project(projects[n % len(projects)]).create_churn_event(
                {"customer_email": f"c{n}-{time.time_ns()}@example.com", "mrr_cents": 4900})
            if n % 100 == 0:
                peak_threads = max(peak_threads, status("Threads"))

    started, cpu = time.monotonic(), time.process_time()
    await asyncio.gather(*(create(n) for n in range(commands)))
    wall, cpu = time.monotonic() - started, time.process_time() - cpu
    stats = actors.stats()
    actors.stop_all()
    return {"commands/s": round(commands / wall), "cpu us/command": round(cpu / commands * 1e6),
            "peak threads": peak_threads, "rss MB": status("VmRSS") // 1024, "actors": stats}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url")
    parser.add_argument("--projects", type=int, default=2000)
    parser.add_argument("--commands", type=int, default=6000)
    parser.add_argument("--max-actors", type=int, default=256)
    parser.add_argument("--threads", type=int, default=16)
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{tempfile.mkdtemp(prefix='windback-actors-')}/bench.db"
    init_database(url, max_connections=args.threads + 8)
    with unit_of_work():
        migrate_database()
        ids = [Project.create(slug=f"actors-bench-{n}", name="Actors bench", public_key=f"pub_live_actors_bench_{n:06d}").id
               for n in range(args.projects)]
    print(f"{url.split(':')[0]}: {args.commands} creates, 32 in flight, max actors {args.max_actors}, "
          f"{args.threads} actor threads", flush=True)
    for label, projects in (("one project", ids[:1]), (f"spread over {args.projects}", ids)):
        print(f"  {label}: {asyncio.run(drive(projects, args.commands, args))}", flush=True)


if __name__ == "__main__":
    main()
