"""Create the benchmark's user, project and secret key on a running server; print them as shell
variable assignments for bench/run.sh:

    python bench/setup.py http://127.0.0.1:PORT
    BENCH_SLUG=bench
    BENCH_KEY=sk_live_...
"""
import json
import secrets
import sys
import urllib.request


def call(base: str, method: str, path: str, body: dict | None = None, headers: dict | None = None) -> dict:
    request = urllib.request.Request(base + path, method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json", **(headers or {})})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def main(base: str) -> None:
    email = f"bench-{secrets.token_hex(4)}@example.com"
    token = call(base, "POST", "/api/v1/auth/register",
                 {"email": email, "password": "bench-password", "name": "Bench"})["data"]["token"]
    project = call(base, "POST", "/api/v1/projects", {"name": "Bench", "slug": "bench"},
                   {"Authorization": f"Bearer {token}"})["data"]
    print(f"BENCH_SLUG={project['slug']}")
    print(f"BENCH_KEY={project['secret_key']}")
    print(f"BENCH_TOKEN={token}")


if __name__ == "__main__":
    main(sys.argv[1].rstrip("/"))
