"""Hand-written SQL for the hot paths: built once per database and statement shape, bound the
way peewee binds.

Building a statement through peewee costs more CPU than running it (a single-row insert on
SQLite: about 99 us, 44 of them building the SQL; docs/architecture.md, "Hot paths"), so the
busiest statements are built here once. Values are always parameters, each converted by its
field's own `db_value`, so what is written reads back exactly like a row peewee wrote.
"""
from __future__ import annotations

from typing import Callable, Iterable, Sequence

import peewee

from store.db import database

_CACHE: dict[tuple, object] = {}


def cached_sql(key: tuple, build: Callable[[], object]):
    """`build()` once per database and `key`; the result (SQL text, or anything) afterwards."""
    full = (id(database.obj), *key)
    sql = _CACHE.get(full)
    if sql is None:
        sql = _CACHE[full] = build()
    return sql


def bind_value(field: peewee.Field) -> Callable:
    """How peewee converts a Python value of `field` into a query parameter."""
    return field.db_value


def insert_sql(model: type[peewee.Model], names: Sequence[str], rows: int = 1, suffix: str = "") -> str:
    """`INSERT INTO table (columns of the fields `names`) VALUES (...) x rows` + `suffix`."""

    def build() -> str:
        columns = ", ".join(f'"{model._meta.fields[name].column_name}"' for name in names)
        one = "(" + ", ".join([database.obj.param] * len(names)) + ")"
        return f'INSERT INTO "{model._meta.table_name}" ({columns}) VALUES ' + ", ".join([one] * rows) + suffix

    return cached_sql(("insert", model, tuple(names), rows, suffix), build)


def insert_params(model: type[peewee.Model], names: Sequence[str], rows: Iterable[Sequence]) -> list:
    """The parameters of `insert_sql` for `rows` (values in `names` order), as peewee binds them."""
    binders = [bind_value(model._meta.fields[name]) for name in names]
    return [bind(value) for row in rows for bind, value in zip(binders, row)]
