"""Set-up of the outbound-webhook workloads: a project of their own (so other workloads are not
affected) with one endpoint pointing at a receiver process (bench/outbound_receiver.py), started
here and left to exit by itself. Prints BENCH_SLUG/BENCH_KEY for the workload.

The server must run with WINDBACK_ALLOW_PRIVATE_WEBHOOK_URLS=true (the receiver is on loopback):
    WINDBACK_ALLOW_PRIVATE_WEBHOOK_URLS=true bench/run.sh churn_events_create \\
        churn_events_create_quick_receiver churn_events_create_silent_receiver
"""
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))


def call(base: str, method: str, path: str, body: dict, headers: dict) -> dict:
    request = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        sys.exit(f"bench: {method} {path} answered {error.code}: {error.read()[:300]!r} "
                 "(run the bench with WINDBACK_ALLOW_PRIVATE_WEBHOOK_URLS=true)")


def main(base: str, mode: str) -> None:
    port_file = tempfile.mktemp(prefix="windback-receiver-")
    subprocess.Popen([sys.executable, os.path.join(HERE, "outbound_receiver.py"), mode, port_file],
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    for _ in range(100):
        if os.path.exists(port_file) and open(port_file).read():
            break
        time.sleep(0.05)
    port = open(port_file).read()
    auth = {"Authorization": f"Bearer {os.environ['BENCH_TOKEN']}"}
    project = call(base, "POST", "/api/v1/projects", {"name": f"Outbound {mode}",
                                                      "slug": f"outbound-{mode}-{secrets.token_hex(3)}"}, auth)["data"]
    call(base, "POST", f"/api/v1/projects/{project['slug']}/webhook-endpoints",
         {"url": f"http://127.0.0.1:{port}/hook", "events": ["churn_event.created"]}, auth)
    print(f"BENCH_SLUG={project['slug']}")
    print(f"BENCH_KEY={project['secret_key']}")


if __name__ == "__main__":
    main(sys.argv[1].rstrip("/"), sys.argv[2])
