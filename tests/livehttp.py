"""A small blocking HTTP client for tests that talk to real server processes from threads."""
from __future__ import annotations

import json
import secrets
import time
import urllib.error
import urllib.request


def call(base: str, method: str, path: str, body=None, token: str | None = None, key: str | None = None,
         headers: dict | None = None, raw: bytes | None = None, timeout: float = 30) -> tuple[int, dict | None]:
    """(status, parsed JSON or None) of one request; `path` is under /api/v1 unless it is /health."""
    url = base + (path if path.startswith("/health") else "/api/v1" + path)
    hdrs = {"Content-Type": "application/json", **(headers or {})}
    if token:
        hdrs["Authorization"] = f"Bearer {token}"
    if key:
        hdrs["X-API-Key"] = key
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    if data is None and method in ("POST", "PATCH", "PUT"):
        data = b""
    request = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, text = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read()
    return status, (json.loads(text) if text else None)


def owner_with_project(base: str, slug: str = "acme") -> tuple[str, dict]:
    """Sign up a user with one project through the HTTP API: (token, project incl. secret_key)."""
    status, body = call(base, "POST", "/auth/register",
                        {"email": f"owner-{secrets.token_hex(4)}@example.com", "password": "correct horse"})
    assert status == 201, body
    token = body["data"]["token"]
    status, body = call(base, "POST", "/projects", {"name": slug.title(), "slug": slug}, token=token)
    assert status == 201, body
    return token, body["data"]


def wait_for(predicate, timeout: float = 30.0) -> bool:
    """Poll `predicate` until it is true (True) or `timeout` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def serve_pages(pages: dict):
    """Serve `pages` (path -> HTML, filled in later too) from a loopback port of their own: a
    shop's site on another origin. Returns (base URL, the server, to `shutdown()`)."""
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            page = pages.get(self.path.split("?")[0])
            self.send_response(200 if page else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write((page or "not found").encode())

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{httpd.server_address[1]}", httpd
