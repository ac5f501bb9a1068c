"""Analytics benchmark: `stats`, `cohorts` and `forecasting` over a year of demo data, cold and cached,
against a real server process.

    python bench/analytics_bench.py [--events 100000] [--database-url URL] [--reuse] [--cold 30] [--cached 300]

Seeds `scripts/seed_demo.py --events N` into a database (a SQLite file in a temp dir unless
--database-url; --reuse keeps an already seeded one), starts `python server.py` (one process,
rate limiting off), and times each endpoint from one keep-alive client:

- cold: a write to the project (POST churn-events, through its actor) before every timed request,
  so the cache has forgotten the project and the answer is computed by the database;
- cached: the same request again and again.

Wall times depend on what else the machine runs; the server's own CPU time per cold request
(from /proc, averaged) does much less, and is printed beside them.

Prints median and p99 in milliseconds, as JSON too. Numbers go in docs/BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENDPOINTS = (
    ("stats", "/api/v1/projects/{slug}/stats"),
    ("cohorts", "/api/v1/projects/{slug}/cohorts?months=12"),
    ("forecasting", "/api/v1/projects/{slug}/forecasting?horizon=3"),
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_script(env: dict, *args: str) -> str:
    done = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def start_server(env: dict, port: int) -> subprocess.Popen:
    log = open(os.path.join(tempfile.gettempdir(), f"windback-analytics-bench-{port}.log"), "wb")
    process = subprocess.Popen([sys.executable, os.path.join(ROOT, "server.py")], cwd=ROOT, env=env,
                               stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as response:
                if response.status == 200:
                    return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("the server did not start; see " + log.name)


class Client:
    def __init__(self, port: int, key: str):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"X-API-Key": key, "Content-Type": "application/json"}

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, float, bytes]:
        started = time.perf_counter()
        self.connection.request(method, path, body=json.dumps(body) if body is not None else None,
                                headers=self.headers)
        response = self.connection.getresponse()
        payload = response.read()
        return response.status, (time.perf_counter() - started) * 1000, payload


def cpu_ms(pid: int) -> float:
    """CPU time (user + system, all threads) the server process has used, in ms. Sampled by the
    kernel at clock ticks: meaningful as an average over many requests, not for one."""
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def summary(samples: list[float]) -> dict:
    ordered = sorted(samples)
    return {"n": len(ordered), "median_ms": round(statistics.median(ordered), 2),
            "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--database-url", help="default: a SQLite file in a temp dir")
    parser.add_argument("--reuse", action="store_true", help="the database is already seeded: do not seed")
    parser.add_argument("--cold", type=int, default=30, help="timed cold requests per endpoint")
    parser.add_argument("--cached", type=int, default=300, help="timed cached requests per endpoint")
    parser.add_argument("--slug", default="bench")
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{tempfile.mkdtemp(prefix='windback-analytics-bench-')}/bench.db"
    port = free_port()
    env = {**os.environ, "WINDBACK_DATABASE_URL": url, "WINDBACK_PORT": str(port), "WINDBACK_HOST": "127.0.0.1",
           "WINDBACK_RATE_LIMIT_SCALE": "0", "WINDBACK_BCRYPT_ROUNDS": "4", "WINDBACK_LOG_LEVEL": "warning",
           "WINDBACK_SECRET": "bench-secret-" + secrets.token_hex(16),
           "WINDBACK_OUTBOX_DIR": tempfile.mkdtemp(prefix="windback-bench-outbox-")}
    if not args.reuse:
        started = time.perf_counter()
        print(run_script(env, "scripts/seed_demo.py", "--events", str(args.events), "--slug", args.slug,
                         "--email", f"{args.slug}@windback.local", "--reset").splitlines()[0])
        print(f"seeding took {time.perf_counter() - started:.0f} s")
    rotated = run_script(env, "scripts/rotate_keys.py", args.slug)
    key = re.search(r"secret_key=(\S+)", rotated).group(1)
    server = start_server(env, port)
    results: dict = {"database": url.split("://")[0], "events": args.events}
    try:
        client = Client(port, key)
        for name, path in ENDPOINTS:
            path = path.format(slug=args.slug)
            status, _, payload = client.call("GET", path)  # warm the server's code paths and the OS cache
            assert status == 200, payload[:300]
            cold, cold_cpu = [], 0.0
            for i in range(args.cold):
                status, _, payload = client.call("POST", f"/api/v1/projects/{args.slug}/churn-events",
                                                 {"customer_email": f"bench-{name}-{i}-{secrets.token_hex(3)}@example.com",
                                                  "mrr_cents": 4900})
                assert status == 201, payload[:300]
                before = cpu_ms(server.pid)
                status, ms, payload = client.call("GET", path)
                cold_cpu += cpu_ms(server.pid) - before
                assert status == 200, payload[:300]
                cold.append(ms)
            cached = []
            for _ in range(args.cached):
                status, ms, payload = client.call("GET", path)
                assert status == 200
                cached.append(ms)
            results[name] = {"cold": {**summary(cold), "server_cpu_ms_mean": round(cold_cpu / len(cold), 1)},
                             "cached": summary(cached)}
            print(f"{name:12s} cold median {results[name]['cold']['median_ms']:7.2f} ms  p99 "
                  f"{results[name]['cold']['p99_ms']:7.2f} ms (server CPU {results[name]['cold']['server_cpu_ms_mean']:5.1f} ms)"
                  f" | cached median {results[name]['cached']['median_ms']:6.2f} ms"
                  f"  p99 {results[name]['cached']['p99_ms']:6.2f} ms", flush=True)
    finally:
        server.terminate()
        server.wait(30)
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
