"""Benchmark: tracked events and cancel-flow config fetches against the bare Tornado ceiling.

    python bench/cancel_flow_track.py [--duration 10] [--connections 32] [--database URL]

Starts, in this run and on this machine: the bare Tornado baseline (`bench/baseline_server.py`)
and Windback (`server.py`, one process, a fresh SQLite file unless --database is given, rate
limits off), then drives each with wrk (`bench/workloads/*.lua`): `/track` with 1 event per
request, `/track` with 100 events per request, and `GET /cancel-flow/config/:key`. Prints a
Markdown table (docs/BENCHMARKS.md keeps the figures): the median of `--rounds` interleaved
runs, and the share of the ceiling in each round (a loaded machine moves both), plus the server
process's CPU time per request (user + system, all threads, from /proc), which other load on
the machine disturbs much less than throughput. It also checks that every acknowledged event
is in the database.
"""
from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKLOADS = os.path.join(ROOT, "bench", "workloads")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def call(port, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request(method, path, body=json.dumps(body) if body is not None else None,
                 headers={"Content-Type": "application/json", **(headers or {})})
    response = conn.getresponse()
    raw = response.read()
    conn.close()
    return response.status, raw


def wait_ready(port, path, process, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server on {port} exited with {process.returncode}")
        try:
            call(port, "GET", path)
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server on {port} did not start")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc."""
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(port, script, args, duration, connections, pid=None) -> dict:
    before = cpu_seconds(pid) if pid else 0.0
    command = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "-s", os.path.join(WORKLOADS, script),
               f"http://127.0.0.1:{port}", "--", *args]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    total = int(re.search(r"(\d+) requests in", output).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: (.*)", output)
    latency = re.search(r"Latency\s+([\d.]+\w+)", output).group(1)
    cpu_us = (cpu_seconds(pid) - before) / total * 1e6 if pid else 0.0
    return {"rps": rps, "requests": total, "non_2xx": int(bad.group(1)) if bad else 0,
            "socket_errors": errors.group(1) if errors else "", "latency": latency, "cpu_us": cpu_us}


def median(values):
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def median_run(runs: list[dict]) -> dict:
    return dict(sorted(runs, key=lambda run: run["rps"])[len(runs) // 2])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved ceiling/Windback runs per workload")
    parser.add_argument("--database", help="WINDBACK_DATABASE_URL (default: a fresh SQLite file)")
    options = parser.parse_args()
    if not shutil.which("wrk"):
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    workdir = tempfile.mkdtemp(prefix="windback-bench-")
    database = options.database or f"sqlite:///{workdir}/bench.db"
    processes = []
    try:
        port = free_port()
        env = {**os.environ, "WINDBACK_PORT": str(port), "WINDBACK_HOST": "127.0.0.1",
               "WINDBACK_DATABASE_URL": database, "WINDBACK_RATE_LIMIT_SCALE": "0",
               "WINDBACK_BCRYPT_ROUNDS": "4", "WINDBACK_LOG_LEVEL": "warning",
               "WINDBACK_SECRET": "bench-secret-0123456789abcdef-0123456789",
               "WINDBACK_OUTBOX_DIR": os.path.join(workdir, "outbox")}
        server = subprocess.Popen([sys.executable, os.path.join(ROOT, "server.py")], cwd=ROOT, env=env,
                                  stdout=open(os.path.join(workdir, "server.log"), "wb"), stderr=subprocess.STDOUT)
        processes.append(server)
        wait_ready(port, "/health", server)
        status, raw = call(port, "POST", "/api/v1/auth/register",
                           {"email": f"bench-{time.time_ns()}@example.com", "password": "correct horse"})
        token = json.loads(raw)["data"]["token"]
        status, raw = call(port, "POST", "/api/v1/projects", {"name": "Bench"}, {"Authorization": f"Bearer {token}"})
        project = json.loads(raw)["data"]
        secret, public = project["secret_key"], project["public_key"]
        status, config = call(port, "GET", f"/api/v1/cancel-flow/config/{public}")
        assert status == 200, config
        config_path = os.path.join(workdir, "config.json")
        with open(config_path, "wb") as handle:
            handle.write(config)

        base_port = free_port()
        baseline = subprocess.Popen([sys.executable, os.path.join(ROOT, "bench", "baseline_server.py"),
                                     str(base_port), config_path], cwd=ROOT, stdout=subprocess.DEVNULL)
        processes.append(baseline)
        wait_ready(base_port, f"/api/v1/cancel-flow/config/{public}", baseline)

        runs = [("/track, 1 event a request", "track_single.lua", [secret], 1),
                ("/track, 100 events a request", "track_batch.lua", [secret, "100"], 100),
                ("GET /cancel-flow/config/:key", "config.lua", [public], 0)]
        rows = []
        acknowledged = 0
        for name, script, args, events in runs:
            wrk(base_port, script, args, 2, options.connections)  # warm up both
            wrk(port, script, args, 2, options.connections)
            ceilings, measures = [], []
            for _ in range(options.rounds):  # interleaved, so both see the same machine load
                ceilings.append(wrk(base_port, script, args, options.duration, options.connections, baseline.pid))
                measures.append(wrk(port, script, args, options.duration, options.connections, server.pid))
            for measured in measures:
                if events:
                    acknowledged += (measured["requests"] - measured["non_2xx"]) * events
            ceiling = median_run(ceilings)
            measured = median_run(measures)
            measured["non_2xx"] = sum(m["non_2xx"] for m in measures)
            measured["shares"] = [m["rps"] / c["rps"] * 100 for m, c in zip(measures, ceilings)]
            measured["cpu_us"] = median([m["cpu_us"] for m in measures])
            ceiling["cpu_us"] = median([c["cpu_us"] for c in ceilings])
            rows.append((name, events, ceiling, measured))
        print(f"\n{dt.date.today().isoformat()}, {platform.node()}: {os.cpu_count()} cores, "
              f"{platform.processor() or platform.machine()}, Python {platform.python_version()}, "
              f"database {database.split('://')[0]}, wrk -t1 -c{options.connections} -d{options.duration}s, "
              "one server process, rate limits off, log level warning\n")
        print("| workload | bare Tornado req/s | Windback req/s | share of ceiling (median; each round) "
              "| Windback events/s | CPU per request: bare / Windback | share by CPU | latency (avg) | non-2xx |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for name, events, ceiling, measured in rows:
            shares = measured["shares"]
            share = f"{median(shares):.0f}% ({', '.join(f'{x:.0f}' for x in shares)})"
            per_second = f"{measured['rps'] * events:,.0f}" if events else "-"
            cpu = f"{ceiling['cpu_us']:.0f} / {measured['cpu_us']:.0f} us"
            cpu_share = f"{ceiling['cpu_us'] / measured['cpu_us'] * 100:.0f}%" if measured["cpu_us"] else "-"
            print(f"| {name} | {ceiling['rps']:,.0f} | {measured['rps']:,.0f} | {share} | {per_second} | "
                  f"{cpu} | {cpu_share} | {measured['latency']} | {measured['non_2xx']} |")
        print(f"\nload average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
        sys.path.insert(0, ROOT)
        from store.db import init_database, unit_of_work  # noqa: E402
        from store.tracking import TrackedEvent  # noqa: E402
        init_database(database)
        with unit_of_work():
            stored = TrackedEvent.select().where(TrackedEvent.project == project["id"]).count()
        # wrk counts requests that completed in the window; the warm-up runs stored more.
        print(f"\nacknowledged events in the measured runs: {acknowledged:,}; stored in all: {stored:,}")
        if stored < acknowledged:
            print("ERROR: fewer events stored than acknowledged", file=sys.stderr)
            return 1
        return 0
    finally:
        for process in processes:
            process.terminate()
            process.wait(20)


if __name__ == "__main__":
    sys.exit(main())
