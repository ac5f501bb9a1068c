"""CPU time of `/track`'s write path without HTTP: `store.tracking.write_batch` as the group
committer calls it (8 one-event requests a transaction), with and without the customer tables.

    cd CHECKOUT && python bench/track_write_costs.py [new|known|events_only] [N]

`new`: a new customer every event (the dearest case: the customer's row and its index entries);
`known`: 500 customers in turn (a day's count upserted, the row written at most once a minute);
`events_only`: the tracked-events insert alone, what `/track` wrote before customers existed.
Prints thread CPU µs per event for five rounds on a fresh SQLite file; read the lowest (the
round least disturbed by the rest of the machine).
"""
from __future__ import annotations

import datetime as dt
import os
import sys
import tempfile
import time

sys.path.insert(0, os.getcwd())  # the checkout being measured

from store import tracking  # noqa: E402
from store.db import database, init_database, transaction, unit_of_work  # noqa: E402
from store.migrations import migrate_database  # noqa: E402
from store.models import Project  # noqa: E402
from store.raw_sql import insert_params, insert_sql  # noqa: E402


def main() -> None:
    mode = sys.argv[1] if len(sys.argv) > 1 else "new"
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 4000
    init_database(f"sqlite:///{tempfile.mkdtemp()}/track.db")
    with unit_of_work():
        migrate_database()
        project_id = Project.create(slug="bench", name="bench", public_key="pk_bench").id
    rounds = []
    for r in range(5):
        started = time.thread_time()
        for b in range(n // 8):
            now = dt.datetime.utcnow()
            requests = []
            for k in range(8):
                i = r * n + b * 8 + k
                customer = f"cus_{i}" if mode != "known" else f"cus_{i % 500}"
                requests.append([(project_id, "page_view", customer, None, "{}", now, now)])
            with unit_of_work(), transaction():
                if mode == "events_only":
                    rows = [row for request in requests for row in request]
                    database.obj.execute_sql(insert_sql(tracking.TrackedEvent, tracking.FIELDS, len(rows)),
                                             insert_params(tracking.TrackedEvent, tracking.FIELDS, rows))
                else:
                    tracking.write_batch(requests)
        rounds.append((time.thread_time() - started) / n * 1e6)
    print(f"{mode}: µs per event, five rounds: {[round(x) for x in rounds]}; lowest {round(min(rounds))}")


if __name__ == "__main__":
    main()
