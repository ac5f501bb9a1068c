"""Shared start-up for the command-line scripts: settings, database, schema."""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from config import ConfigError, Settings, load_settings  # noqa: E402
from store.db import init_database, unit_of_work  # noqa: E402
from store.migrations import migrate_database  # noqa: E402


def open_store() -> Settings:
    settings = read_settings()
    init_database(settings.database_url)
    with unit_of_work():
        migrate_database()
    return settings


def read_settings() -> Settings:
    """The settings, or exit 2 with the problem (as the server does)."""
    try:
        return load_settings()
    except ConfigError as error:
        print(f"windback: configuration error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
