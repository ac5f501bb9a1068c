"""Drop the foreign key's own index on `customers` and `customer_activity`: the unique
(project, key) index and the activity's primary key start with the project already, so the
extra index was written on every new customer and every new day's count and never read
(docs/BENCHMARKS.md, "/track: what keeping customers' daily counts costs")."""

DROPPED = ("customers_project_id", "customer_activity_project_id")


def up(db):
    for name in DROPPED:
        db.execute_sql(f'DROP INDEX IF EXISTS "{name}"')
