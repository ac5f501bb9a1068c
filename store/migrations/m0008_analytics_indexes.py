"""Covering indexes for the analytics queries (store/analytics.py): a year of churn events is
aggregated from the index alone, without reading the (wide) rows."""


def up(db):
    # Every column the grouped churn-event queries read, led by the project and the range column.
    db.execute_sql(
        "CREATE INDEX IF NOT EXISTS churn_events_analytics ON churn_events "
        "(project_id, churned_at, status, currency, cancel_reason, source, mrr_cents, "
        "recovered_mrr_cents, recovered_at, recovered_by_variant_id)"
    )
    # Emails sent per strategy and tone.
    db.execute_sql(
        "CREATE INDEX IF NOT EXISTS variants_analytics ON variants "
        "(project_id, status, strategy, tone, churn_event_id)"
    )
