"""Index churn events by (project, customer_id) only where there is a customer id.

Every read through this index asks for one customer id (the open-event lookup, a webhook's
customer history, the email known for a customer id, the list's `customer_id` filter), and
`customer_id = ?` implies the id is not null, so SQLite and PostgreSQL both still use it. Events
created through the API or the widget without a customer id no longer write an entry: one index
leaf fewer per create, the one that was a page of its own in the WAL when creates are spread over
many projects (docs/BENCHMARKS.md, "Many projects at once, a fifth time"). Rebuilding reads the
table once (a lock on churn_events while it runs).
"""

NAME = "churn_events_project_id_customer_id"


def up(db):
    db.execute_sql(f'DROP INDEX IF EXISTS "{NAME}"')
    db.execute_sql(f'CREATE INDEX "{NAME}" ON "churn_events" ("project_id", "customer_id") '
                   "WHERE customer_id IS NOT NULL")
