"""Counting the analytics rollups from scratch (store/rollups.py): what migration m0018 fills them
with, what `scripts/rebuild_rollups.py` replaces them with, and what `--verify` compares them to.

The recount is grouped SQL over the events, emails and cancel-flow answers, with the very
expressions the full-scan analytics use (store/analytics_sql.py), so a rollup that agrees with
the recount gives the full scan's answers.
"""
from __future__ import annotations

from peewee import SQL, Case, fn

from store.analytics_sql import WINDOWS_DAYS, recovered_amount, recovered_within
from store.db import is_sqlite, transaction
from store.models import OPEN_STATUSES, ChurnEvent, Project
from store.rollups import (ACTIVITY_KEYS, CUBE_KEYS, CUBE_VALUES, DAY_KEYS, ActivityRollup, ChurnRollup,
                           OpenDayRollup, apply)


def month_number(column):
    """A timestamp's month as the rollups key it (202503), in SQL."""
    if is_sqlite():
        return fn.strftime(SQL("'%Y%m'"), column).cast("INTEGER")
    return fn.to_char(column, SQL("'YYYYMM'")).cast("INTEGER")


def day_number(column):
    """A timestamp's day as the rollups key it (20250309), in SQL."""
    if is_sqlite():
        return fn.strftime(SQL("'%Y%m%d'"), column).cast("INTEGER")
    return fn.to_char(column, SQL("'YYYYMMDD'")).cast("INTEGER")


def recount(project_id: str) -> dict:
    """model -> {key: values} of the project's rollups, counted from its rows."""
    from store.cancel_flow import CancelFlowSubmission
    from store.variants import Variant

    is_recovered = ChurnEvent.status == "recovered"
    month = month_number(ChurnEvent.churned_at)
    recovered_month = Case(None, [(is_recovered & ChurnEvent.recovered_at.is_null(False),
                                   month_number(ChurnEvent.recovered_at))], 0)
    reason = fn.COALESCE(ChurnEvent.cancel_reason, "")
    keys = (month, ChurnEvent.currency, reason, ChurnEvent.source, ChurnEvent.status, recovered_month)
    cube_rows = (ChurnEvent.select(*keys, fn.COUNT(SQL("*")), fn.SUM(ChurnEvent.mrr_cents), fn.SUM(recovered_amount()),
                                   *[fn.SUM(recovered_within(days)) for days in WINDOWS_DAYS])
                 .where(ChurnEvent.project == project_id).group_by(*keys).tuples())
    cube = {(project_id, *row[:6]): [int(v or 0) for v in row[6:]] for row in cube_rows}

    day = day_number(ChurnEvent.churned_at)
    day_rows = (ChurnEvent.select(day, ChurnEvent.currency, ChurnEvent.status, fn.COUNT(SQL("*")))
                .where((ChurnEvent.project == project_id) & ChurnEvent.status.in_(OPEN_STATUSES))
                .group_by(day, ChurnEvent.currency, ChurnEvent.status).tuples())
    days = {(project_id, *row[:3]): [int(row[3])] for row in day_rows}

    activity: dict = {}
    sent = (Variant.select(month, ChurnEvent.currency, Variant.strategy, Variant.tone, fn.COUNT(SQL("*")))
            .join(ChurnEvent, on=(Variant.churn_event == ChurnEvent.id))
            .where((ChurnEvent.project == project_id) & (Variant.status == "sent"))
            .group_by(month, ChurnEvent.currency, Variant.strategy, Variant.tone).tuples())
    credited = (ChurnEvent.select(month, ChurnEvent.currency, Variant.strategy, Variant.tone, fn.COUNT(SQL("*")))
                .join(Variant, on=(ChurnEvent.recovered_by_variant_id == Variant.id))
                .where((ChurnEvent.project == project_id) & is_recovered)
                .group_by(month, ChurnEvent.currency, Variant.strategy, Variant.tone).tuples())
    for kind, rows in (("sent", sent), ("credited", credited)):
        for m, currency, strategy, tone, n in rows:
            activity[(project_id, m, currency, kind, strategy, tone)] = [int(n)]
    answers = (CancelFlowSubmission.select(month, ChurnEvent.currency, fn.COUNT(SQL("*")))
               .join(ChurnEvent, on=(CancelFlowSubmission.churn_event == ChurnEvent.id))
               .where(ChurnEvent.project == project_id).group_by(month, ChurnEvent.currency).tuples())
    for m, currency, n in answers:
        activity[(project_id, m, currency, "submission", "", "")] = [int(n)]
    return {ChurnRollup: cube, OpenDayRollup: days, ActivityRollup: activity}


def stored(project_id: str) -> dict:
    """model -> {key: values} of the project's rollups as kept (rows of zeros left out)."""
    out = {}
    for model, (keys, values) in ((ChurnRollup, (CUBE_KEYS, CUBE_VALUES)), (OpenDayRollup, (DAY_KEYS, ("events",))),
                                  (ActivityRollup, (ACTIVITY_KEYS, ("count",)))):
        fields = [getattr(model, name) for name in keys + values]
        rows = model.select(*fields).where(model.project == project_id).tuples()
        out[model] = {row[:len(keys)]: [int(v) for v in row[len(keys):]] for row in rows
                      if any(row[len(keys):])}
    return out


def differences(project_id: str, expected: dict | None = None) -> list[str]:
    """Where the kept rollups differ from a recount, one line per differing row (none: they agree)."""
    expected = expected or recount(project_id)
    kept = stored(project_id)
    lines = []
    for model in (ChurnRollup, OpenDayRollup, ActivityRollup):
        want, have = expected[model], kept[model]
        for key in sorted(set(want) | set(have), key=str):
            if want.get(key) != have.get(key):
                lines.append(f"{model._meta.table_name} {key[1:]}: kept {have.get(key)}, recount {want.get(key)}")
    return lines


def rebuild_project(project_id: str) -> list[str]:
    """Replace the project's rollups with a recount, in one transaction; returns how the kept
    ones differed from it."""
    with transaction():
        expected = recount(project_id)
        found = differences(project_id, expected)
        for model in expected:
            model.delete().where(model.project == project_id).execute()
            apply(model, expected[model])
    return found


def rebuild_all() -> dict[str, list[str]]:
    """Every project's rollups recounted (migration m0018); project id -> differences found."""
    return {project_id: rebuild_project(project_id) for (project_id,) in Project.select(Project.id).tuples()}
