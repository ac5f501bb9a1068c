"""Bring the database of WINDBACK_DATABASE_URL up to the current schema."""
from __future__ import annotations

import _common

from store.db import init_database, unit_of_work
from store.migrations import available, migrate_database


def main() -> int:
    settings = _common.read_settings()
    init_database(settings.database_url)
    with unit_of_work():
        applied = migrate_database()
    latest = available()[-1][1] if available() else "none"
    print(f"schema up to date ({latest}); applied now: {', '.join(applied) or 'nothing'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
