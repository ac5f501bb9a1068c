"""Windback server: `python server.py` (settings from WINDBACK_* environment variables)."""
from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import logging
import signal
import ssl
import sys

import tornado.httpserver
import tornado.ioloop
import tornado.netutil
import tornado.web

from actors.project import start_project_actor
from actors.registry import ProjectActors
from config import VERSION, ConfigError, Settings, load_settings
from handlers import all_routes
from handlers.base import NotFoundHandler
from handlers.https import StrictTransportSecurity
from handlers.request_log import log_request
from services.billing.offers import resume_stale_actions
from services.ratelimit import RateLimiter
from services import customers
from services.change_feed import ChangeFeed
from services.context import Context
from services import security
from services.job_kinds import scheduler_for
from services.mailer import make_mailer
from services.project_cache import ProjectScopedCache
from services.supervisor import fork_children, stop_requested
from services.webhooks.intake import resume_unapplied
from services.writers import make_writer
from store import churn_events, idempotency, outbound_deliveries, project_changes, users
from store.db import (WalCheckpointer, close_database, init_database, refresh_statistics, run_db, start_executor,
                      stop_executor, unit_of_work)
from store.migrations import migrate_database

log = logging.getLogger("windback")
GC_THRESHOLDS = (20_000, 10, 10)  # see tune_garbage_collector
# Tornado's own limit sits above ours, so a body just over 1 MiB gets the 413 envelope.
TORNADO_MAX_BODY = 8 * 1024 * 1024


def build_context(settings: Settings) -> Context:
    """Open the database (migrating it), and build what the handlers share."""
    init_database(settings.database_url, max_connections=settings.database_connections,
                  writer_cache_mb=settings.sqlite_writer_cache_mb)
    # Before any other thread opens a connection: they all leave checkpoints to this one.
    checkpointer = WalCheckpointer() if settings.on_sqlite else None
    with unit_of_work():
        migrate_database()
        secret = settings.secret or users.shared_secret()
    refresh_statistics()
    start_executor(settings.db_workers)
    security.warm_up(settings.bcrypt_rounds)  # the first unknown-email login costs no extra hash
    # An actor command changes a project's churn data, never its settings: only the caches of
    # that data forget the project (the widget config stays cached under a webhook stream).
    actors = ProjectActors(start_project_actor, timeout=settings.actor_timeout,
                           max_actors=settings.max_actors, threads=settings.actor_pool_threads,
                           shared_transaction_seconds=settings.shared_transaction_seconds,
                           idle_seconds=settings.actor_idle_seconds,
                           on_change=lambda project_id: ctx.data_changed(project_id))
    ctx = Context(settings=settings, secret=secret, mailer=make_mailer(settings), actors=actors,
                  limiter=RateLimiter(settings.rate_limit_scale), writer=make_writer(settings),
                  keys=ProjectScopedCache(settings.project_cache_size),
                  projects=ProjectScopedCache(settings.project_cache_size))
    with unit_of_work():  # from here on, other processes' changes to projects reach the caches
        ctx.extras["change_feed"] = ChangeFeed(ctx)
    if checkpointer is not None:
        ctx.extras["wal_checkpointer"] = checkpointer  # stopped with the other services
    return ctx


def make_app(ctx: Context) -> tornado.web.Application:
    return tornado.web.Application(
        all_routes(),
        transforms=[functools.partial(StrictTransportSecurity, settings=ctx.settings)],
        ctx=ctx,
        default_handler_class=NotFoundHandler,
        log_function=log_request,
        compress_response=False,
        xheaders=False,  # X-Forwarded-* is believed only from WINDBACK_TRUSTED_PROXIES
    )


def start_background_tasks(ctx: Context) -> list[tornado.ioloop.PeriodicCallback]:
    async def housekeeping():
        ctx.actors.stop_idle()
        try:
            await run_db(churn_events.sweep_lost)
            await run_db(idempotency.purge_expired)
            await run_db(outbound_deliveries.purge_settled)
            await run_db(project_changes.purge)
            await resume_unapplied(ctx)  # webhook events stored but never applied (e.g. a restart)
            await run_db(refresh_statistics)
            await customers.refresh_all(ctx)  # risk scores: new activity, and days passing
        except Exception:
            log.exception("housekeeping failed")

    async def resume_billing():
        try:
            await resume_stale_actions(ctx)  # billing actions a stopped process left pending
        except Exception:
            log.exception("resuming billing actions failed")

    tasks = [tornado.ioloop.PeriodicCallback(housekeeping, 60_000),
             tornado.ioloop.PeriodicCallback(resume_billing, max(1000, ctx.settings.billing_timeout * 1000)),
             tornado.ioloop.PeriodicCallback(ctx.extras["change_feed"].poll, ctx.settings.change_poll_seconds * 1000)]
    for task in tasks:
        task.start()
    return tasks


