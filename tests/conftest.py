"""Test fixtures: a real database (SQLite temp file, or PostgreSQL when
WINDBACK_TEST_DATABASE_URL is set), the real application on a loopback port, and a small client.

Each pytest run creates a database of its own (PostgreSQL: `windback_test_<random>`, dropped at
the end), and every test starts from empty tables.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

import psycopg2
import pytest

import server
from config import load_settings
from store.db import close_database, database, init_database, is_sqlite, unit_of_work
from store.migrations import migrate_database

PG_URL = os.environ.get("WINDBACK_TEST_DATABASE_URL")
IN_CI = os.environ.get("CI", "").lower() == "true"


def _pg_admin_connect(url: str):
    parsed = urllib.parse.urlsplit(url)
    conn = psycopg2.connect(host=parsed.hostname, port=parsed.port or 5432, user=parsed.username,
                            password=parsed.password, dbname=parsed.path.lstrip("/") or "postgres",
                            connect_timeout=5)
    conn.autocommit = True
    return conn


@pytest.fixture(scope="session")
def database_url():
    if not PG_URL:
        directory = tempfile.mkdtemp(prefix="windback-test-")
        yield f"sqlite:///{directory}/test.db"
        return
    try:
        admin = _pg_admin_connect(PG_URL)
    except Exception as error:  # noqa: BLE001 - any connection failure means "no PostgreSQL"
        if IN_CI:
            pytest.exit(f"PostgreSQL at {PG_URL} is unreachable under CI=true: {error}", returncode=1)
        pytest.skip(f"PostgreSQL tests skipped: {PG_URL} is unreachable ({error})", allow_module_level=True)
    name = f"windback_test_{secrets.token_hex(4)}"
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    parsed = urllib.parse.urlsplit(PG_URL)
    yield urllib.parse.urlunsplit(parsed._replace(path="/" + name))
    close_database()
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


@pytest.fixture(scope="session")
def migrated(database_url):
    init_database(database_url)
    with unit_of_work():
        migrate_database()
    return database_url


def _empty_tables() -> None:
    db = database.obj
    with unit_of_work():
        tables = [t for t in db.get_tables() if t != "schema_migrations"]
        if is_sqlite():
            with db.atomic():
                db.execute_sql("PRAGMA defer_foreign_keys = ON")
                for table in tables:
                    db.execute_sql(f'DELETE FROM "{table}"')
        else:
            # DELETE with foreign-key triggers off is far quicker than TRUNCATE on small tables
            # (TRUNCATE rewrites files: ~0.8 s a test). The test role is a superuser.
            with db.atomic():
                db.execute_sql("SET LOCAL session_replication_role = replica")
                for table in tables:
                    db.execute_sql(f'DELETE FROM "{table}"')


@pytest.fixture
def test_env(tmp_path, request):
    """The WINDBACK_* variables a test server runs with. A test changes them with
    `@pytest.mark.env({"WINDBACK_...": "..."})` (applied before `ctx` is built)."""
    env = {
        "WINDBACK_BCRYPT_ROUNDS": "4",
        "WINDBACK_SECRET": "test-secret-0123456789abcdef-0123456789",
        "WINDBACK_OUTBOX_DIR": str(tmp_path / "outbox"),
        "WINDBACK_RATE_LIMIT_SCALE": "1000",
        "WINDBACK_PUBLIC_URL": "http://windback.test",
    }
    for marker in reversed(list(request.node.iter_markers("env"))):
        env.update(marker.args[0])
    return env


@pytest.fixture
def settings(migrated, test_env):
    return load_settings({**test_env, "WINDBACK_DATABASE_URL": migrated})


@pytest.fixture
def ctx(settings):
    _empty_tables()
    context = server.build_context(settings)
    yield context
    context.stop_services()
    context.actors.stop_all()


@pytest.fixture
def app(ctx):
    return server.make_app(ctx)


class Response:
    def __init__(self, raw):
        self.status = raw.code
        self.headers = raw.headers
        self.text = raw.body.decode("utf-8") if raw.body else ""
        self.json = json.loads(self.text) if self.text and "json" in raw.headers.get("Content-Type", "") else None

    @property
    def data(self):
        return self.json["data"]

    @property
    def error(self):
        return self.json["error"]

    def __repr__(self):
        return f"<Response {self.status} {self.text[:300]}>"


class Api:
    """A client of the running test server: `await api.post(path, body, token=..., key=...)`."""

    def __init__(self, http_client, base_url):
        self.client = http_client
        self.base = base_url

    async def request(self, method, path, body=None, token=None, key=None, headers=None, raw=None):
        url = self.base + (path if path.startswith("/health") or path.startswith("/app") or path.startswith("/widget")
                           else "/api/v1" + path)
        hdrs = dict(headers or {})
        if token:
            hdrs["Authorization"] = f"Bearer {token}"
        if key:
            hdrs["X-API-Key"] = key
        payload = raw if raw is not None else (json.dumps(body) if body is not None else None)
        if payload is None and method in ("POST", "PATCH", "PUT"):
            payload = b""
        result = await self.client.fetch(url, method=method, body=payload, headers=hdrs, raise_error=False,
                                         allow_nonstandard_methods=True, request_timeout=60)
        return Response(result)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)

    def patch(self, path, body=None, **kw):
        return self.request("PATCH", path, body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    async def signup(self, email=None, password="correct horse", name="Test User"):
        email = email or f"user-{secrets.token_hex(4)}@example.com"
        response = await self.post("/auth/register", {"email": email, "password": password, "name": name})
        assert response.status == 201, response
        return response.data["token"]

    async def new_project(self, token, name="Acme", slug=None):
        body = {"name": name}
        if slug:
            body["slug"] = slug
        response = await self.post("/projects", body, token=token)
        assert response.status == 201, response
        return response.data

    async def owner(self, slug="acme"):
        """A signed-up user with one project: (token, project dict including its secret_key)."""
        token = await self.signup(email=f"owner-{secrets.token_hex(3)}@example.com")
        return token, await self.new_project(token, name=slug.title(), slug=slug)


@pytest.fixture
def api(http_client, base_url):
    return Api(http_client, base_url)


def table_count(model) -> int:
    with unit_of_work():
        return model.select().count()


# --- a real server process, and a real browser ------------------------------------------------

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """`python server.py` in a process of its own, on a free loopback port."""

    def __init__(self, env: dict, args: tuple = (), log_path: str | None = None):
        self.port_given = bool(env.get("WINDBACK_PORT"))
        self.port = int(env.get("WINDBACK_PORT") or free_port())
        self.env = {**os.environ, **env, "WINDBACK_PORT": str(self.port), "WINDBACK_HOST": "127.0.0.1"}
        self.args = args
        self.log_path = log_path or tempfile.mktemp(prefix="windback-server-", suffix=".log")
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        scheme = "https" if self.env.get("WINDBACK_TLS_CERT") else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0, attempts: int = 3) -> "LiveServer":
        self._log = open(self.log_path, "ab")
        self.process = subprocess.Popen([sys.executable, os.path.join(ROOT, "server.py"), *self.args],
                                        cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                if attempts > 1 and not self.port_given and "Address already in use" in self.read_log()[-500:]:
                    # Another process took the free port between free_port() and bind: take another.
                    self._log.close()
                    self.port = free_port()
                    self.env["WINDBACK_PORT"] = str(self.port)
                    return self.start(timeout, attempts - 1)
                raise RuntimeError(f"server exited with {self.process.returncode}: {self.read_log()[-3000:]}")
            try:
                context = ssl._create_unverified_context() if self.url.startswith("https") else None
                with urllib.request.urlopen(self.url + "/health", timeout=1, context=context) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"server did not become healthy: {self.read_log()[-3000:]}")

    def stop(self, sig=None) -> int | None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig or signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if getattr(self, "_log", None):
            self._log.close()
        return self.process.returncode if self.process else None

    def kill(self) -> None:
        """kill -9: no chance to finish anything."""
        self.process.kill()
        self.process.wait(10)
        self._log.close()

    def read_log(self) -> str:
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as handle:
                return handle.read()
        except FileNotFoundError:
            return ""


@pytest.fixture
def live_server(migrated, test_env, tmp_path):
    """Start with `live_server()` (optionally `live_server(env={...}, args=(...))`); stopped after the test."""
    _empty_tables()
    started = []

    def start(env: dict | None = None, args: tuple = ()) -> LiveServer:
        live = LiveServer({**test_env, "WINDBACK_DATABASE_URL": migrated, **(env or {})}, args,
                          log_path=str(tmp_path / f"server-{len(started)}.log"))
        started.append(live)
        return live.start()

    yield start
    for live in started:
        live.stop()


@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium through Playwright. Skipped locally when either is missing; under
    CI=true a missing browser fails the run (.ci/run installs it).

    Module-scoped: while Playwright's sync API is started, its event loop counts as running in the
    main thread, and every later pytest-tornado `gen_test` fails with "Cannot run the event loop
    while another loop is running". Stopping it after each browser module frees the thread."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    if CHROMIUM is None or sync_playwright is None:
        message = "browser tests need Debian's chromium and the playwright package"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    playwright = sync_playwright().start()
    instance = playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    )
    yield instance
    instance.close()
    playwright.stop()
