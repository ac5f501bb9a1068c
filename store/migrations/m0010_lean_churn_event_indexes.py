"""Drop the churn_events indexes no query plan uses (docs/BENCHMARKS.md, "Indexes on
churn_events"): every insert and most updates maintained each of them.

The list sorts by updated_at, recovered_at, mrr_cents and status, and its source and
cancel_reason filters, now read the project's rows through (project, created_at, id) or
(project, churned_at, id) and sort what matches; the status filter also has the analytics index
(project, status, ...). The foreign key's own index duplicated the project prefix of the others.
The month-expression index of m0008 (SQLite) was never chosen: cohorts and forecasting read their
range through (project, churned_at, id), on 100,000 events as on 20,000.
"""

DROPPED = (
    "churn_events_project_id",
    "churn_events_project_id_updated_at_id",
    "churn_events_project_id_recovered_at_id",
    "churn_events_project_id_mrr_cents_id",
    "churn_events_project_id_status_id",
    "churn_events_project_id_source",
    "churn_events_project_id_cancel_reason",
    "churn_events_analytics_month",
)


def up(db):
    for name in DROPPED:
        db.execute_sql(f'DROP INDEX IF EXISTS "{name}"')
