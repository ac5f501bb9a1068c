"""Drop indexes that another index of the same table makes useless: a foreign key's own index
where an index starting with the same column exists (the project's rows are found through it,
the cascade of a deleted project too), and variants' (churn_event_id, status), the prefix of
m0008's (churn_event_id, status, strategy, tone). Every insert wrote them and no query read
them; the hot ones were tracked events (each `/track` event), webhook events (each delivery),
variants (nine a churn) and customers (each new one). See docs/BENCHMARKS.md ("Redundant
indexes").

A model's foreign key that has such a sibling index says `index=False`, so a table created
afresh never has them.
"""

DROPPED = (
    "customers_project_id",
    "customer_activity_project_id",
    "tracked_events_project_id",
    "webhook_events_project_id",
    "variants_project_id",
    "variants_churn_event_id",
    "variants_churn_event_id_status",
    "cancel_flow_submissions_project_id",
    "payment_recoveries_project_id",
    "billing_actions_project_id",
    "billing_coupons_project_id",
    "webhook_endpoints_project_id",
    "webhook_deliveries_endpoint_id",
    "suppressions_project_id",
    "invitations_project_id",
    "memberships_project_id",
)


def up(db):
    for name in DROPPED:
        db.execute_sql(f'DROP INDEX IF EXISTS "{name}"')
