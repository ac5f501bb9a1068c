"""Signed Stripe deliveries per second against the bare Tornado ceiling, in one run.

    python bench/webhooks.py [--duration 10] [--connections 32] [--database-url URL] [--kind churn|ignored|payment_failed]

Starts a bare Tornado app (this file with `--baseline PORT`: parse the JSON body, answer fixed
JSON) and Windback server (temp SQLite unless `--database-url`), creates a project with a Stripe
webhook secret, pre-signs one delivery per request (fresh event id, current timestamp, so nothing
is a duplicate and every signature is within Stripe's 300 s tolerance), and drives both with wrk
(`-c CONNECTIONS`, keep-alive over loopback). Afterwards it checks that every acknowledged event
is in the database and waits for the project's actor to apply them all.
"""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECRET = "whsec_bench_0123456789abcdef0123456789"

LUA = r"""
local requests, n = {}, 0
local threads = {}
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end
function init(args)
  local nthreads = tonumber(os.getenv("BENCH_WRK_THREADS"))
  local i = 0
  for line in io.lines(os.getenv("BENCH_REQUESTS")) do
    if i % nthreads == tid then
      local sig, body = line:match("^([^\t]*)\t(.*)$")
      requests[#requests + 1] = wrk.format("POST", os.getenv("BENCH_PATH"),
        {["Content-Type"] = "application/json", ["Stripe-Signature"] = sig}, body)
    end
    i = i + 1
  end
  ok, dup, bad = 0, 0, 0
end
function request()
  n = n + 1
  return requests[(n - 1) % #requests + 1]
end
function response(status, headers, body)
  if status == 200 then
    if body:find('"duplicate":true', 1, true) then dup = dup + 1 else ok = ok + 1 end
  else
    bad = bad + 1
  end
end
function done(summary, latency, requests)
  local t_ok, t_dup, t_bad = 0, 0, 0
  for _, thread in ipairs(threads) do
    t_ok = t_ok + thread:get("ok"); t_dup = t_dup + thread:get("dup"); t_bad = t_bad + thread:get("bad")
  end
  io.write(string.format("COUNTS acked=%d duplicates=%d refused=%d\n", t_ok, t_dup, t_bad))
end
"""


def baseline(port: int) -> None:
    import tornado.web

    class Anything(tornado.web.RequestHandler):
        def set_default_headers(self):
            self.set_header("Content-Type", "application/json; charset=utf-8")

        def post(self, _path):
            json.loads(self.request.body)
            self.finish('{"data":{"received":true,"duplicate":false}}')

        def get(self, _path):
            self.finish('{"data":{"status":"ok"}}')

    async def serve():
        tornado.web.Application([(r"/(.*)", Anything)], log_function=lambda h: None).listen(port, "127.0.0.1")
        await asyncio.Event().wait()

    asyncio.run(serve())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_up(url: str) -> None:
    for _ in range(300):
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"bench: {url} did not come up")


def call(base: str, method: str, path: str, body: dict, token: str | None = None) -> dict:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    request = urllib.request.Request(base + "/api/v1" + path, json.dumps(body).encode(), headers, method=method)
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read())["data"]


