"""SQLite's WAL is checkpointed by the server's own thread, not by the commit that happens to take it
past 1,000 pages: writers' commits leave the WAL to grow, and after the checkpointer's round the
next write starts the WAL over (so the file does not grow without bound either)."""
import asyncio
import os

import pytest

from store.db import unit_of_work
from store.models import Project

pytestmark = pytest.mark.skipif(bool(os.environ.get("WINDBACK_TEST_DATABASE_URL")),
                                reason="SQLite's write-ahead log")


def wal_frames() -> int:
    """Frames in the WAL now (a PASSIVE checkpoint reports them; what it copies changes nothing)."""
    with unit_of_work() as db:
        return db.execute_sql("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1]


@pytest.mark.gen_test(timeout=120)
async def test_commits_leave_the_wal_to_the_checkpointer_which_starts_it_over(ctx):
    checkpointer = ctx.extras["wal_checkpointer"]
    checkpointer.stop()  # rounds by hand from here
    with unit_of_work():
        projects = [Project.create(slug=f"wal-{n}", name=f"WAL {n}", public_key=f"pub_live_wal_{n:029d}").id
                    for n in range(40)]
    checkpointer.checkpoint()

    async def create(n: int):
        return await ctx.actors.project(projects[n % len(projects)]).create_churn_event(
            {"customer_email": f"c{n}@example.com", "mrr_cents": 100})

    for wave in range(30):
        await asyncio.gather(*(create(wave * 40 + n) for n in range(40)))
    grown = wal_frames()
    # 1,200 creates over 40 projects wrote far more than the 1,000 pages after which a commit
    # would have checkpointed (and the next write started the WAL over).
    assert grown > 1500, grown
    checkpointer.checkpoint()
    await create(10_000)
    assert wal_frames() < 100  # started over after the checkpointer's round
