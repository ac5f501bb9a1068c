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


class Prepared:
    """A peewee query built once per database and shape with named slots, then run with values:
    the SQL peewee wrote, without paying for the writing again.

        stmt = prepared(("claim",), lambda slot: Model.update(n=Model.n + 1).where(Model.id == slot("id")),
                        id=Model.id)
        rows = stmt.rows(Model, id=event_id)

    `build(slot)` returns the query; `slot(name)` stands for a value given at run time, bound by the
    field named for it in `binders` (as peewee would bind it), or as it is. Values written into the
    query itself (constants) stay parameters of their own, as peewee made them.
    """

    def __init__(self, build: Callable, binders: dict[str, peewee.Field]):
        marks: dict[str, str] = {}

        def slot(name: str) -> peewee.Value:
            marks[name] = f"\x00slot:{name}\x00"
            return peewee.Value(marks[name], converter=False)

        self.sql, params = build(slot).sql()
        names = {mark: name for name, mark in marks.items()}
        # Per parameter: (slot name, its binder) or (None, the constant peewee bound).
        self._plan = [(names[p], bind_value(binders[names[p]]) if names[p] in binders else None)
                      if isinstance(p, str) and p in names else (None, p) for p in params]

    def params(self, values: dict) -> list:
        out = []
        for name, binder in self._plan:
            if name is None:
                out.append(binder)  # a constant
            else:
                out.append(binder(values[name]) if binder else values[name])
        return out

    def execute(self, **values):
        """Run it; the driver's cursor (rowcount, fetchall)."""
        return database.obj.execute_sql(self.sql, self.params(values))

    def rows(self, model: type[peewee.Model], **values) -> list:
        """Run a SELECT (or an UPDATE ... RETURNING) and read its rows as `model` instances."""
        return list(model.raw(self.sql, *self.params(values)))


def prepared(key: tuple, build: Callable, **binders: peewee.Field) -> Prepared:
    """The `Prepared` statement for `key`, built on first use for the current database."""
    return cached_sql(("prepared", *key), lambda: Prepared(build, binders))
