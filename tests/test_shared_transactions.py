"""Shared transactions (SQLite): the actor pool applies the commands of several projects in one
transaction, answers none of them before it commits, keeps a crash to its own command, and turns
a failed commit into a 503 for every call in it, with nothing kept."""
import asyncio
import os
import sqlite3
import threading

import pytest

from actors.project import ProjectActor
from actors.registry import ProjectActors
from actors.runtime import ActorPool
from store.db import database, make_database, run_db, unit_of_work
from store.errors import Unavailable
from store.models import ChurnEvent, Project
from tests.helpers import refuse_customer_email

pytestmark = pytest.mark.skipif(bool(os.environ.get("WINDBACK_TEST_DATABASE_URL")),
                                reason="shared transactions are SQLite's (one writer at a time)")


class GatedProjectActor(ProjectActor):
    """The real project actor, plus two test commands: one that waits for a gate (so the test
    decides which commands queue behind it, in the same shared transaction) and one that leaves
    a foreign key broken until COMMIT, which SQLite then refuses."""

    gates: dict = {}

    def wait_for(self, gate: str) -> str:
        assert self.gates[gate].wait(10)
        return gate

    def page_cache_kib(self) -> int:
        return _page_cache_kib()

    def break_commit(self) -> None:
        db = database.obj
        db.execute_sql("PRAGMA defer_foreign_keys = ON")  # checked at COMMIT, for this transaction
        db.execute_sql("INSERT INTO customer_activity (project_id, customer_key, day, kind, name, count) "
                       "VALUES ('prj_missing', 'k', '2026-01-01', 'churn', '', 1)")


def start_gated(project_id: str, pool: ActorPool):
    return GatedProjectActor.start(project_id, pool)


def _projects(n: int) -> list[str]:
    with unit_of_work():
        return [Project.create(slug=f"shared-{i}", name=f"Shared {i}", public_key=f"pub_live_shared_{i:026d}").id
                for i in range(n)]


def _page_cache_kib() -> int:
    size = database.obj.execute_sql("PRAGMA cache_size").fetchone()[0]
    return -size if size < 0 else size * 4  # negative: KiB; positive: pages of 4 KiB


def _emails() -> set:
    return {event.customer_email for event in ChurnEvent.select(ChurnEvent.customer_email)}


async def _queued(actors: ProjectActors, busy: int) -> None:
    for _ in range(200):
        if actors.stats()["busy"] >= busy:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(actors.stats())


@pytest.mark.gen_test(timeout=60)
async def test_replies_wait_for_the_shared_commit_and_a_crash_stays_with_its_command(ctx, migrated):
    first, last, a, b, c = _projects(5)
    GatedProjectActor.gates = {"first": threading.Event(), "last": threading.Event()}
    actors = ProjectActors(start_gated, timeout=30, threads=1, shared_transaction_seconds=30)
    try:
        with refuse_customer_email(migrated, "boom@example.com"):
            held = asyncio.ensure_future(actors.call(first, "wait_for", "first"))
            await _queued(actors, 1)  # the pool's one thread is in a shared transaction now
            calls = [asyncio.ensure_future(actors.call(project, "create_churn_event", {"customer_email": email}))
                     for project, email in ((a, "a@example.com"), (b, "boom@example.com"), (c, "c@example.com"))]
            closing = asyncio.ensure_future(actors.call(last, "wait_for", "last"))
            await _queued(actors, 5)
            GatedProjectActor.gates["first"].set()
            await asyncio.sleep(0.3)
            # a, b and c ran behind "first", and "last" holds the transaction open: nobody is
            # answered, and another connection sees none of their writes.
            assert not any(call.done() for call in [held, *calls])
            assert await run_db(_emails) == set()
            GatedProjectActor.gates["last"].set()
            results = await asyncio.gather(held, *calls, closing, return_exceptions=True)
        assert results[0] == "first" and results[4] == "last"
        assert results[1][0]["customer_email"] == "a@example.com" and results[3][0]["customer_email"] == "c@example.com"
        assert isinstance(results[2], Exception) and "refused by test trigger" in str(results[2])
        assert await run_db(_emails) == {"a@example.com", "c@example.com"}  # b's crash undid b only
        assert actors.stats()["crashed"] == 1
        retried = await actors.call(b, "create_churn_event", {"customer_email": "b@example.com"})
        assert retried[0]["customer_email"] == "b@example.com"  # a fresh actor for b
    finally:
        for gate in GatedProjectActor.gates.values():
            gate.set()
        actors.stop_all()