class Server:
    """The HTTP server with a graceful stop: stop accepting, finish requests in flight, drain
    the actors, close the database."""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.app = make_app(ctx)
        self.http: tornado.httpserver.HTTPServer | None = None
        self.tasks: list = []

    def listen(self, port: int | None = None, reuse_port: bool = False) -> int:
        settings = self.ctx.settings
        ssl_ctx = None
        if settings.tls_cert:
            ssl_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ssl_ctx.load_cert_chain(settings.tls_cert, settings.tls_key)
        self.http = tornado.httpserver.HTTPServer(self.app, ssl_options=ssl_ctx, max_body_size=TORNADO_MAX_BODY,
                                                  idle_connection_timeout=60, body_timeout=30)
        sockets = tornado.netutil.bind_sockets(settings.port if port is None else port, settings.host,
                                               reuse_port=reuse_port)
        self.http.add_sockets(sockets)
        self.tasks = start_background_tasks(self.ctx)
        scheduler_for(self.ctx).start()
        return sockets[0].getsockname()[1]

    async def stop(self, grace: float = 10.0) -> None:
        for task in self.tasks:
            task.stop()
        if self.http:
            self.http.stop()  # stop accepting
            deadline = asyncio.get_running_loop().time() + grace
            while self.ctx.in_flight and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.02)
            if self.ctx.in_flight:
                log.warning("%d requests still in flight after %.0f s; stopping anyway", self.ctx.in_flight, grace)
            await self.http.close_all_connections()
        await scheduler_for(self.ctx).shutdown()  # runs in progress finish; nothing new is claimed
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.ctx.stop_services)  # writers flush what they hold
        await loop.run_in_executor(None, self.ctx.actors.stop_all)
        stop_executor()
        close_database()


def configure_logging(level: str) -> None:
    logging.basicConfig(level=getattr(logging, level.upper()), format="%(message)s", stream=sys.stdout)
    logging.getLogger("tornado.access").setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Windback server")
    parser.add_argument("--port", type=int, help="override WINDBACK_PORT")
    parser.add_argument("--processes", type=int, default=1,
                        help="serve with N processes sharing the port (PostgreSQL recommended)")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as error:
        print(f"windback: configuration error: {error}", file=sys.stderr)
        return 2
    if args.port is not None:
        settings = settings.replace(port=args.port)
    configure_logging(settings.log_level)
    if args.processes > 1:
        # Migrate once in the parent, then fork; every child builds its own context, actors and
        # database pool, and binds with SO_REUSEPORT. The parent forwards SIGTERM/SIGINT.
        init_database(settings.database_url)
        with unit_of_work():
            migrate_database()
        close_database()
        if fork_children(args.processes) is None:
            print("Windback: every process stopped", flush=True)
            return 0  # the supervising parent, after all children stopped
    asyncio.run(serve(settings, reuse_port=args.processes > 1))
    return 0


def tune_garbage_collector() -> None:
    """Python's default collects the youngest objects after every 700 allocations; with dozens of
    requests in flight that promotes their objects to the oldest generation, whose full
    collections then scan every cached project and actor: with 10,000 projects in the caches,
    a 100+ ms pause every two seconds (docs/BENCHMARKS.md, "Many projects at once, a fourth
    time"). Collect less often, and never scan again what start-up made (modules, routes,
    schemas: never garbage)."""
    gc.set_threshold(*GC_THRESHOLDS)
    gc.freeze()


async def serve(settings: Settings, reuse_port: bool = False) -> None:
    ctx = build_context(settings)
    tune_garbage_collector()
    server = Server(ctx)
    port = server.listen(reuse_port=reuse_port)
    scheme = "https" if settings.tls_cert else "http"
    database = settings.database_url.rsplit("@", 1)[-1]
    print(f"Windback {VERSION} listening on {scheme}://{settings.host}:{port}", flush=True)
    print(f"  database: {database}", flush=True)
    print(f"  email:    {settings.mail_backend}", flush=True)
    print(f"  writer:   {settings.writer_backend}", flush=True)
    if not settings.secret:
        print("  warning:  WINDBACK_SECRET is not set; using a generated secret stored in the database",
              flush=True)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    if stop_requested():  # told to stop while starting up
        stopping.set()
    await stopping.wait()
    print("Windback: stopping (finishing requests in flight)", flush=True)
    await server.stop()


if __name__ == "__main__":
    sys.exit(main())
