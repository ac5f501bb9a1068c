"""A burst of failed-payment webhooks: how fast they are answered, and how soon the first dunning
emails follow.

    python bench/dunning_burst.py [--count 1000] [--connections 16] [--database-url URL]

Starts Windback server (temp SQLite unless `--database-url`; emails to a file outbox), creates a
project with a Stripe webhook secret and the default dunning sequence, and sends `--count`
signed `invoice.payment_failed` deliveries (each a new invoice, so each opens a recovery and
schedules its emails; step 0 is due at once) from `--connections` keep-alive connections. Then
the same number of `customer.subscription.deleted` deliveries (the churn path, the webhook
workload's usual kind) for reference. Reports requests/s and server CPU us per request of both
bursts, and the seconds from the first failed-payment request to the first and to the last
step-0 email in the outbox.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import glob
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

import stripe

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from bench.setup import call  # noqa: E402

SECRET = "whsec_bench_0123456789abcdef"


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(work: str, database_url: str | None) -> tuple[subprocess.Popen, int, str]:
    """`server.py` on a free port (temp SQLite in `work` unless `database_url`; emails to
    `work/outbox`; rate limits off), once it answers /health: (process, port, database URL)."""
    port = free_port()
    url = database_url or f"sqlite:///{work}/bench.db"
    env = {**os.environ, "WINDBACK_PORT": str(port), "WINDBACK_HOST": "127.0.0.1", "WINDBACK_RATE_LIMIT_SCALE": "0",
           "WINDBACK_BCRYPT_ROUNDS": "4", "WINDBACK_LOG_LEVEL": "warning",
           "WINDBACK_OUTBOX_DIR": os.path.join(work, "outbox"), "WINDBACK_DATABASE_URL": url}
    with open(os.path.join(work, "server.log"), "wb") as log:
        server = subprocess.Popen([sys.executable, os.path.join(ROOT, "server.py")], cwd=ROOT, env=env, stdout=log,
                                  stderr=subprocess.STDOUT)
    for _ in range(100):
        try:
            call(f"http://127.0.0.1:{port}", "GET", "/health")
            break
        except OSError:
            time.sleep(0.1)
    return server, port, url


def deliveries(kind: str, count: int, run: str) -> list[tuple[str, bytes]]:
    now = int(time.time())
    out = []
    for i in range(count):
        if kind == "failed":
            obj = {"id": f"in_{run}_{i}", "object": "invoice", "customer": f"cus_{run}_{i}",
                   "customer_email": f"payer-{i}@example.com", "amount_due": 4900, "currency": "usd",
                   "subscription": f"sub_{run}_{i}", "attempt_count": 1,
                   "hosted_invoice_url": f"https://invoice.stripe.com/i/{run}_{i}"}
            event_type = "invoice.payment_failed"
        else:
            obj = {"id": f"sub_{run}_c{i}", "object": "subscription", "customer": f"cus_{run}_c{i}",
                   "metadata": {"email": f"leaver-{i}@example.com"}, "currency": "usd",
                   "cancellation_details": {"reason": "cancellation_requested", "feedback": "too_expensive"},
                   "items": {"data": [{"quantity": 1, "price": {"unit_amount": 4900, "currency": "usd",
                                                                 "recurring": {"interval": "month"}}}]}}
            event_type = "customer.subscription.deleted"
        body = json.dumps({"id": f"evt_{run}_{kind}_{i}", "object": "event", "type": event_type, "created": now,
                           "data": {"object": obj}}, separators=(",", ":"))
        out.append((stripe.WebhookSignature.generate_signature_header(body, SECRET, timestamp=now), body.encode()))
    return out


def burst(port: int, path: str, items: list, connections: int) -> float:
    """Send every item; returns the wall seconds. Each worker keeps one connection alive."""
    lock = threading.Lock()
    queue = list(reversed(items))

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while True:
            with lock:
                if not queue:
                    break
                signature, body = queue.pop()
            conn.request("POST", path, body, {"Stripe-Signature": signature, "Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            assert response.status == 200, response.status
        conn.close()

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(connections) as pool:
        for future in [pool.submit(worker) for _ in range(connections)]:
            future.result()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="windback-dunning-bench-")
    outbox = os.path.join(work, "outbox")
    server, port, _ = start_server(work, args.database_url)
    base = f"http://127.0.0.1:{port}"
    try:
        token = call(base, "POST", "/api/v1/auth/register", {"email": "bench@example.com",
                                                              "password": "bench-password"})["data"]["token"]
        project = call(base, "POST", "/api/v1/projects", {"name": "Bench", "slug": "bench"},
                       {"Authorization": f"Bearer {token}"})["data"]
        call(base, "PATCH", "/api/v1/projects/bench", {"settings": {"stripe_webhook_secret": SECRET}},
             {"Authorization": f"Bearer {token}"})
        path = f"/api/v1/webhooks/stripe/{project['public_key']}"
        run = str(int(time.time()))
        results = {}
        for kind in ("failed", "churn"):
            items = deliveries(kind, args.count, run)
            cpu_before, started = cpu_seconds(server.pid), time.time()
            seconds = burst(port, path, items, args.connections)
            cpu = cpu_seconds(server.pid) - cpu_before
            results[kind] = (args.count / seconds, cpu / args.count * 1e6, started)
            if kind == "failed":
                first = last = None
                deadline = time.time() + 300
                while time.time() < deadline:
                    files = glob.glob(os.path.join(outbox, "*.eml"))
                    if files and first is None:
                        first = min(os.path.getmtime(f) for f in files) - started
                    if len(files) >= args.count:
                        last = max(os.path.getmtime(f) for f in files) - started
                        break
                    time.sleep(0.05)
                results["emails"] = (first, last, len(glob.glob(os.path.join(outbox, "*.eml"))))
        db = "PostgreSQL" if args.database_url else "SQLite"
        print(f"{args.count} deliveries per burst, {args.connections} keep-alive connections, {db}, "
              f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load {open('/proc/loadavg').read().split()[:3]}")
        for kind, label in (("failed", "invoice.payment_failed (opens a recovery, schedules 3 emails)"),
                            ("churn", "customer.subscription.deleted (a churn, for reference)")):
            rps, cpu_us, _ = results[kind]
            print(f"  {label}: {rps:,.0f} req/s, server CPU {cpu_us:,.0f} us/request (the answer and the work after it)")
        first, last, sent = results["emails"]
        print(f"  step-0 emails: first {first:.1f} s after the burst began, all {sent} by {last:.1f} s"
              if last is not None else f"  step-0 emails: only {sent} in 300 s")
    finally:
        server.terminate()
        server.wait(30)


if __name__ == "__main__":
    main()
