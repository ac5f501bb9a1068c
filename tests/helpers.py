"""Real-world levers for tests: hold a database lock from outside the server, install a
trigger that makes the database refuse one row, read the database directly."""
from __future__ import annotations

import contextlib
import sqlite3
import urllib.parse

from store.db import database, unit_of_work


def count(model, *where) -> int:
    with unit_of_work():
        query = model.select()
        for condition in where:
            query = query.where(condition)
        return query.count()


def execute(sql: str, *params):
    with unit_of_work():
        return database.obj.execute_sql(sql, params or None)


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def _pg_connect(url: str):
    import psycopg2

    parsed = urllib.parse.urlsplit(url)
    return psycopg2.connect(host=parsed.hostname, port=parsed.port or 5432, user=parsed.username,
                            password=parsed.password, dbname=parsed.path.lstrip("/"))


@contextlib.contextmanager
def churn_events_write_lock(url: str):
    """Hold a lock that makes every write to churn_events wait (reads go on), from a connection
    of the test's own, as a long-running migration or a stuck process would."""
    if is_sqlite(url):
        conn = sqlite3.connect(url[len("sqlite:///"):], isolation_level=None, timeout=10)
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")
            conn.close()
    else:
        conn = _pg_connect(url)
        cur = conn.cursor()
        cur.execute("LOCK TABLE churn_events IN EXCLUSIVE MODE")
        try:
            yield
        finally:
            conn.rollback()
            conn.close()


@contextlib.contextmanager
def refuse_customer_email(url: str, email: str):
    """A database trigger that raises on inserting a churn event for `email`: a real fault deep
    inside the actor's transaction."""
    if is_sqlite(url):
        execute(f"CREATE TRIGGER refuse_one BEFORE INSERT ON churn_events "
                f"WHEN NEW.customer_email = '{email}' BEGIN SELECT RAISE(ABORT, 'refused by test trigger'); END")
        drop = ["DROP TRIGGER IF EXISTS refuse_one"]
    else:
        execute("CREATE OR REPLACE FUNCTION refuse_one() RETURNS trigger AS $$ BEGIN "
                f"IF NEW.customer_email = '{email}' THEN RAISE EXCEPTION 'refused by test trigger'; END IF; "
                "RETURN NEW; END $$ LANGUAGE plpgsql")
        execute("CREATE TRIGGER refuse_one BEFORE INSERT ON churn_events FOR EACH ROW EXECUTE FUNCTION refuse_one()")
        drop = ["DROP TRIGGER IF EXISTS refuse_one ON churn_events", "DROP FUNCTION IF EXISTS refuse_one()"]
    try:
        yield
    finally:
        for sql in drop:
            execute(sql)


def is_address_check(message) -> bool:
    """The email every registration sends to confirm the new account's address: files about
    other emails leave it out of what they count."""
    return any("/app/verify-email?token=" in part.get_content() for part in message.walk()
               if part.get_content_type() == "text/plain")
