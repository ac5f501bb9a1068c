"""How the server serves the dashboard: deep links answer the app, assets have the right types,
every answer carries the security headers, the API keeps its JSON envelope, and the shipped files
never build HTML from data nor load anything from elsewhere."""
from __future__ import annotations

import os
import re

import pytest

from handlers.dashboard import STATIC_ROOT

APP_FILES = [os.path.join(dirpath, name) for dirpath, _, names in os.walk(STATIC_ROOT) for name in names]


def _assert_secure(response):
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert "unsafe-eval" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"


@pytest.mark.gen_test
async def test_every_path_under_app_answers_the_app_with_strict_headers(api):
    for path in ("/app", "/app/", "/app/sign-in", "/app/projects/acme/events?cancel_reason=too_expensive&page=2",
                 "/app/reset-password?token=abc", "/app/accept-invitation?token=abc"):
        response = await api.get(path)
        assert response.status == 200, path
        assert response.headers["Content-Type"].startswith("text/html")
        assert '<script type="module" src="/app/assets/app.js">' in response.text
        _assert_secure(response)
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["X-Frame-Options"] == "DENY"


@pytest.mark.gen_test
async def test_assets_have_their_types_and_revalidate(api):
    expected = {"app.js": "text/javascript", "pages/event.js": "text/javascript", "app.css": "text/css",
                "favicon.svg": "image/svg+xml"}
    for name, content_type in expected.items():
        response = await api.get("/app/assets/" + name)
        assert response.status == 200, name
        assert response.headers["Content-Type"].startswith(content_type)
        assert response.headers["Cache-Control"] == "no-cache"
        _assert_secure(response)
        again = await api.get("/app/assets/" + name, headers={"If-None-Match": response.headers["Etag"]})
        assert again.status == 304
    missing = await api.get("/app/assets/nope.js")
    assert missing.status == 404 and missing.json is None
    escape = await api.get("/app/assets/../dashboard.py")
    assert escape.status in (403, 404)
    assert "import" not in escape.text


@pytest.mark.gen_test
async def test_the_api_keeps_its_envelope_next_to_the_app(api):
    response = await api.get("/nowhere")
    assert response.status == 404 and response.error["code"] == "NOT_FOUND"
    response = await api.get("/api/v1/app")
    assert response.status == 404 and response.error["code"] == "NOT_FOUND"


@pytest.mark.gen_test
async def test_the_widget_preview_frame_may_only_be_framed_by_the_dashboard(api):
    response = await api.get("/app/widget-preview")
    assert response.status == 200
    assert "frame-ancestors 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"].split("script-src")[1].split(";")[0]


@pytest.mark.parametrize("path", [p for p in APP_FILES if p.endswith((".js", ".html", ".css"))],
                         ids=lambda p: os.path.relpath(p, STATIC_ROOT))
def test_shipped_files_insert_text_only_and_fetch_nothing_from_elsewhere(path):
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function",
                 "window.confirm", "window.alert", "alert(", "confirm(", "prompt("):
        if sink in ("confirm(",):
            assert not re.search(r"(?<![A-Za-z])confirm\(", text), f"{sink} in {path}"
            continue
        assert sink not in text, f"{sink} in {path}"
    if path.endswith(".html"):
        assert not re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", text), f"inline script in {path}"
        assert not re.search(r"\son[a-z]+=", text), f"inline handler in {path}"
    assert not re.search(r"(src|href)=\"https?://", text), f"external asset in {path}"
    assert "fetch(\"http" not in text and "cdn" not in text.lower(), f"remote fetch in {path}"


@pytest.mark.gen_test
async def test_the_app_reads_the_servers_enumerations_from_the_page_and_keeps_no_copy(api):
    import json

    from store.models import CANCEL_REASONS, CHURN_STATUSES, SOURCES, STRATEGIES, TONES

    response = await api.get("/app/projects/acme/events")
    found = re.search(r'<script type="application/json" id="windback-enums">(.*?)</script>', response.text)
    assert found, "the page carries the enumerations as a data block"
    enums = json.loads(found.group(1))
    assert [code for code, _ in enums["cancel_reasons"]] == list(CANCEL_REASONS)
    assert enums["churn_statuses"] == list(CHURN_STATUSES) and enums["sources"] == list(SOURCES)
    assert [code for code, _ in enums["strategies"]] == list(STRATEGIES)
    assert [code for code, _ in enums["tones"]] == list(TONES)
    # No second list of codes in the app's own files to drift from the server's.
    for path in APP_FILES:
        if path.endswith(".js"):
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
            for code in ("switched_competitor", "variants_ready", "personal_check_in", "professional"):
                assert code not in text, f"{os.path.relpath(path, STATIC_ROOT)} keeps its own {code}"