def stripe_delivery(n: int, kind: str, run: str) -> tuple[str, str]:
    customer = f"cus_{run}{n:07d}"
    event_type = "customer.subscription.deleted" if kind == "churn" else "charge.succeeded"
    body = json.dumps({
        "id": f"evt_{run}_{n}", "object": "event", "type": event_type, "created": int(time.time()),
        "livemode": False, "api_version": "2024-06-20",
        "data": {"object": {"id": f"sub_{run}{n}", "object": "subscription", "customer": customer,
                            "status": "canceled", "currency": "usd", "metadata": {"email": f"c{n}@example.com"},
                            "cancellation_details": {"reason": "cancellation_requested", "feedback": "too_expensive"},
                            "items": {"object": "list", "data": [{"id": f"si_{n}", "quantity": 1, "price": {
                                "id": "price_pro", "nickname": "Pro", "unit_amount": 2900, "currency": "usd",
                                "recurring": {"interval": "month", "interval_count": 1}}}]}}},
    }, separators=(",", ":"))
    if kind == "payment_failed":  # a failed invoice: opens a payment recovery and schedules its emails
        body = json.dumps({
            "id": f"evt_{run}_{n}", "object": "event", "type": "invoice.payment_failed", "created": int(time.time()),
            "data": {"object": {"id": f"in_{run}{n}", "object": "invoice", "customer": customer,
                                "customer_email": f"c{n}@example.com", "currency": "usd", "amount_due": 2900,
                                "attempt_count": 1, "subscription": f"sub_{run}{n}",
                                "hosted_invoice_url": f"https://invoice.stripe.com/i/{run}{n}"}},
        }, separators=(",", ":"))
    t = int(time.time())
    mac = hmac.new(SECRET.encode(), f"{t}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}", body


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc."""
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(url: str, args, env: dict, pid: int) -> dict:
    before = cpu_seconds(pid)
    out = subprocess.run(["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration}s", "--latency",
                          "-s", env["BENCH_LUA"], url], env={**os.environ, **env}, capture_output=True, text=True)
    text = out.stdout + out.stderr

    def ms(value: str) -> float:
        number = float(re.match(r"[\d.]+", value).group())
        if value.endswith("us"):
            return number / 1000
        return number if value.endswith("ms") else number * 1000

    total = int(re.search(r"(\d+) requests in", text).group(1))
    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)),
              "p50": ms(re.search(r"^\s+50%\s+(\S+)", text, re.M).group(1)),
              "p99": ms(re.search(r"^\s+99%\s+(\S+)", text, re.M).group(1)),
              "requests": total, "cpu_us": (cpu_seconds(pid) - before) / max(total, 1) * 1e6}
    counts = re.search(r"COUNTS acked=(\d+) duplicates=(\d+) refused=(\d+)", text)
    if counts:
        result.update(acked=int(counts.group(1)), duplicates=int(counts.group(2)), refused=int(counts.group(3)))
    return result


def median_of(runs: list[dict], key: str) -> float:
    values = sorted(run[key] for run in runs)
    return values[len(values) // 2]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved ceiling / Windback runs")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--database-url")
    parser.add_argument("--kind", choices=("churn", "ignored", "payment_failed"), default="churn",
                        help="churn: subscription.deleted, each one applied as a new churn event; "
                             "ignored: a type stored as ignored (storage only); payment_failed: "
                             "invoice.payment_failed, each opening a payment recovery with its emails")
    args = parser.parse_args()
    if args.baseline:
        baseline(args.baseline)
        return 0
    if not shutil.which("wrk"):
        raise SystemExit("bench: wrk is not installed (apt-get install wrk)")
    work = tempfile.mkdtemp(prefix="windback-bench-webhooks-")
    database_url = args.database_url or f"sqlite:///{work}/bench.db"
    base_port, server_port = free_port(), free_port()
    processes = [subprocess.Popen([sys.executable, __file__, "--baseline", str(base_port)])]
    env = {**os.environ, "WINDBACK_DATABASE_URL": database_url, "WINDBACK_PORT": str(server_port),
           "WINDBACK_HOST": "127.0.0.1", "WINDBACK_RATE_LIMIT_SCALE": "0", "WINDBACK_BCRYPT_ROUNDS": "4",
           "WINDBACK_LOG_LEVEL": "warning", "WINDBACK_OUTBOX_DIR": f"{work}/outbox",
           "WINDBACK_SECRET": "bench-secret-0123456789abcdef-0123456789"}
    log = open(f"{work}/server.log", "wb")
    profile = ["-m", "cProfile", "-o", os.environ["BENCH_PROFILE"]] if os.environ.get("BENCH_PROFILE") else []
    processes.append(subprocess.Popen([sys.executable, *profile, os.path.join(ROOT, "server.py")], cwd=ROOT,
                                      env=env, stdout=log, stderr=subprocess.STDOUT))
    server_pid, base_pid = processes[1].pid, processes[0].pid
    try:
        server = f"http://127.0.0.1:{server_port}"
        wait_up(server + "/health")
        wait_up(f"http://127.0.0.1:{base_port}/health")
        token = call(server, "POST", "/auth/register", {"email": f"bench-{time.time_ns()}@example.com",
                                                        "password": "correct horse"})["token"]
        project = call(server, "POST", "/projects", {"name": "Bench"}, token)
        call(server, "PATCH", f"/projects/{project['slug']}", {"settings": {"stripe_webhook_secret": SECRET}}, token)
        lua_path = f"{work}/stripe.lua"
        with open(lua_path, "w") as handle:
            handle.write(LUA)
        path = f"/api/v1/webhooks/stripe/{project['public_key']}"

        sys.path.insert(0, ROOT)
        from store.db import init_database, unit_of_work
        from store.webhooks import WebhookEvent

        init_database(database_url)

        def counts() -> tuple[int, int]:
            with unit_of_work():
                mine = WebhookEvent.project == project["id"]
                return (WebhookEvent.select().where(mine).count(),
                        WebhookEvent.select().where(mine & (WebhookEvent.status == "received")).count())

        ceilings, measures, drains = [], [], []
        acked = 0
        for round_no in range(args.rounds):
            # Fresh ids and timestamps each round: no delivery is sent twice, every signature is
            # within Stripe's 300 s tolerance.
            run = os.urandom(3).hex()
            count = args.duration * 9000
            requests_path = f"{work}/requests-{round_no}.tsv"
            with open(requests_path, "w") as handle:
                for n in range(count):
                    handle.write("\t".join(stripe_delivery(n, args.kind, run)) + "\n")
            wrk_env = {"BENCH_REQUESTS": requests_path, "BENCH_PATH": path, "BENCH_LUA": lua_path,
                       "BENCH_WRK_THREADS": str(args.threads)}
            ceilings.append(wrk(f"http://127.0.0.1:{base_port}", args, wrk_env, base_pid))
            measured = wrk(server, args, wrk_env, server_pid)
            measures.append(measured)
            acked += measured.get("acked", 0)
            if measured.get("duplicates") or measured.get("acked", 0) >= count:
                print("bench: warning: the request list wrapped around; raise the count", file=sys.stderr)
            # Let the actor apply everything before the next round, and count what that cost.
            cpu_before, started = cpu_seconds(server_pid), time.monotonic()
            while counts()[1] and time.monotonic() - started < 900:
                time.sleep(0.2)
            drains.append({"seconds": time.monotonic() - started,
                           "cpu_us": (cpu_seconds(server_pid) - cpu_before) / max(measured.get("acked", 1), 1) * 1e6})
            print(f"round {round_no + 1}: ceiling {ceilings[-1]['rps']:.0f}/s, Windback {measured['rps']:.0f}/s "
                  f"(p99 {measured['p99']:.1f} ms), applied {drains[-1]['seconds']:.1f} s after the load",
                  file=sys.stderr)

        stored, waiting = counts()
        rps, base_rps = median_of(measures, "rps"), median_of(ceilings, "rps")
        cpu, base_cpu = median_of(measures, "cpu_us"), median_of(ceilings, "cpu_us")
        rounds = ", ".join(f"{m['rps'] / c['rps']:.0%}" for m, c in zip(measures, ceilings))
        print(f"\n{time.strftime('%Y-%m-%d')}: {os.cpu_count()} cores, "
              f"{'PostgreSQL' if database_url.startswith('postgres') else 'SQLite'}, "
              f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s x {args.rounds} rounds, kind={args.kind}")
        print("| deliveries | bare Tornado req/s | Windback req/s | share (median; each round) | p50 / p99 ms "
              "(Windback) | p99 ms (bare) | CPU per request: bare / Windback | share by CPU | "
              "applying, CPU per event |")
        print(f"| Stripe, {args.kind} | {base_rps:.0f} | {rps:.0f} | {rps / base_rps:.0%} ({rounds}) | "
              f"{median_of(measures, 'p50'):.1f} / {median_of(measures, 'p99'):.1f} | {median_of(ceilings, 'p99'):.1f} | "
              f"{base_cpu:.0f} / {cpu:.0f} us | {base_cpu / cpu:.0%} | {median_of(drains, 'cpu_us'):.0f} us |")
        print(f"acknowledged {acked} new deliveries, {sum(m.get('refused', 0) for m in measures)} refused; "
              f"stored {stored}; {waiting} not yet applied at the end")
        if acked > stored:
            print("bench: FAILED: fewer events stored than acknowledged", file=sys.stderr)
            return 1
        return 0
    finally:
        for process in processes:
            process.terminate()
            process.wait(30)
        log.close()


if __name__ == "__main__":
    raise SystemExit(main())
