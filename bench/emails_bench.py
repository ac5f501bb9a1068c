"""Recovery emails benchmark: `generate` (template writer) and `send` (to a loopback SMTP sink)
against a real server process, plus the template writer alone in-process.

    python bench/emails_bench.py [--events 200] [--concurrency 8] [--database-url URL]

Starts an aiosmtpd sink and `python server.py` (SQLite in a temp dir unless --database-url),
creates a project with N churn events, then measures requests/second and latency percentiles of
(1) generating nine variants per event and (2) sending one variant each through SMTP. Rate
limiting is off (WINDBACK_RATE_LIMIT_SCALE=0). Numbers go in docs/BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class CountingSink:
    def __init__(self):
        self.accepted = 0

    async def handle_DATA(self, server, session, envelope):
        self.accepted += 1
        return "250 OK"


def template_writer_cost(rounds: int = 2000) -> dict:
    from services.writers.brief import make_brief
    from services.writers.template import TemplateWriter

    writer = TemplateWriter()
    brief = make_brief(customer_name="Ada Lovelace", plan="Pro", reason="too_expensive", currency="USD",
                       project_name="Acme", settings={})
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        writer.write_sync(brief)
        samples.append((time.perf_counter() - started) * 1e6)
    samples.sort()
    return {"median_us": round(statistics.median(samples), 1), "p99_us": round(samples[int(len(samples) * 0.99)], 1)}


async def run(base: str, events: int, concurrency: int) -> dict:
    from tornado.httpclient import AsyncHTTPClient

    client = AsyncHTTPClient(max_clients=concurrency)

    async def call(method, path, body=None, headers=None):
        response = await client.fetch(base + "/api/v1" + path, method=method, raise_error=False,
                                      body=json.dumps(body) if body is not None else (b"" if method == "POST" else None),
                                      headers=headers or {})
        return response.code, json.loads(response.body) if response.body else None

    code, answer = await call("POST", "/auth/register", {"email": f"bench-{secrets.token_hex(4)}@example.com",
                                                         "password": "correct horse battery"})
    assert code == 201, answer
    token = answer["data"]["token"]
    code, answer = await call("POST", "/projects", {"name": f"Bench {secrets.token_hex(3)}"},
                              {"Authorization": f"Bearer {token}"})
    assert code == 201, answer
    slug, key = answer["data"]["slug"], {"X-API-Key": answer["data"]["secret_key"]}
    ids = []
    for i in range(events):
        code, answer = await call("POST", f"/projects/{slug}/churn-events",
                                  {"customer_email": f"customer{i}@example.com", "customer_name": f"Customer {i}",
                                   "plan": "Pro", "cancel_reason": "too_expensive", "mrr_cents": 4900}, key)
        assert code == 201, answer
        ids.append(answer["data"]["id"])

    async def phase(paths: list[str]) -> tuple[dict, list]:
        queue = list(paths)
        latencies, results = [], []

        async def worker():
            while queue:
                path = queue.pop()
                started = time.perf_counter()
                code, answer = await call("POST", path, headers=key)
                latencies.append((time.perf_counter() - started) * 1000)
                results.append((code, answer))

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        latencies.sort()
        codes = {}
        for code, _ in results:
            codes[code] = codes.get(code, 0) + 1
        return {"requests": len(paths), "per_second": round(len(paths) / elapsed, 1),
                "p50_ms": round(latencies[len(latencies) // 2], 2),
                "p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 2),
                "status_codes": codes}, results

    generate, results = await phase([f"/projects/{slug}/churn-events/{i}/generate" for i in ids])
    variants = [(answer["data"][0]["churn_event_id"], answer["data"][0]["id"]) for code, answer in results
                if code == 201]
    send, _ = await phase([f"/projects/{slug}/churn-events/{e}/variants/{v}/send" for e, v in variants])
    return {"generate": generate, "send": send}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--database-url")
    args = parser.parse_args()

    from aiosmtpd.controller import Controller

    sink = CountingSink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    workdir = tempfile.mkdtemp(prefix="windback-bench-")
    port = free_port()
    env = {**os.environ, "WINDBACK_PORT": str(port), "WINDBACK_HOST": "127.0.0.1",
           "WINDBACK_DATABASE_URL": args.database_url or f"sqlite:///{workdir}/bench.db",
           "WINDBACK_SECRET": secrets.token_urlsafe(40), "WINDBACK_RATE_LIMIT_SCALE": "0",
           "WINDBACK_BCRYPT_ROUNDS": "4", "WINDBACK_SMTP_URL": f"smtp://127.0.0.1:{controller.port}",
           "WINDBACK_LOG_LEVEL": "warning"}
    env.pop("WINDBACK_OPENAI_API_KEY", None)
    env.pop("OPENAI_API_KEY", None)
    server = subprocess.Popen([sys.executable, os.path.join(ROOT, "server.py")], cwd=workdir, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                urllib.request.urlopen(base + "/health", timeout=1)
                break
            except OSError:
                time.sleep(0.05)
        results = asyncio.run(run(base, args.events, args.concurrency))
        results["template_writer_nine"] = template_writer_cost()
        results["smtp_accepted"] = sink.accepted
        results["database"] = "postgresql" if args.database_url else "sqlite"
        results["concurrency"] = args.concurrency
        print(json.dumps(results, indent=2))
    finally:
        server.terminate()
        server.wait(20)
        controller.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
