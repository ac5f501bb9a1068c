"""Covering indexes for the analytics queries (store/analytics.py, docs/analytics.md "Speed").

A year of churn events is aggregated from these indexes alone, without reading the (wide) rows,
and on SQLite in the order the GROUP BY needs, so no sort of every row is needed.
"""
import peewee

INDEXES = (
    # stats: GROUP BY currency, cancel_reason, source, status streams in index order; the range
    # column, the amount and the id (to join the emails of a date range) ride along (covering).
    "CREATE INDEX IF NOT EXISTS churn_events_analytics ON churn_events "
    "(project_id, currency, cancel_reason, source, status, churned_at, mrr_cents, recovered_mrr_cents, id)",
    # Recoveries: by_variant's attribution and forecasting's money won back per month.
    "CREATE INDEX IF NOT EXISTS churn_events_analytics_recovered ON churn_events "
    "(project_id, status, recovered_at, currency, recovered_mrr_cents, churned_at, recovered_by_variant_id)",
    # by_variant: emails sent per strategy and tone, for the whole project...
    "CREATE INDEX IF NOT EXISTS variants_analytics_sent ON variants "
    "(project_id, status, strategy, tone, churn_event_id)",
    # ...and for the events of a date range or currency.
    "CREATE INDEX IF NOT EXISTS variants_analytics_event ON variants (churn_event_id, status, strategy, tone)",
)

# Cohorts and forecasting group by the calendar month: an index on that very expression lets
# SQLite read the groups in order. PostgreSQL aggregates with a hash and needs no index, only to
# know that there are few months (else it plans a sort of every row): statistics on the expression
# (POSTGRES_ONLY below).
SQLITE_INDEXES = (
    "CREATE INDEX IF NOT EXISTS churn_events_analytics_month ON churn_events "
    "(project_id, strftime('%Y-%m', churned_at), currency, churned_at, status, mrr_cents, "
    "recovered_mrr_cents, recovered_at)",
)


POSTGRES_ONLY = (
    # The strategy and tone of the email a recovery is credited to, from the index alone
    # (PostgreSQL then joins with index-only lookups instead of reading every variant; SQLite
    # always looks up by the primary key's own index, so it would not use this one).
    "CREATE INDEX IF NOT EXISTS variants_analytics_id ON variants (id, strategy, tone)",
    # Month grouping: statistics on the expression (see above).
    "CREATE STATISTICS IF NOT EXISTS churn_events_churned_month ON (date_trunc('month', churned_at)) "
    "FROM churn_events",
    "CREATE STATISTICS IF NOT EXISTS churn_events_recovered_month ON (date_trunc('month', recovered_at)) "
    "FROM churn_events",
)


def up(db):
    sqlite = isinstance(db, peewee.SqliteDatabase)
    statements = INDEXES + (SQLITE_INDEXES if sqlite else POSTGRES_ONLY)
    for statement in statements:
        db.execute_sql(statement)
