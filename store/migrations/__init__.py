"""Schema versioning.

Each migration is a module `mNNNN_name.py` in this package with a function `up(db)`. They run in
order, each in its own transaction, and the applied versions are recorded in
`schema_migrations`, so `scripts/migrate.py` (and the server at start) brings any database up to
date. A new column is one migration calling `add_columns(Model, "field")`; never a hand-run SQL step.
"""
from __future__ import annotations

import importlib
import logging
import pkgutil
import re

import peewee
from playhouse.migrate import PostgresqlMigrator, SqliteMigrator, migrate

from store.db import database, unit_of_work
from store.models import utcnow

log = logging.getLogger("windback.migrate")
_NAME = re.compile(r"^m(\d{4})_\w+$")


class SchemaMigration(peewee.Model):
    version = peewee.IntegerField(primary_key=True)
    name = peewee.CharField(max_length=200)
    applied_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        database = database
        table_name = "schema_migrations"


def available() -> list[tuple[int, str, object]]:
    found = []
    for info in pkgutil.iter_modules(__path__):
        match = _NAME.match(info.name)
        if match:
            found.append((int(match.group(1)), info.name, importlib.import_module(f"{__name__}.{info.name}")))
    return sorted(found)


def add_columns(model: type[peewee.Model], *field_names: str) -> None:
    """Add model fields to an existing table; a column that is already there is left alone."""
    db = database.obj
    table = model._meta.table_name
    existing = {c.name for c in db.get_columns(table)}
    migrator = SqliteMigrator(db) if isinstance(db, peewee.SqliteDatabase) else PostgresqlMigrator(db)
    ops = []
    for name in field_names:
        field = model._meta.fields[name]
        if field.column_name not in existing:
            ops.append(migrator.add_column(table, field.column_name, field))
    if ops:
        migrate(*ops)


def migrate_database() -> list[str]:
    """Apply every pending migration; return the names applied."""
    applied_now = []
    with unit_of_work() as db:
        db.create_tables([SchemaMigration], safe=True)
        is_pg = not isinstance(db, peewee.SqliteDatabase)
        for version, name, module in available():
            with db.atomic():
                if is_pg:
                    # One process migrates at a time; the others wait, then see the row.
                    db.execute_sql("SELECT pg_advisory_xact_lock(727274)")
                if SchemaMigration.get_or_none(SchemaMigration.version == version):
                    continue
                module.up(db)
                SchemaMigration.create(version=version, name=name)
            applied_now.append(name)
            log.info("applied migration %s", name)
    return applied_now
