"""Users, projects, keys, members, churn events, reset tokens, idempotency keys."""
from store.models import CORE_MODELS, OPEN_STATUSES

_OPEN = ", ".join(f"'{s}'" for s in OPEN_STATUSES)


def up(db):
    db.create_tables(CORE_MODELS, safe=True)
    # A customer has at most one open churn event per project, guarded by the database so that
    # several processes stay correct (docs/architecture.md).
    db.execute_sql(
        "CREATE UNIQUE INDEX IF NOT EXISTS churn_events_one_open_per_email ON churn_events "
        f"(project_id, customer_email) WHERE status IN ({_OPEN}) AND customer_email IS NOT NULL"
    )
    db.execute_sql(
        "CREATE UNIQUE INDEX IF NOT EXISTS churn_events_one_open_per_customer_id ON churn_events "
        f"(project_id, customer_id) WHERE status IN ({_OPEN}) AND customer_id IS NOT NULL"
    )
