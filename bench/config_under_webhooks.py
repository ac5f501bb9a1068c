"""The widget's config under a steady webhook stream: how often it goes to the database.

    python bench/config_under_webhooks.py [--seconds 10] [--rate 100] [--source DIR]

Starts `python server.py` from DIR (default: this checkout; point it at another checkout to
compare) on a temporary PostgreSQL database (BENCH_PG_ADMIN_URL, default
postgresql://postgres@127.0.0.1:5432/postgres), gives a project a Stripe webhook secret, then for
`--seconds` posts signed Stripe churn deliveries at `--rate` per second (each applied by the
project's actor) while wrk fetches the widget config (`GET /api/v1/cancel-flow/config/:key`).
Reported: config requests/s, the server's CPU per config request (the webhook work included, the
same in both checkouts), and the database lookups of a project by key during the run
(`pg_stat_user_tables` scans of `project_keys`): a config fetch served from the cache makes none.
"""
from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

import psycopg2

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECRET = "whsec_bench_config_under_webhooks"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def call(base: str, method: str, path: str, body=None, headers=None, raw: bytes | None = None) -> dict:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(base + path, method=method, data=data,
                                     headers={"Content-Type": "application/json", **(headers or {})})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def key_lookups(url: str) -> int:
    """Scans of project_keys so far (sequential + index), as PostgreSQL counts them."""
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT coalesce(seq_scan, 0) + coalesce(idx_scan, 0) FROM pg_stat_user_tables "
                    "WHERE relname = 'project_keys'")
        return int(cur.fetchone()[0])


def cpu_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def send_webhooks(base: str, public_key: str, rate: float, stop: threading.Event, sent: list) -> None:
    interval, next_at = 1.0 / rate, time.monotonic()
    while not stop.is_set():
        customer = "cus_" + secrets.token_hex(6)
        body = json.dumps({"id": "evt_" + secrets.token_hex(8), "type": "customer.subscription.deleted",
                           "created": int(time.time()), "data": {"object": {
                               "id": "sub_" + customer[4:], "customer": customer, "metadata": {},
                               "items": {"data": [{"quantity": 1, "price": {
                                   "unit_amount": 2900, "currency": "usd", "recurring": {"interval": "month"}}}]}}}
                          }).encode()
        t = int(time.time())
        signature = hmac.new(SECRET.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
        call(base, "POST", f"/api/v1/webhooks/stripe/{public_key}", raw=body,
             headers={"Stripe-Signature": f"t={t},v1={signature}"})
        sent.append(1)
        next_at += interval
        stop.wait(max(0.0, next_at - time.monotonic()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rate", type=float, default=100, help="webhook deliveries per second")
    parser.add_argument("--source", default=ROOT, help="the checkout whose server.py runs")
    args = parser.parse_args()
    admin = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"windback_bench_{secrets.token_hex(4)}"
    conn = psycopg2.connect(admin)
    conn.autocommit = True
    conn.cursor().execute(f'CREATE DATABASE "{name}"')
    database_url = urllib.parse.urlunsplit(urllib.parse.urlsplit(admin)._replace(path="/" + name))
    port = free_port()
    work = tempfile.mkdtemp(prefix="windback-config-bench-")
    env = {**os.environ, "WINDBACK_DATABASE_URL": database_url, "WINDBACK_PORT": str(port),
           "WINDBACK_HOST": "127.0.0.1", "WINDBACK_RATE_LIMIT_SCALE": "0", "WINDBACK_BCRYPT_ROUNDS": "4",
           "WINDBACK_LOG_LEVEL": "warning", "WINDBACK_OUTBOX_DIR": f"{work}/outbox"}
    server = subprocess.Popen([sys.executable, "server.py"], cwd=args.source, env=env,
                              stdout=open(f"{work}/server.log", "wb"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(base + "/health", timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        token = call(base, "POST", "/api/v1/auth/register", {"email": "bench@example.com",
                                                              "password": "bench-password"})["data"]["token"]
        auth = {"Authorization": f"Bearer {token}"}
        project = call(base, "POST", "/api/v1/projects", {"name": "Bench", "slug": "bench"}, auth)["data"]
        call(base, "PATCH", "/api/v1/projects/bench", {"settings": {"stripe_webhook_secret": SECRET}}, auth)
        public_key = project["public_key"]
        call(base, "GET", f"/api/v1/cancel-flow/config/{public_key}")  # warm
        stop, sent = threading.Event(), []
        sender = threading.Thread(target=send_webhooks, args=(base, public_key, args.rate, stop, sent))
        time.sleep(1.5)  # statistics reach pg_stat_user_tables within a second
        lookups_before, ticks_before = key_lookups(database_url), cpu_ticks(server.pid)
        sender.start()
        report = subprocess.run(["wrk", "-t1", "-c8", f"-d{args.seconds}s", "-s",
                                 os.path.join(ROOT, "bench", "workloads", "config.lua"), base],
                                env={**os.environ, "BENCH_PUBLIC_KEY": public_key},
                                capture_output=True, text=True, check=True).stdout
        stop.set()
        sender.join()
        ticks = cpu_ticks(server.pid) - ticks_before
        time.sleep(1.5)
        lookups = key_lookups(database_url) - lookups_before
        requests = int(re.search(r"(\d+) requests in", report).group(1))
        print(f"{args.source}: {args.seconds} s, {len(sent)} webhook deliveries ({len(sent) / args.seconds:.0f}/s), "
              f"{requests} config fetches ({requests / args.seconds:.0f}/s)")
        print(f"server CPU per config fetch (webhook work included): "
              f"{ticks / os.sysconf('SC_CLK_TCK') * 1e6 / requests:.0f} us")
        print(f"project-key lookups in the database: {lookups} ({lookups / requests:.3f} per config fetch, "
              f"{lookups / max(1, len(sent)):.2f} per webhook)")
    finally:
        server.terminate()
        server.wait(20)
        conn.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
