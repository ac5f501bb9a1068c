"""Login time for a known vs an unknown email at the shipped bcrypt cost (a timing oracle check).

    python bench/login_timing.py [--rounds 12] [--logins 15]

Starts `python server.py` (SQLite in a temp dir, rate limiting off, WINDBACK_BCRYPT_ROUNDS as
given), registers one account, then signs in alternately with that email and with emails that
have no account, always with a wrong password (both answer 401), one request at a time, and
prints the median and spread of each kind over HTTP, plus the server's CPU per login. The two
medians should be within noise of each other; the figures go in docs/BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def post(base: str, path: str, body: dict) -> int:
    request = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=12, help="bcrypt cost (shipped default: 12)")
    parser.add_argument("--logins", type=int, default=15, help="logins of each kind")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="windback-login-")
    port = free_port()
    env = {**os.environ, "WINDBACK_DATABASE_URL": f"sqlite:///{work}/login.db", "WINDBACK_PORT": str(port),
           "WINDBACK_HOST": "127.0.0.1", "WINDBACK_BCRYPT_ROUNDS": str(args.rounds),
           "WINDBACK_RATE_LIMIT_SCALE": "0", "WINDBACK_SECRET": secrets.token_hex(32),
           "WINDBACK_OUTBOX_DIR": f"{work}/outbox", "WINDBACK_LOG_LEVEL": "warning"}
    server = subprocess.Popen([sys.executable, os.path.join(ROOT, "server.py")], cwd=ROOT, env=env,
                              stdout=open(f"{work}/server.log", "wb"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        assert post(base, "/auth/register", {"email": "known@example.com", "password": "correct horse"}) == 201
        times: dict[str, list[float]] = {"known": [], "unknown": []}
        cpu: dict[str, float] = {"known": 0.0, "unknown": 0.0}
        for i in range(args.logins):
            for kind, email in (("known", "known@example.com"), ("unknown", f"nobody-{i}@example.com")):
                before_cpu, started = cpu_seconds(server.pid), time.perf_counter()
                status = post(base, "/auth/login", {"email": email, "password": "wrong password"})
                times[kind].append(time.perf_counter() - started)
                cpu[kind] += cpu_seconds(server.pid) - before_cpu
                assert status == 401, status
        print(f"bcrypt cost {args.rounds}, {args.logins} logins of each kind, one at a time (wrong password: 401)")
        print(f"{'email':<8} {'median ms':>10} {'min ms':>8} {'max ms':>8} {'server CPU ms/login':>20}")
        for kind, values in times.items():
            print(f"{kind:<8} {statistics.median(values) * 1000:>10.1f} {min(values) * 1000:>8.1f} "
                  f"{max(values) * 1000:>8.1f} {cpu[kind] / len(values) * 1000:>20.1f}")
        ratio = statistics.median(times["unknown"]) / statistics.median(times["known"])
        print(f"unknown / known (median): {ratio:.2f}")
    finally:
        server.terminate()
        server.wait(20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