@pytest.mark.gen_test(timeout=60)
async def test_a_failed_shared_commit_answers_every_call_in_it_503_and_keeps_nothing(ctx):
    first, a, b = _projects(3)
    GatedProjectActor.gates = {"first": threading.Event()}
    actors = ProjectActors(start_gated, timeout=30, threads=1, shared_transaction_seconds=30)
    try:
        held = asyncio.ensure_future(actors.call(first, "wait_for", "first"))
        await _queued(actors, 1)
        created = asyncio.ensure_future(actors.call(a, "create_churn_event", {"customer_email": "a@example.com"}))
        breaking = asyncio.ensure_future(actors.call(b, "break_commit"))
        await _queued(actors, 3)
        GatedProjectActor.gates["first"].set()
        results = await asyncio.gather(held, created, breaking, return_exceptions=True)
        assert all(isinstance(result, Unavailable) for result in results), results
        assert await run_db(_emails) == set()
        # The pool thread and the actors live on: the same command goes through on its own.
        again = await actors.call(a, "create_churn_event", {"customer_email": "a@example.com"})
        assert again[0]["customer_email"] == "a@example.com" and actors.stats()["crashed"] == 0
        assert await run_db(_emails) == {"a@example.com"}
    finally:
        GatedProjectActor.gates["first"].set()
        actors.stop_all()


@pytest.mark.gen_test(timeout=60)
async def test_a_shared_transaction_that_cannot_begin_leaves_its_commands_waiting_not_lost(ctx, migrated):
    """Another process holds SQLite's write lock: the pool's BEGIN fails (busy_timeout 0 here, so at
    once); the command waits for the next try instead of being dropped with its actor."""
    project, = _projects(1)
    previous = database.obj
    impatient = make_database(migrated)
    impatient._pragmas = [(name, 0 if name == "busy_timeout" else value) for name, value in impatient._pragmas]
    database.initialize(impatient)
    other = sqlite3.connect(migrated[len("sqlite:///"):], isolation_level=None)
    actors = ProjectActors(start_gated, timeout=30, threads=1, shared_transaction_seconds=30)
    try:
        other.execute("BEGIN IMMEDIATE")  # the other process's writer
        created = asyncio.ensure_future(actors.call(project, "create_churn_event", {"customer_email": "w@example.com"}))
        await asyncio.sleep(0.3)
        assert not created.done()
        other.execute("COMMIT")
        event, was_created = await created
        assert was_created and event["customer_email"] == "w@example.com"
    finally:
        if other.in_transaction:
            other.execute("ROLLBACK")
        other.close()
        actors.stop_all()
        database.initialize(previous)


@pytest.mark.gen_test(timeout=30)
async def test_the_actor_pool_writes_through_a_larger_page_cache_than_the_readers_use(ctx):
    """Every project's commands write through the pool thread's connection: it keeps the
    writer's page cache (64 MB unless WINDBACK_SQLITE_WRITER_CACHE_MB says otherwise); the read
    workers keep SQLite's 2 MB."""
    project, = _projects(1)
    actors = ProjectActors(start_gated, timeout=30, threads=1, shared_transaction_seconds=0.02)
    try:
        assert await actors.call(project, "page_cache_kib") == 64 * 1024
        assert await run_db(_page_cache_kib) == 2000
    finally:
        actors.stop_all()
