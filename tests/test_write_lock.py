"""One way to open a write transaction: a project actor applying a batch of queued commands and a
group committer writing at the same moment take turns at SQLite's single writer lock inside the
process, instead of colliding in SQLite's busy handler.

The database here has `busy_timeout = 0`: a writer that finds the SQLite lock taken fails at once
with "database is locked" instead of sleeping, so a collision cannot hide behind a retry."""
import asyncio
import os
import tempfile

import pytest

from actors.project import start_project_actor
from actors.registry import ProjectActors
from store.db import database, make_database, unit_of_work
from store.group_commit import GroupCommitter
from store.migrations import migrate_database
from store.models import ChurnEvent, Project, ServerSetting

pytestmark = pytest.mark.skipif(bool(os.environ.get("WINDBACK_TEST_DATABASE_URL")),
                                reason="SQLite's single writer lock; PostgreSQL locks rows")


@pytest.fixture
def impatient_sqlite():
    """A SQLite database of this test's own whose writers never wait in the busy handler."""
    previous = database.obj
    directory = tempfile.mkdtemp(prefix="windback-lock-")
    db = make_database(f"sqlite:///{directory}/lock.db")
    db._pragmas = [(name, 0 if name == "busy_timeout" else value) for name, value in db._pragmas]
    database.initialize(db)
    with unit_of_work():
        migrate_database()
    yield db
    db.close()  # this thread's connection; the actor and committer threads' close with them
    database.initialize(previous)


def _write_settings(keys):
    for key in keys:
        ServerSetting.insert(key=key, value="v").execute()
    return list(keys)


@pytest.mark.gen_test(timeout=60)
async def test_a_batching_actor_and_a_group_committer_take_turns(impatient_sqlite):
    with unit_of_work():
        project = Project.create(slug="lock", name="Lock", public_key="pub_live_lock-test-0000000000000")
    actors = ProjectActors(start_project_actor, timeout=30, max_actors=4)
    committer = GroupCommitter("lock-test", _write_settings, window=0.001)
    try:
        proxy = actors.project(project.id)
        for _ in range(3):
            creates = [proxy.create_churn_event({"customer_email": f"c{i}@example.com"}) for i in range(60)]
            writes = [committer.submit(f"k-{_}-{i}") for i in range(60)]
            results = await asyncio.gather(*creates, *writes, return_exceptions=True)
            failures = [r for r in results if isinstance(r, BaseException)]
            assert failures == [], failures[:3]
            with unit_of_work():
                ChurnEvent.delete().execute()
        with unit_of_work():
            assert ServerSetting.select().where(ServerSetting.key.startswith("k-")).count() == 180
    finally:
        committer.stop()
        actors.stop_all()
