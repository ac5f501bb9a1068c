"""`WINDBACK_REQUIRE_HTTPS=true` (docs/deploy.md, "HTTPS"): a dashboard page asked for over plain
HTTP is redirected to HTTPS before any sign-in form is served, and every answer given over HTTPS
(TLS on the socket, or `X-Forwarded-Proto: https` from a trusted proxy) carries
`Strict-Transport-Security: max-age=31536000`."""
import ssl
import urllib.request

import pytest

from tests.test_server_process import _self_signed

HTTPS = {"X-Forwarded-Proto": "https"}


async def fetch(api, method, path, headers=None):
    """One request, redirects not followed: (status, headers)."""
    response = await api.client.fetch(api.base + path, method=method, headers=headers or {}, raise_error=False,
                                      follow_redirects=False, allow_nonstandard_methods=True,
                                      body=b"" if method == "POST" else None)
    return response.code, response.headers


@pytest.mark.env({"WINDBACK_REQUIRE_HTTPS": "true", "WINDBACK_TRUSTED_PROXIES": "127.0.0.1",
                  "WINDBACK_PUBLIC_URL": "https://windback.example"})
@pytest.mark.gen_test
async def test_dashboard_over_plain_http_redirects_to_https(api):
    for path in ("/app", "/app/", "/app/sign-in?next=%2Fapp%2Fprojects", "/app/projects/acme/settings",
                 "/app/assets/app.js", "/app/widget-preview"):
        status, headers = await fetch(api, "GET", path)
        assert status == 301, (path, status)
        assert headers["Location"] == "https://windback.example" + path
        assert "Strict-Transport-Security" not in headers  # only HTTPS answers carry it
        status, headers = await fetch(api, "GET", path, headers={"X-Forwarded-Proto": "http"})
        assert status == 301, (path, status)
    status, headers = await fetch(api, "HEAD", "/app")
    assert status == 301 and headers["Location"] == "https://windback.example/app"
    status, headers = await fetch(api, "POST", "/app/sign-in")
    assert status == 308 and headers["Location"] == "https://windback.example/app/sign-in"
    # Through the trusted proxy, over HTTPS: the page itself.
    status, headers = await fetch(api, "GET", "/app/sign-in", headers=HTTPS)
    assert status == 200 and headers["Content-Type"].startswith("text/html")


@pytest.mark.env({"WINDBACK_REQUIRE_HTTPS": "true", "WINDBACK_TRUSTED_PROXIES": "127.0.0.1"})
@pytest.mark.gen_test
async def test_every_https_answer_carries_hsts(api):
    token = (await api.post("/auth/register", {"email": "a@example.com", "password": "correct horse"},
                            headers=HTTPS)).data["token"]
    answers = [
        await api.get("/health", headers=HTTPS),
        await api.get("/widget.js", headers=HTTPS),
        await api.get("/openapi.json", headers=HTTPS),
        await api.get("/auth/me", token=token, headers=HTTPS),
        await api.get("/auth/me", headers=HTTPS),  # 401
        await api.post("/auth/login", {"email": "a@example.com"}, headers=HTTPS),  # 400
        await api.get("/nowhere", headers=HTTPS),  # 404
        await api.request("PUT", "/health", headers=HTTPS),  # 405
        await api.get("/app", headers=HTTPS),
        await api.get("/app/assets/app.js", headers=HTTPS),
    ]
    for r in answers:
        assert r.headers.get("Strict-Transport-Security") == "max-age=31536000", r
    assert [r.status for r in answers] == [200, 200, 200, 200, 401, 400, 404, 405, 200, 200]
    # Over plain HTTP the API still refuses (403) and /health still answers, without HSTS.
    for r in (await api.get("/auth/me", token=token), await api.get("/health")):
        assert r.status in (403, 200) and "Strict-Transport-Security" not in r.headers


@pytest.mark.env({"WINDBACK_TRUSTED_PROXIES": "127.0.0.1"})
@pytest.mark.gen_test
async def test_without_require_https_nothing_changes(api):
    r = await api.get("/app", headers=HTTPS)
    assert r.status == 200 and "Strict-Transport-Security" not in r.headers
    status, _ = await fetch(api, "GET", "/app")
    assert status == 200


def test_tls_on_the_socket_counts_as_https(live_server, tmp_path):
    cert, key = _self_signed(tmp_path)
    server = live_server({"WINDBACK_TLS_CERT": cert, "WINDBACK_TLS_KEY": key, "WINDBACK_REQUIRE_HTTPS": "true"})
    context = ssl.create_default_context(cafile=cert)
    for path in ("/health", "/app/sign-in", "/api/v1/nope"):
        request = urllib.request.Request(server.url + path)
        try:
            response = urllib.request.urlopen(request, context=context, timeout=10)
        except urllib.error.HTTPError as error:
            response = error
        assert response.headers["Strict-Transport-Security"] == "max-age=31536000", path
