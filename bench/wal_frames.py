"""What one churn-event create writes to SQLite's WAL, into one project and spread over many: the
pages (WAL frames) per create and which table or index each belongs to. Unlike requests per
second, these counts do not depend on how busy the machine is, so they compare two schemas (an
index added or dropped) exactly.

    cd CHECKOUT && python /path/to/bench/wal_frames.py [--projects 10000] [--creates 2000]

Builds a SQLite file in a temp dir: `--projects` projects, each with `--history` churn events
already (the steady state of a server serving them: their customers and analytics rows exist).
Then, with checkpoints off, `--creates` creates in transactions of 20 (the size of the actor
pool's shared transaction under load, docs/actors.md): first all into one project, then one per
project in turn. Prints frames per create for each and, for the spread creates, the b-trees
their pages belong to (SQLite's `dbstat` table, where the sqlite3 module has it).
"""
from __future__ import annotations

import argparse
import collections
import os
import sqlite3
import struct
import sys
import tempfile

sys.path.insert(0, os.getcwd())  # the checkout being measured

from store import churn_events, projects, users  # noqa: E402
from store.db import init_database, transaction, unit_of_work, writes_here  # noqa: E402
from store.migrations import migrate_database  # noqa: E402

PAGE_HEADER = 24  # bytes before each page in a WAL frame
WAL_HEADER = 32


def churn(project_id: str, email: str) -> None:
    churn_events.record_churn(project_id, {"customer_email": email, "customer_name": "Casey", "plan": "pro",
                                           "mrr_cents": 4900, "cancel_reason": "too_expensive", "source": "api"})


def frames_written(db, path: str, page_size: int, creates: list[tuple[str, str]]) -> list[int]:
    """Run `creates` (project id, email) in transactions of 20 from an empty WAL; the page number
    of every frame they wrote."""
    db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    for start in range(0, len(creates), 20):
        with transaction():
            for project_id, email in creates[start:start + 20]:
                churn(project_id, email)
    with open(path + "-wal", "rb") as wal:
        data = wal.read()
    frame = PAGE_HEADER + page_size
    return [struct.unpack(">I", data[offset:offset + 4])[0] for offset in range(WAL_HEADER, len(data) - frame + 1, frame)]


def owners(path: str) -> dict[int, str] | None:
    """Page number -> the table or index it belongs to (and whether it is a leaf)."""
    connection = sqlite3.connect(path)
    try:
        rows = connection.execute("SELECT pageno, name, pagetype FROM dbstat").fetchall()
    except sqlite3.OperationalError:  # built without SQLITE_ENABLE_DBSTAT_VTAB
        return None
    finally:
        connection.close()
    return {page: f"{name} ({kind})" for page, name, kind in rows}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--projects", type=int, default=10_000)
    parser.add_argument("--history", type=int, default=3, help="churn events each project has before")
    parser.add_argument("--creates", type=int, default=2_000)
    args = parser.parse_args()
    path = os.path.join(tempfile.mkdtemp(prefix="windback-wal-frames-"), "frames.db")
    db = init_database(f"sqlite:///{path}")
    writes_here()  # the actor pool thread's connection settings
    with unit_of_work():
        migrate_database()
        db.execute_sql("PRAGMA wal_autocheckpoint = 0")
        page_size = db.execute_sql("PRAGMA page_size").fetchone()[0]
        user = users.create_user("frames@example.com", "Frames", "x")
        ids = []
        for start in range(0, args.projects, 200):
            with transaction():
                ids += [projects.create_project(user.id, f"Frames {n}", f"frames-{n}")[0].id
                        for n in range(start, min(start + 200, args.projects))]
        for round_ in range(args.history):
            for start in range(0, len(ids), 200):
                with transaction():
                    for project_id in ids[start:start + 200]:
                        churn(project_id, f"history{round_}@example.com")
        one = frames_written(db, path, page_size, [(ids[0], f"one{n}@example.com") for n in range(args.creates)])
        spread_creates = [(ids[n % len(ids)], f"spread{n}@example.com") for n in range(args.creates)]
        spread = frames_written(db, path, page_size, spread_creates)
    print(f"{args.projects} projects with {args.history} events each; {args.creates} creates in transactions of 20")
    print(f"one project: {len(one) / args.creates:.2f} WAL frames a create")
    print(f"spread:      {len(spread) / args.creates:.2f} WAL frames a create")
    names = owners(path)
    if names is None:
        print("(this sqlite3 module has no dbstat table: no breakdown)")
        return 0
    print("\nspread, frames a create by b-tree:")
    for name, count in collections.Counter(names.get(page, "(freed since)") for page in spread).most_common():
        print(f"  {count / args.creates:5.2f}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
