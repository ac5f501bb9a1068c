"""The database handle, and how each thread uses it.

peewee connections are per thread. Every unit of work (a handler's read in the worker pool, an
actor's state change) runs inside `unit_of_work()`, which connects when needed and, on
PostgreSQL, hands the connection back to the pool afterwards. SQLite connections stay open on
their thread: opening one costs more than the query it serves. Both are bounded by the threads
that use the database, which are few and long-lived: the actor pool (project actors share it;
none has a thread or connection of its own), the read worker pool and the group committers. A
SQLite connection holds up to `cache_size` (2 MB by default; 1.5-2.1 MB measured) of page cache.
"""
from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

import peewee
from playhouse.db_url import connect as connect_url
from playhouse.pool import PooledPostgresqlDatabase

database = peewee.DatabaseProxy()

_executor: ThreadPoolExecutor | None = None

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    "busy_timeout": 15000,
    # WAL + NORMAL: a commit survives a crash of the process (kill -9), not a power cut of the
    # machine. docs/configuration.md says so; PostgreSQL keeps its own (durable) defaults.
    "synchronous": "normal",
}


def make_database(url: str, max_connections: int = 64) -> peewee.Database:
    """A peewee database for `url` (sqlite:///path or postgresql://...); `max_connections` bounds
    PostgreSQL's pool."""
    scheme = url.split("://", 1)[0]
    if scheme == "sqlite":
        path = url[len("sqlite:///"):] or "windback.db"
        # IMMEDIATE write transactions: concurrent read-modify-write with DEFERRED failed with
        # "database is locked" even under WAL and busy_timeout (3 of 4 threads, measured).
        return peewee.SqliteDatabase(path, pragmas=SQLITE_PRAGMAS, lock_type="IMMEDIATE", autoconnect=True)
    if scheme in ("postgres", "postgresql", "postgres+pool", "postgresql+pool"):
        parsed = urllib.parse.urlsplit(url)
        return PooledPostgresqlDatabase(
            parsed.path.lstrip("/"),
            user=urllib.parse.unquote(parsed.username) if parsed.username else None,
            password=urllib.parse.unquote(parsed.password) if parsed.password else None,
            host=parsed.hostname,
            port=parsed.port or 5432,
            max_connections=max_connections,
            stale_timeout=300,
            timeout=10,
            autoconnect=True,
        )
    return connect_url(url)


def init_database(url: str, max_connections: int = 64) -> peewee.Database:
    db = make_database(url, max_connections)
    database.initialize(db)
    return db


def is_sqlite() -> bool:
    return isinstance(database.obj, peewee.SqliteDatabase)


@contextlib.contextmanager
def unit_of_work():
    """Hold a connection for one piece of work on the current thread."""
    db = database.obj
    if isinstance(db, PooledPostgresqlDatabase):
        if db.is_closed():
            with db.connection_context():
                yield db
            return
        yield db  # nested: the outer unit of work owns the connection
        return
    if db.is_closed():
        db.connect(reuse_if_open=True)
    yield db


# SQLite lets one writer in at a time; a second thread of this process that finds the lock taken
# sleeps in SQLite's busy handler (1, 2, 5 ... 100 ms steps), so two writers of one process
# (a group committer and an actor) stalled each other for tens of milliseconds. Writers that open
# their transaction through `transaction()` queue here instead and are woken the moment the other
# commits; one that calls `db.atomic()` itself bypasses this lock and meets the busy handler.
# Other processes always meet busy_timeout.
_sqlite_writer = threading.RLock()


@contextlib.contextmanager
def transaction():
    """The one way to open a write transaction (IMMEDIATE on SQLite), inside a unit of work; nested:
    a savepoint. Single commands, an actor's batch of commands and the group committers all come
    through here, so on SQLite they queue on `_sqlite_writer` rather than in the busy handler."""
    db = database.obj
    if isinstance(db, peewee.SqliteDatabase) and db.transaction_depth() == 0:
        with _sqlite_writer, db.atomic():
            yield db
        return
    with db.atomic():
        yield db


def start_executor(workers: int) -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="db")
    return _executor


def stop_executor() -> None:
    global _executor
    if _executor is not None:
        _executor.shutdown(wait=True)
        _executor = None


async def run_db(fn, *args, **kwargs):
    """Run `fn` on the database worker pool, never on the IOLoop thread."""
    loop = asyncio.get_running_loop()
    call = functools.partial(_in_unit, fn, args, kwargs)
    return await loop.run_in_executor(_executor or start_executor(8), call)


def _in_unit(fn, args, kwargs):
    with unit_of_work():
        return fn(*args, **kwargs)


def close_thread_connection() -> None:
    """Close this thread's SQLite connection (a thread that stops using the database)."""
    db = database.obj
    if db is not None and not isinstance(db, PooledPostgresqlDatabase) and not db.is_closed():
        db.close()


def close_database() -> None:
    db = database.obj
    if db is None:
        return
    if isinstance(db, PooledPostgresqlDatabase):
        db.close_all()
    elif not db.is_closed():
        db.close()


def refresh_statistics() -> None:
    """Give SQLite's query planner current row statistics (PostgreSQL's autovacuum does this
    itself). `analysis_limit` keeps it to a sample, so it stays quick on large tables."""
    if is_sqlite():
        with unit_of_work() as db:
            db.execute_sql("PRAGMA analysis_limit = 1000")
            db.execute_sql("ANALYZE")
