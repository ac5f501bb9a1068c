"""Input rules over HTTP (docs/api.md, "Input rules"): a string with a lone surrogate, NUL or
another control character answers 400 naming the field, in every string field of every endpoint;
names and other one-line fields also refuse line breaks (CR, LF, U+2028, U+2029) while long texts
(details, bodies) keep tabs and newlines; timestamps outside the years 1970..9999 answer 400;
nothing is stored by a refused request."""
import email
import glob
import os
import urllib.parse

import pytest

from store.db import unit_of_work
from store.models import ChurnEvent, Project, User
from store.team import Invitation
from store.tracking import TrackedEvent
from tests.helpers import count

ANY_STRING = ["\ud800", "a\udfffb", "nul\x00inside", "bell\x07", "escape\x1b[31m", "c1\x85control"]
ONE_LINE = ["two\nlines", "carriage\rreturn", "line\u2028separator", "para\u2029separator", "tab\tinside"]


async def setup(api):
    token, project = await api.owner("acme")
    return token, project


def cases(token, project):
    """(method, path, valid body, {field path: where to put the bad value}, credential, one_line)"""
    key = {"key": project["secret_key"]}
    auth = {"token": token}
    return [
        ("POST", "/auth/register", {"email": "new@example.com", "password": "correct horse", "name": "New"},
         ["email", "password", "name"], {}),
        ("POST", "/auth/login", {"email": "new@example.com", "password": "correct horse"}, ["email", "password"], {}),
        ("POST", "/auth/forgot-password", {"email": "new@example.com"}, ["email"], {}),
        ("POST", "/auth/reset-password", {"token": "t" * 30, "password": "correct horse"}, ["token", "password"], {}),
        ("POST", "/projects", {"name": "Beta"}, ["name"], auth),
        ("PATCH", "/projects/acme", {"name": "Acme", "settings": {"brand_name": "Acme", "mail_from": "Acme <hi@acme.com>"}},
         ["name", "settings.brand_name", "settings.mail_from"], auth),
        ("POST", "/projects/acme/churn-events",
         {"customer_email": "c@example.com", "customer_name": "Cleo", "customer_id": "cus_1", "plan": "Pro",
          "metadata": {"note": "hello"}},
         ["customer_email", "customer_name", "customer_id", "plan", "metadata.note"], key),
        ("POST", "/cancel-flow/reasons",
         {"public_key": project["public_key"], "customer_email": "w@example.com", "customer_id": "cus_2",
          "reason": "too_expensive"}, ["public_key", "customer_email", "customer_id"], {}),
        ("POST", "/track", {"event": "login", "customer_id": "cus_3", "properties": {"page": "home"}},
         ["event", "customer_id", "properties.page"], key),
        ("POST", "/projects/acme/invitations", {"email": "invitee@example.com", "role": "member"}, ["email"], auth),
    ]


def with_value(body, field, value):
    body = {k: (dict(v) if isinstance(v, dict) else v) for k, v in body.items()}
    target = body
    *parents, last = field.split(".")
    for parent in parents:
        target = target[parent]
    target[last] = value
    return body


FREE_FORM = {"metadata.note", "properties.page"}  # free-form JSON objects: long texts (line breaks kept)


@pytest.mark.gen_test(timeout=120)
async def test_bad_text_in_any_string_field_answers_400_naming_it(api):
    token, project = await setup(api)
    before = (count(ChurnEvent), count(TrackedEvent), count(User), count(Project), count(Invitation))
    for method, path, body, fields, credential in cases(token, project):
        for field in fields:
            values = ANY_STRING if field in FREE_FORM else ANY_STRING + ONE_LINE
            for value in values:
                r = await api.request(method, path, with_value(body, field, value), **credential)
                assert r.status == 400, (path, field, repr(value), r)
                assert r.error["code"] == "VALIDATION_ERROR"
                assert field in [d["field"] for d in r.error["details"]], (path, field, repr(value), r)
    assert (count(ChurnEvent), count(TrackedEvent), count(User), count(Project), count(Invitation)) == before


