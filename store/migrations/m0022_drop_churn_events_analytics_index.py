"""Drop the covering index churn_events_analytics (project, currency, reason, source, status, ...).

It was made for GET /stats counted from every event of a project. The analytics endpoints answer
from rollups now (docs/analytics.md); the events of a partial month are read by churn date, through
(project_id, churned_at, id), and only the full scan that rebuilds and verifies the rollups
(scripts/rebuild_rollups.py) read this index. Every create wrote an entry into it: a leaf of its
own, and the widest, when creates are spread over many projects, 1.7 of the 21.6 WAL pages such a
create writes (bench/wal_frames.py; docs/BENCHMARKS.md, "Many projects at once, a sixth time").
"""


def up(db):
    db.execute_sql('DROP INDEX IF EXISTS "churn_events_analytics"')
