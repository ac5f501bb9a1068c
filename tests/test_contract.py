"""schemathesis against a real server process, from the served OpenAPI document: generated
requests (valid and invalid) for every API operation, authenticated with a real user token and
a real secret key. No answer may be a 500, and every answer must match the document (status,
content type, headers, body schema and envelope).

The number of examples per operation is bounded (WINDBACK_FUZZ_EXAMPLES, default 10) so the run
adds well under a minute per database; raise it locally to search harder.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

from tests.livehttp import call, owner_with_project

pytestmark = pytest.mark.slow
EXAMPLES = int(os.environ.get("WINDBACK_FUZZ_EXAMPLES", "10"))
CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,"
          "response_schema_conformance,response_headers_conformance")
ST = os.path.join(os.path.dirname(sys.executable), "st")


@pytest.mark.skipif(not os.path.exists(ST) and not shutil.which("st"), reason="schemathesis is not installed")
def test_schemathesis_finds_no_server_error_and_no_answer_off_the_document(live_server, tmp_path):
    server = live_server()
    token, project = owner_with_project(server.url)
    status, body = call(server.url, "POST", f"/projects/{project['slug']}/churn-events",
                        {"customer_email": "seed@example.com", "mrr_cents": 1200}, key=project["secret_key"])
    assert status == 201, body
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        "[auth.openapi.bearerAuth]\n"
        f'bearer = "{token}"\n'
        "[auth.openapi.apiKeyAuth]\n"
        f'api_key = "{project["secret_key"]}"\n'
        "[parameters]\n"
        f'"path.slug" = "{project["slug"]}"\n'
        f'"path.event_id" = "{body["data"]["id"]}"\n'  # so variants are generated, listed and sent
        f'"path.public_key" = "{project["public_key"]}"\n'
    )
    command = [ST if os.path.exists(ST) else "st", "--config-file", str(config), "run",
               f"{server.url}/api/v1/openapi.json", "--max-examples", str(EXAMPLES),
               "--checks", CHECKS, "--workers", "1", "--generation-database", "none",
               "--request-timeout", "30", "--no-color",
               # Not the dashboard's pages; and not key rotation, which would take away the key
               # the rest of the run authenticates with (tests/test_openapi.py checks its answers).
               "--exclude-path-regex", r"(^/app)|(/rotate-keys$)"]
    if os.environ.get("WINDBACK_FUZZ_SEED"):  # replay a failing run (the report prints its seed)
        command += ["--seed", os.environ["WINDBACK_FUZZ_SEED"]]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    failures = result.stdout.find("FAILURES")
    report = result.stdout[failures:failures + 8000] if failures >= 0 else result.stdout[-8000:]
    report += result.stdout[-600:] + result.stderr[-2000:]
    log = server.read_log()
    tracebacks = log[log.find("Traceback"):][:4000] if "Traceback" in log else log[-2000:]
    assert result.returncode == 0, report + "\n--- server log ---\n" + tracebacks
    assert "Traceback" not in server.read_log()
    selected = re.search(r"Selected: (\d+)/(\d+)", result.stdout)
    tested = re.search(r"Tested: (\d+)", result.stdout)
    assert selected and tested and int(tested.group(1)) == int(selected.group(1)) >= 14, report


@pytest.mark.gen_test
async def test_churn_without_customer_id_twice_records_two_events(api):
    """Found by schemathesis: an empty customer_id was stored as "" and the second customer hit
    the one-open-event-per-customer_id index (500)."""
    token, project = await api.owner()
    key = project["secret_key"]
    first = await api.post("/projects/acme/churn-events", {"customer_email": "a@b.co", "customer_id": ""}, key=key)
    second = await api.post("/projects/acme/churn-events", {"customer_email": "c@d.co", "customer_id": ""}, key=key)
    assert (first.status, second.status) == (201, 201), second
    assert first.data["customer_id"] is None and first.data["id"] != second.data["id"]


@pytest.mark.gen_test
async def test_churn_whose_email_and_id_match_two_open_events_updates_one_and_keeps_both(api):
    """Found by schemathesis: the email matched one open event and the id another; moving the id
    onto the first broke the one-open-event index (500)."""
    token, project = await api.owner()
    key = project["secret_key"]
    by_email = await api.post("/projects/acme/churn-events", {"customer_email": "a@b.co"}, key=key)
    by_id = await api.post("/projects/acme/churn-events", {"customer_email": "z@b.co", "customer_id": "cus_1"}, key=key)
    again = await api.post("/projects/acme/churn-events",
                           {"customer_email": "a@b.co", "customer_id": "cus_1", "plan": "pro"}, key=key)
    assert again.status == 200, again
    assert again.data["id"] in (by_email.data["id"], by_id.data["id"]) and again.data["plan"] == "pro"
    listed = await api.get("/projects/acme/churn-events?status=new", key=key)
    assert listed.json["meta"]["total"] == 2
    pairs = sorted((e["customer_email"], e["customer_id"]) for e in listed.data)
    assert pairs == [("a@b.co", None), ("z@b.co", "cus_1")]


@pytest.mark.gen_test
async def test_a_page_number_past_any_offset_is_a_400(api):
    """Found by schemathesis: page=158946784372400160 made an OFFSET beyond 64 bits (500)."""
    token, project = await api.owner()
    for path in ("/projects?page=158946784372400160&per_page=61", "/projects/acme/churn-events?page=99999999999"):
        response = await api.get(path, token=token)
        assert response.status == 400 and response.error["details"][0]["field"] == "page", response
    far = await api.get("/projects?page=1000000&per_page=100", token=token)
    assert far.status == 200 and far.data == [] and far.json["meta"]["total"] == 1