@pytest.mark.gen_test
async def test_long_texts_keep_tabs_and_newlines_but_not_control_characters(api):
    token, project = await setup(api)
    detail = "Too pricey for us.\n\tWe may come back\r\nnext year \u2028 maybe."
    r = await api.post("/projects/acme/churn-events", {"customer_email": "c@example.com",
                                                       "cancel_reason_detail": detail}, key=project["secret_key"])
    assert r.status == 201, r
    assert r.data["cancel_reason_detail"] == detail.strip()
    r = await api.patch(f"/projects/acme/churn-events/{r.data['id']}/cancel-reason", {"cancel_reason": "other",
                                                                        "cancel_reason_detail": "a\nb"}, token=token)
    assert r.status == 200 and r.data["cancel_reason_detail"] == "a\nb"
    r = await api.post("/cancel-flow/reasons", {"public_key": project["public_key"], "customer_email": "w@example.com",
                                                "reason": "other", "detail": "line one\nline two"})
    assert r.status == 201, r
    for bad in ("\ud800", "nul\x00", "bell\x07"):
        for method, path, body, credential in (
                ("POST", "/projects/acme/churn-events", {"customer_email": "d@example.com", "cancel_reason_detail": bad},
                 {"key": project["secret_key"]}),
                ("POST", "/cancel-flow/reasons", {"public_key": project["public_key"], "customer_email": "e@example.com",
                                                  "reason": "other", "detail": bad}, {})):
            r = await api.request(method, path, body, **credential)
            assert r.status == 400, (path, repr(bad), r)
            assert r.error["details"][0]["field"] in ("cancel_reason_detail", "detail")


@pytest.mark.gen_test
async def test_a_lone_surrogate_anywhere_in_a_json_body_is_400_not_500(api):
    """Even where no schema names the field (an unknown field, a key of an object)."""
    token, project = await setup(api)
    r = await api.post("/auth/login", raw=b'{"email": "a@example.com", "password": "x\\ud800y"}')
    assert r.status == 400 and r.error["details"][0]["field"] == "password", r
    r = await api.post("/projects/acme/churn-events", raw=b'{"customer_email": "c@example.com", "metadata": {"\\ud800": 1}}',
                       key=project["secret_key"])
    assert r.status == 400 and r.error["details"][0]["field"] == "metadata", r
    r = await api.post("/track", raw=b'{"events": [{"event": "a", "customer_id": "c"}, {"event": "b\\u0000", "customer_id": "c"}]}',
                       key=project["secret_key"])
    assert r.status == 400 and r.error["details"][0]["field"] == "events[1].event", r
    # A surrogate pair is one valid character (an emoji): accepted.
    r = await api.post("/projects/acme/churn-events", raw=b'{"customer_email": "c@example.com", "customer_name": "Cleo \\ud83d\\ude00"}',
                       key=project["secret_key"])
    assert r.status == 201 and r.data["customer_name"] == "Cleo \U0001F600", r
    assert count(TrackedEvent) == 0


