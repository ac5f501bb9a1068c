"""Analytics rollups (store/rollups.py, docs/analytics.md "Rollups"): the tables, filled from
what is already stored (every project's events, emails sent and cancel-flow answers, counted as
the full scan counts them)."""
from store import rollup_rebuild
from store.rollups import MODELS


def up(db):
    db.create_tables(MODELS, safe=True)
    rollup_rebuild.rebuild_all()
