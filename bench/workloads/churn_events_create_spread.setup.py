"""10,000 projects (BENCH_SPREAD_PROJECTS) owned by the benchmark's user, for the spread create
workload: writes "slug<TAB>secret key" per line to BENCH_PROJECTS_FILE and prints its path.
Created through the API, eight at a time; a project left from an earlier run on the same
database (its slug taken) is skipped. Then each project is read once with its secret key, as a
server that has been serving these merchants has: the workload measures that steady state, not
the first request of each project after a start (one database read more to find the key's
project, docs/BENCHMARKS.md)."""
import json
import os
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

base = sys.argv[1]
COUNT = int(os.environ.get("BENCH_SPREAD_PROJECTS", "10000"))
RUN = os.environ.get("BENCH_RUN_ID", "0")
TOKEN = os.environ["BENCH_TOKEN"]


def create(n: int) -> str | None:
    body = json.dumps({"name": f"Spread {n}", "slug": f"spread-{RUN}-{n}"}).encode()
    request = urllib.request.Request(base + "/api/v1/projects", method="POST", data=body,
                                     headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            project = json.load(response)["data"]
    except urllib.error.HTTPError as error:
        if error.code == 409:
            return None
        raise
    return f"{project['slug']}\t{project['secret_key']}\n"


path = os.path.join(os.environ.get("BENCH_WORK", "/tmp"), "spread_projects.tsv")
with ThreadPoolExecutor(8) as pool, open(path, "w") as handle:
    for line in pool.map(create, range(COUNT)):
        if line:
            handle.write(line)


def touch(line: str) -> None:
    slug, key = line.rstrip("\n").split("\t")
    request = urllib.request.Request(f"{base}/api/v1/projects/{slug}", headers={"X-API-Key": key})
    with urllib.request.urlopen(request, timeout=60) as response:
        response.read()


with ThreadPoolExecutor(8) as pool, open(path) as handle:
    list(pool.map(touch, handle))
print(f"BENCH_PROJECTS_FILE={path}")
