"""A project of its own with 1,000 churn events, so the list workload pages over a table of a
known size whatever ran before it. Prints BENCH_SLUG / BENCH_KEY for this workload."""
import json
import os
import sys
import urllib.request

base = sys.argv[1]


def call(method, path, body, headers):
    request = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json", **headers})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)["data"]


project = call("POST", "/api/v1/projects", {"name": "Bench list", "slug": "bench-list"},
               {"Authorization": f"Bearer {os.environ['BENCH_TOKEN']}"})
for i in range(1000):
    call("POST", "/api/v1/projects/bench-list/churn-events",
         {"customer_email": f"seed-{i}@example.com", "mrr_cents": 1000 + i, "cancel_reason": "not_using"},
         {"X-API-Key": project["secret_key"]})
print(f"BENCH_SLUG={project['slug']}")
print(f"BENCH_KEY={project['secret_key']}")
