"""The database handle, and how each thread uses it.

peewee connections are per thread. Every unit of work (a handler's read in the worker pool, an
actor's state change) runs inside `unit_of_work()`, which connects when needed and, on
PostgreSQL, hands the connection back to the pool afterwards. SQLite connections stay open on
their thread: opening one costs more than the query it serves. Both are bounded by the threads
that use the database, which are few and long-lived: the actor pool (project actors share it;
none has a thread or connection of its own), the read worker pool and the group committers. A
SQLite connection holds up to `cache_size` (2 MB by default; 1.5-2.1 MB measured) of page cache;
a thread that says `writes_here()` (the actor pool's) gets a larger one.
"""
from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import threading
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

import peewee
from playhouse.db_url import connect as connect_url
from playhouse.pool import PooledPostgresqlDatabase

database = peewee.DatabaseProxy()
log = logging.getLogger("windback.db")

_executor: ThreadPoolExecutor | None = None

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    "busy_timeout": 15000,
    # WAL + NORMAL: a commit survives a crash of the process (kill -9), not a power cut of the
    # machine. docs/configuration.md says so; PostgreSQL keeps its own (durable) defaults.
    "synchronous": "normal",
    # A savepoint (each command inside a shared actor transaction) that spills its journal, and any
    # temporary sort, stays in memory instead of a file created and unlinked in /var/tmp.
    "temp_store": "memory",
}


_thread_role = threading.local()


class _SqliteDatabase(peewee.SqliteDatabase):
    """SQLite whose connections on a thread marked by `writes_here()` keep `writer_cache_mb` of
    page cache instead of 2 MB."""

    writer_cache_mb = 64

    def writer_cache_pragma(self) -> str:
        return f"PRAGMA cache_size = -{self.writer_cache_mb * 1024}"  # negative: KiB

    def _add_conn_hooks(self, conn):
        super()._add_conn_hooks(conn)
        if getattr(_thread_role, "writer", False):
            conn.execute(self.writer_cache_pragma())


def writes_here() -> None:
    """Mark the calling thread as one that writes all over the database (the actor pool's): on
    SQLite its connection keeps a larger page cache. A write dirties a leaf of each table and
    index it touches; spread over many projects, those leaves were seldom in 2 MB and each came
    back from the file (a `pread` apiece, docs/BENCHMARKS.md "Many projects at once, a fifth
    time")."""
    _thread_role.writer = True
    db = database.obj
    if isinstance(db, _SqliteDatabase) and not db.is_closed():  # connected already: widen it now
        db.execute_sql(db.writer_cache_pragma())


def make_database(url: str, max_connections: int = 64, writer_cache_mb: int = 64) -> peewee.Database:
    """A peewee database for `url` (sqlite:///path or postgresql://...); `max_connections` bounds
    PostgreSQL's pool, `writer_cache_mb` is SQLite's page cache for the threads of `writes_here()`."""
    scheme = url.split("://", 1)[0]
    if scheme == "sqlite":
        path = url[len("sqlite:///"):] or "windback.db"
        # IMMEDIATE write transactions: concurrent read-modify-write with DEFERRED failed with
        # "database is locked" even under WAL and busy_timeout (3 of 4 threads, measured).
        db = _SqliteDatabase(path, pragmas=SQLITE_PRAGMAS, lock_type="IMMEDIATE", autoconnect=True)
        db.writer_cache_mb = writer_cache_mb
        return db
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


def init_database(url: str, max_connections: int = 64, writer_cache_mb: int = 64) -> peewee.Database:
    db = make_database(url, max_connections, writer_cache_mb)
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


class WalCheckpointer:
    """SQLite: moves the WAL's pages into the database file on a thread of its own, so that no
    writer's commit pays for it.

    By default the commit that takes the WAL past 1,000 pages copies them all and syncs the file,
    holding the write lock meanwhile: with creates spread over many projects (each dirtying some
    thirty pages of its own) that was every few dozen commits, and the p99 of the whole server.
    Here the connections of this process do not checkpoint (`wal_autocheckpoint = 0`); every
    `interval` seconds this thread copies what the WAL holds (PASSIVE: writers and readers go on),
    then the few pages written meanwhile with this process's writers held, so the checkpoint is
    complete and the next write starts the WAL file over instead of growing it
    (docs/configuration.md, "Choices made where the contract is silent")."""

    restart_after_frames = 50_000  # ~200 MB of 4 KiB pages

    def __init__(self, interval: float = 0.5):
        self.interval = interval
        db = database.obj
        db.pragma("wal_autocheckpoint", 0, permanent=True)  # this thread's connection and every later one
        db.pragma("journal_size_limit", 64 * 1024 * 1024, permanent=True)  # a WAL started over shrinks to this
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wal-checkpointer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopped.wait(self.interval):
            try:
                self.checkpoint()
            except Exception:  # noqa: BLE001 - the next round tries again
                log.exception("WAL checkpoint failed")
        close_thread_connection()

    def checkpoint(self) -> None:
        with unit_of_work() as db:
            db.execute_sql("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            # Between two write transactions, copy what was written meanwhile: a WAL copied whole
            # at the moment a writer begins is started over by that writer.
            with _sqlite_writer:
                _, frames, _ = db.execute_sql("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                if frames > self.restart_after_frames:
                    # Other processes kept writing through every round: wait for them and start
                    # the WAL over now (their writers and ours wait meanwhile).
                    db.execute_sql("PRAGMA wal_checkpoint(RESTART)").fetchall()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(10)


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
