"""Analytics rollups: the counts the stats, cohorts and forecasting endpoints add up, kept per
project, month and currency, and changed in the same transaction as the churn event, email or
cancel-flow answer that moves them (docs/analytics.md, "Rollups"). Never rebuilt on a read;
store/rollup_rebuild.py rebuilds and verifies them against a full count.

Three tables:

- `analytics_rollups`: one row per (churn month, currency, reason, source, stored status,
  recovery month) with the events, their MRR, the MRR won back and how many came back within
  7/30/60/90 days. Every churn event is counted in exactly one row; a change of the event moves it.
- `analytics_open_days`: open events per churn *day*, currency and status: which open events
  read as `lost` depends on the time of the read (lost_after_days), to the day and below.
- `analytics_activity`: emails sent and recoveries credited per strategy and tone, and
  cancel-flow answers, by the month and currency of their churn event.

Every change is an upsert-increment (`INSERT ... ON CONFLICT DO UPDATE SET n = n + excluded.n`),
on SQLite and PostgreSQL alike; concurrent increments of one row queue on its row lock. Rows are
written in key order, so two transactions never take the same rows in opposite orders.
"""
from __future__ import annotations

import peewee
from peewee import fn

from store.analytics_sql import WINDOWS_DAYS, day_key, month_key, recovered_within, timestamp
from store.db import database, is_sqlite, transaction
from store.models import OPEN_STATUSES, BaseModel, ChurnEvent, Project
from store.raw_sql import cached_sql, prepared

# The churn-event columns a rollup depends on: a transition that sets none of them moves nothing.
ROLLUP_COLUMNS = frozenset({"status", "mrr_cents", "currency", "cancel_reason", "source", "churned_at",
                            "recovered_at", "recovered_mrr_cents"})
NO_REASON = ""  # cancel_reason null, as a key (a null never matches ON CONFLICT)


class ChurnRollup(BaseModel):
    project = peewee.ForeignKeyField(Project, on_delete="CASCADE", index=False)
    month = peewee.IntegerField()  # of churned_at: 202503
    currency = peewee.CharField(max_length=3)
    cancel_reason = peewee.CharField(max_length=32)  # "" when none
    source = peewee.CharField(max_length=16)
    status = peewee.CharField(max_length=16)  # as stored (open events past the cut-off read as lost)
    recovered_month = peewee.IntegerField()  # of recovered_at when recovered, else 0
    events = peewee.BigIntegerField(default=0)
    mrr_cents = peewee.BigIntegerField(default=0)
    recovered_mrr_cents = peewee.BigIntegerField(default=0)  # of recovered events only
    within_7 = peewee.BigIntegerField(default=0)
    within_30 = peewee.BigIntegerField(default=0)
    within_60 = peewee.BigIntegerField(default=0)
    within_90 = peewee.BigIntegerField(default=0)

    class Meta:
        table_name = "analytics_rollups"
        indexes = ((("project", "month", "currency", "cancel_reason", "source", "status", "recovered_month"), True),)


class OpenDayRollup(BaseModel):
    project = peewee.ForeignKeyField(Project, on_delete="CASCADE", index=False)
    day = peewee.IntegerField()  # of churned_at: 20250309
    currency = peewee.CharField(max_length=3)
    status = peewee.CharField(max_length=16)  # an open status
    events = peewee.BigIntegerField(default=0)

    class Meta:
        table_name = "analytics_open_days"
        indexes = ((("project", "day", "currency", "status"), True),)


class ActivityRollup(BaseModel):
    project = peewee.ForeignKeyField(Project, on_delete="CASCADE", index=False)
    month = peewee.IntegerField()  # of the churn event's churned_at
    currency = peewee.CharField(max_length=3)  # of the churn event
    kind = peewee.CharField(max_length=12)  # sent | credited | submission
    strategy = peewee.CharField(max_length=32)  # "" for submissions
    tone = peewee.CharField(max_length=16)
    count = peewee.BigIntegerField(default=0)

    class Meta:
        table_name = "analytics_activity"
        indexes = ((("project", "month", "currency", "kind", "strategy", "tone"), True),)