@pytest.mark.gen_test
async def test_timestamps_outside_1970_to_9999_answer_400_everywhere(api):
    token, project = await setup(api)
    key = {"key": project["secret_key"]}
    for bad in ("0001-01-01T00:00:00+01:00", "1969-12-31T23:59:59Z", "9999-12-31T23:59:59-01:00", "0001-01-01"):
        r = await api.post("/projects/acme/churn-events", {"customer_email": "c@example.com", "churned_at": bad}, **key)
        assert r.status == 400 and r.error["details"][0]["field"] == "churned_at", (bad, r)
        for name in ("created_after", "created_before"):
            r = await api.get(f"/projects/acme/churn-events?{name}={urllib.parse.quote(bad)}", **key)
            assert r.status == 400 and r.error["details"][0]["field"] == name, (bad, r)
        for endpoint in ("stats", "cohorts", "forecasting"):
            for bound in ("from", "to"):
                r = await api.get(f"/projects/acme/{endpoint}?{bound}={urllib.parse.quote(bad)}", **key)
                assert r.status == 400 and r.error["details"][0]["field"] == bound, (endpoint, bad, r)
        r = await api.post("/track", {"event": "login", "customer_id": "c", "timestamp": bad}, **key)
        assert r.status == 400 and r.error["details"][0]["field"] == "timestamp", (bad, r)
        r = await api.post("/track", {"events": [{"event": "login", "customer_id": "c"},
                                                 {"event": "login", "customer_id": "c", "timestamp": bad}]}, **key)
        assert r.status == 400 and r.error["details"][0]["field"] == "events[1].timestamp", (bad, r)
    assert count(ChurnEvent) == 0 and count(TrackedEvent) == 0
    # The edges themselves are accepted.
    r = await api.post("/projects/acme/churn-events", {"customer_email": "c@example.com",
                                                       "churned_at": "1970-01-01T00:00:00Z"}, **key)
    assert r.status == 201 and r.data["churned_at"].startswith("1970-01-01T00:00:00"), r
    r = await api.get("/projects/acme/churn-events?created_before=9999-12-31T23:59:59Z", **key)
    assert r.status == 200 and r.json["meta"]["total"] == 1
    for endpoint in ("stats", "cohorts", "forecasting"):
        r = await api.get(f"/projects/acme/{endpoint}?to=9999-12-31", **key)
        assert r.status == 200, (endpoint, r)
        r = await api.get(f"/projects/acme/{endpoint}?from=1970-01-01&to=1970-03-31", **key)
        assert r.status == 200, (endpoint, r)
    r = await api.get("/projects/acme/stats?from=1970-01-01&to=9999-12-31", **key)
    assert r.status == 200 and r.data["churn_events"] == 1, r
    r = await api.post("/track", {"event": "login", "customer_id": "c", "timestamp": "9999-12-31T23:59:59Z"}, **key)
    assert r.status == 202, r


@pytest.mark.gen_test
async def test_a_name_with_a_line_break_cannot_break_invitations(api, test_env):
    """Refused at input; and a name stored before that rule (written here straight into the
    database) still gives a 201 invitation whose email was sent, never a 500 that leaves an
    invitation no one was told of."""
    token, project = await setup(api)
    for body in ({"name": "Acme\r\nBcc: attacker@evil.example"}, {"name": "Acme\u2028Corp"}):
        r = await api.patch("/projects/acme", body, token=token)
        assert r.status == 400 and r.error["details"][0]["field"] == "name", r
        r = await api.post("/projects", body, token=token)
        assert r.status == 400 and r.error["details"][0]["field"] == "name", r
    with unit_of_work():
        Project.update(name="Acme\r\nBcc: attacker@evil.example").where(Project.id == project["id"]).execute()
    r = await api.post("/projects/acme/invitations", {"email": "invitee@example.com", "role": "member"}, token=token)
    assert r.status == 201, r
    assert count(Invitation) == 1
    messages = [email.message_from_bytes(open(path, "rb").read())
                for path in glob.glob(os.path.join(test_env["WINDBACK_OUTBOX_DIR"], "*.eml"))]
    invitation = [m for m in messages if m["To"] == "invitee@example.com"]
    assert len(invitation) == 1
    assert invitation[0]["Subject"] == "Join Acme Bcc: attacker@evil.example on Windback"
    assert invitation[0]["Bcc"] is None


@pytest.mark.gen_test
async def test_a_control_character_in_a_path_is_an_unknown_id_not_a_500(api):
    token, project = await setup(api)
    for method, path, credential in (
            ("GET", "/projects/ac%00me", {"token": token}),
            ("GET", "/projects/acme/churn-events/ce_%00", {"token": token}),
            ("POST", "/projects/acme/churn-events/ce_%00/recovered", {"key": project["secret_key"]}),
            ("GET", "/cancel-flow/config/pub_%00", {}),
            ("POST", "/webhooks/stripe/pub_%00", {})):
        r = await api.request(method, path, {} if method == "POST" else None, **credential)
        assert r.status == 404 and r.error["code"] == "NOT_FOUND", (path, r)