MODELS = [ChurnRollup, OpenDayRollup, ActivityRollup]
CUBE_KEYS = ("project", "month", "currency", "cancel_reason", "source", "status", "recovered_month")
CUBE_VALUES = ("events", "mrr_cents", "recovered_mrr_cents", "within_7", "within_30", "within_60", "within_90")
DAY_KEYS = ("project", "day", "currency", "status")
ACTIVITY_KEYS = ("project", "month", "currency", "kind", "strategy", "tone")
_TABLES = {ChurnRollup: (CUBE_KEYS, CUBE_VALUES), OpenDayRollup: (DAY_KEYS, ("events",)),
           ActivityRollup: (ACTIVITY_KEYS, ("count",))}


# --- one writer of a project's rollups at a time (PostgreSQL) -------------------------------------
# Row locks on the shared rollup rows, taken in different orders by two processes' transactions
# (a batch of commands, a send and a recovery), deadlocked (tests/test_campaign_processes.py, two
# servers on one database). Every transaction that moves a project's rollups first takes this
# advisory lock, held until it ends, so their rollup row locks never interleave. SQLite lets one
# writer in at a time anyway.
_LOCK_CLASS = 727275  # first key of the two-key advisory lock space (migrations use a one-key lock)


def serialize_project(project_id: str) -> None:
    if not is_sqlite():
        database.obj.execute_sql("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_LOCK_CLASS, project_id))


def _serialize_event(event_id: str) -> None:
    if not is_sqlite():
        database.obj.execute_sql("SELECT pg_advisory_xact_lock(%s, hashtext(project_id)) FROM churn_events "
                                 "WHERE id = %s", (_LOCK_CLASS, event_id))


# --- applying increments -------------------------------------------------------------------------

def _upsert_sql(model, rows: int) -> str:
    keys, values = _TABLES[model]

    def build() -> str:
        table = model._meta.table_name
        column = {name: model._meta.fields[name].column_name for name in keys + values}
        names = ", ".join(f'"{column[n]}"' for n in keys + values)
        one = "(" + ", ".join([database.obj.param] * (len(keys) + len(values))) + ")"
        target = ", ".join(f'"{column[n]}"' for n in keys)
        sets = ", ".join(f'"{column[n]}" = "{table}"."{column[n]}" + excluded."{column[n]}"' for n in values)
        return (f'INSERT INTO "{table}" ({names}) VALUES {", ".join([one] * rows)} '
                f"ON CONFLICT ({target}) DO UPDATE SET {sets}")

    return cached_sql(("rollup-upsert", model, rows), build)


def apply(model, deltas: dict[tuple, list]) -> None:
    """Add `deltas` (key tuple in the table's key order -> values) to `model`'s rows; all-zero
    deltas are skipped. One statement for all of them (at most 500 rows a statement)."""
    rows = sorted((key, values) for key, values in deltas.items() if any(values))
    for start in range(0, len(rows), 500):
        chunk = rows[start:start + 500]
        params = [v for key, values in chunk for v in (*key, *values)]
        database.obj.execute_sql(_upsert_sql(model, len(chunk)), params)


def _add(deltas: dict, key: tuple, values, sign: int = 1) -> None:
    current = deltas.get(key)
    if current is None:
        deltas[key] = [sign * v for v in values]
    else:
        for i, v in enumerate(values):
            current[i] += sign * v


# --- what one churn event contributes ----------------------------------------------------------------

def facts(row: dict, windows=None) -> dict:
    """The rollup-relevant values of a churn event (a row's column values); `windows`: its
    recovered-within flags as the database computes them (store.analytics_sql.recovered_within)."""
    return {"project": row["project"], "churned_at": timestamp(row["churned_at"]), "currency": row["currency"],
            "cancel_reason": row["cancel_reason"], "source": row["source"], "status": row["status"],
            "mrr_cents": row["mrr_cents"] or 0, "recovered_at": timestamp(row["recovered_at"]),
            "recovered_mrr_cents": row["recovered_mrr_cents"], "windows": tuple(windows or (0,) * len(WINDOWS_DAYS))}


def _contribute(cube: dict, days: dict, event: dict, sign: int) -> None:
    recovered = event["status"] == "recovered"
    month = month_key(event["churned_at"])
    recovered_month = month_key(event["recovered_at"]) if recovered and event["recovered_at"] else 0
    key = (event["project"], month, event["currency"], event["cancel_reason"] or NO_REASON, event["source"],
           event["status"], recovered_month)
    won = (event["recovered_mrr_cents"] or 0) if recovered else 0
    _add(cube, key, (1, event["mrr_cents"], won, *(event["windows"] if recovered else (0,) * len(WINDOWS_DAYS))),
         sign)
    if event["status"] in OPEN_STATUSES:
        _add(days, (event["project"], day_key(event["churned_at"]), event["currency"], event["status"]), (1,), sign)


def _row_of(event: ChurnEvent) -> dict:
    data = event.__data__
    return {name: data.get(name) for name in ("project", "churned_at", "currency", "cancel_reason", "source",
                                              "status", "mrr_cents", "recovered_at", "recovered_mrr_cents")}


def event_added(event: ChurnEvent) -> None:
    """A churn event was inserted (store/churn_events.open_event)."""
    serialize_project(event.project_id)
    windows = _windows(event.id) if event.status == "recovered" else None
    cube, days = {}, {}
    _contribute(cube, days, facts(_row_of(event), windows), 1)
    apply(ChurnRollup, cube)
    apply(OpenDayRollup, days)


def _facts_statement():
    def build(slot):
        query = (ChurnEvent.select(ChurnEvent.project, ChurnEvent.churned_at, ChurnEvent.currency,
                                   ChurnEvent.cancel_reason, ChurnEvent.source, ChurnEvent.status,
                                   ChurnEvent.mrr_cents, ChurnEvent.recovered_at, ChurnEvent.recovered_mrr_cents,
                                   *[recovered_within(days) for days in WINDOWS_DAYS])
                 .where(ChurnEvent.id == slot("id")))
        # PostgreSQL: hold the row until commit, so what was read is what the UPDATE changes.
        return query if is_sqlite() else query.for_update()

    return prepared(("rollup-facts",), build, id=ChurnEvent.id)


_FACT_NAMES = ("project", "churned_at", "currency", "cancel_reason", "source", "status", "mrr_cents",
               "recovered_at", "recovered_mrr_cents")


def lock_facts(event_id: str) -> dict | None:
    """The event's rollup facts before a change, its row locked (PostgreSQL; SQLite's write
    transaction holds the whole database)."""
    _serialize_event(event_id)
    row = _facts_statement().execute(id=event_id).fetchone()
    if row is None:
        return None
    return facts(dict(zip(_FACT_NAMES, row[:len(_FACT_NAMES)])), row[len(_FACT_NAMES):])


def _windows(event_id: str) -> tuple:
    statement = prepared(("rollup-windows",), lambda slot: ChurnEvent.select(
        *[recovered_within(days) for days in WINDOWS_DAYS]).where(ChurnEvent.id == slot("id")), id=ChurnEvent.id)
    row = statement.execute(id=event_id).fetchone()
    return tuple(int(v or 0) for v in row) if row else (0,) * len(WINDOWS_DAYS)


def event_changed(before: dict, event: ChurnEvent) -> None:
    """A guarded UPDATE changed the event (store/churn_events._transition): move its count from
    the rows of `before` (lock_facts) to those of the row as it is now."""
    row = _row_of(event)
    after = facts(row)
    if after["status"] == "recovered" and after["recovered_at"] is not None:
        same_times = (before["status"] == "recovered" and before["recovered_at"] == after["recovered_at"]
                      and before["churned_at"] == after["churned_at"])
        after["windows"] = before["windows"] if same_times else _windows(event.id)
    cube, days = {}, {}
    _contribute(cube, days, before, -1)
    _contribute(cube, days, after, 1)
    apply(ChurnRollup, cube)
    apply(OpenDayRollup, days)
    old_key = (month_key(before["churned_at"]), before["currency"])
    new_key = (month_key(after["churned_at"]), after["currency"])
    if old_key != new_key:  # its emails and cancel-flow answers move with it
        _move_activity(event.id, after["project"], old_key, new_key)


def status_moved(project_id: str, rows, from_status: str, to_status: str) -> None:
    """Many open events changed only their status (the lost sweep's bulk UPDATE): `rows` are their
    (churned_at, currency, cancel_reason, source, mrr_cents) as the UPDATE returned them. The
    caller took `serialize_project` before its UPDATE locked the rows."""
    serialize_project(project_id)
    cube, days = {}, {}
    for churned_at, currency, reason, source, mrr in rows:
        event = facts({"project": project_id, "churned_at": churned_at, "currency": currency,
                       "cancel_reason": reason, "source": source, "status": from_status, "mrr_cents": mrr,
                       "recovered_at": None, "recovered_mrr_cents": None})
        _contribute(cube, days, event, -1)
        _contribute(cube, days, {**event, "status": to_status}, 1)
    apply(ChurnRollup, cube)
    apply(OpenDayRollup, days)


# --- emails, credited recoveries, cancel-flow answers ---------------------------------------------------

def _event_month_currency(event_id: str) -> tuple[int, str] | None:
    """The month and currency the event's activity is counted under, its row locked (PostgreSQL),
    so that a concurrent change of its currency waits for this transaction or is seen by it."""
    query = ChurnEvent.select(ChurnEvent.churned_at, ChurnEvent.currency).where(ChurnEvent.id == event_id)
    if not is_sqlite():
        query = query.for_update()
    row = query.tuples().first()
    return (month_key(timestamp(row[0])), row[1]) if row else None


def _activity(project_id: str, event_id: str, kind: str, strategy: str = "", tone: str = "", n: int = 1) -> None:
    serialize_project(project_id)
    where = _event_month_currency(event_id)
    if where is not None:
        apply(ActivityRollup, {(project_id, *where, kind, strategy, tone): [n]})


def email_sent(project_id: str, event_id: str, strategy: str, tone: str) -> None:
    """A variant became `sent` (store/variants.mark_sent; it never stops being sent)."""
    _activity(project_id, event_id, "sent", strategy, tone)


def submission_added(project_id: str, event_id: str) -> None:
    """A cancel-flow answer was stored for the event (store/cancel_flow.record_answer)."""
    _activity(project_id, event_id, "submission")


def recovery_credited(project_id: str, event_id: str, variant_id: str | None) -> None:
    """The event became `recovered`, credited to `variant_id` (store/churn_events.mark_recovered);
    a recovery is final, so the credit never moves to another kind of email."""
    from store.variants import Variant  # store.variants builds on store.churn_events, which uses this

    if variant_id is None:
        return
    kind = Variant.select(Variant.strategy, Variant.tone).where(Variant.id == variant_id).tuples().first()
    if kind is not None:
        _activity(project_id, event_id, "credited", *kind)


def _move_activity(event_id: str, project_id: str, old: tuple, new: tuple) -> None:
    from store.cancel_flow import CancelFlowSubmission
    from store.variants import Variant

    counts = [(("sent", s, t), n) for s, t, n in
              Variant.select(Variant.strategy, Variant.tone, fn.COUNT(Variant.id))
              .where((Variant.churn_event == event_id) & (Variant.status == "sent"))
              .group_by(Variant.strategy, Variant.tone).tuples()]
    answers = CancelFlowSubmission.select().where(CancelFlowSubmission.churn_event == event_id).count()
    if answers:
        counts.append((("submission", "", ""), answers))
    event = ChurnEvent.select(ChurnEvent.status, ChurnEvent.recovered_by_variant_id).where(
        ChurnEvent.id == event_id).first()
    if event is not None and event.status == "recovered" and event.recovered_by_variant_id:
        kind = (Variant.select(Variant.strategy, Variant.tone)
                .where(Variant.id == event.recovered_by_variant_id).tuples().first())
        if kind is not None:
            counts.append((("credited", *kind), 1))
    deltas: dict = {}
    for key, n in counts:
        _add(deltas, (project_id, *old, *key), (n,), -1)
        _add(deltas, (project_id, *new, *key), (n,), 1)
    apply(ActivityRollup, deltas)


def in_transaction(work):
    """Run `work()` inside a transaction (a savepoint when one is open)."""
    if database.obj.in_transaction():
        return work()
    with transaction():
        return work()


def forget_project(project_id: str) -> None:
    for model in MODELS:
        model.delete().where(model.project == project_id).execute()

