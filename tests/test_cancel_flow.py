"""The cancel flow's public endpoints: config and answers, as the widget and browsers use them."""
import asyncio
import secrets
import time

import pytest

from store.cancel_flow import CancelFlowSubmission
from tests.conftest import table_count


@pytest.fixture
def strict_limits(test_env):
    """The real limits of docs/api.md (the suite otherwise scales them up)."""
    test_env["WINDBACK_RATE_LIMIT_SCALE"] = "1"


def answer(project, **fields):
    return {"public_key": project["public_key"], "customer_email": "dana@example.com", "reason": "too_expensive",
            **fields}


@pytest.mark.gen_test
async def test_default_config_lists_every_reason_with_default_offers_and_cors(api):
    _, project = await api.owner()
    r = await api.get(f"/cancel-flow/config/{project['public_key']}", headers={"Origin": "https://shop.example"})
    assert r.status == 200, r
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert r.headers["Cache-Control"] == "public, max-age=60"
    assert r.data["project"] == {"name": "Acme", "brand_name": "Acme"}
    assert [reason["code"] for reason in r.data["reasons"]][:2] == ["too_expensive", "missing_features"]
    assert len(r.data["reasons"]) == 9
    assert r.data["offers"]["too_expensive"]["type"] == "discount"
    assert r.data["offers"]["too_expensive"]["percent_off"] == 20
    assert r.data["offers"]["too_expensive"]["months"] == 3
    assert r.data["offers"]["temporary"]["type"] == "pause"
    assert r.data["copy"]["confirm_label"] and r.data["copy"]["keep_label"]
    assert r.data["theme"]["accent_color"].startswith("#")


@pytest.mark.gen_test
async def test_preflight_answers_204_with_cors(api):
    _, project = await api.owner()
    for path in (f"/cancel-flow/config/{project['public_key']}", "/cancel-flow/reasons"):
        r = await api.request("OPTIONS", path, headers={"Origin": "https://shop.example",
                                                        "Access-Control-Request-Method": "POST",
                                                        "Access-Control-Request-Headers": "content-type"})
        assert r.status == 204 and r.text == ""
        assert r.headers["Access-Control-Allow-Origin"] == "*"
        assert "POST" in r.headers["Access-Control-Allow-Methods"]
        assert "content-type" in r.headers["Access-Control-Allow-Headers"].lower()


@pytest.mark.gen_test
async def test_etag_gives_304_and_a_settings_change_shows_at_once(api):
    token, project = await api.owner()
    path = f"/cancel-flow/config/{project['public_key']}"
    first = await api.get(path)
    etag = first.headers["ETag"]
    again = await api.get(path, headers={"If-None-Match": etag})
    assert again.status == 304 and again.text == ""
    assert again.headers["ETag"] == etag and again.headers["Access-Control-Allow-Origin"] == "*"

    patch = {"settings": {"brand_name": "Acme Cloud", "cancel_flow": {
        "offers": {"too_expensive": {"type": "discount", "percent_off": 35, "months": 2}},
        "copy": {"title": "Wait a second"}, "theme": {"accent_color": "#ff5500"}}}}
    r = await api.patch("/projects/acme", patch, token=token)
    assert r.status == 200, r
    changed = await api.get(path, headers={"If-None-Match": etag})
    assert changed.status == 200
    assert changed.headers["ETag"] != etag
    assert changed.data["project"]["brand_name"] == "Acme Cloud"
    offers = changed.data["offers"]
    assert offers["too_expensive"] == {"type": "discount", "percent_off": 35, "months": 2,
                                       "headline": offers["too_expensive"]["headline"]}
    assert offers["temporary"]["type"] == "pause"  # an offer not named keeps its default
    assert "35%" in changed.data["offers"]["too_expensive"]["headline"]
    assert changed.data["copy"]["title"] == "Wait a second"
    assert changed.data["copy"]["keep_label"]  # the rest keeps its default
    assert changed.data["theme"]["accent_color"] == "#ff5500"


@pytest.mark.gen_test
async def test_unknown_rotated_and_secret_keys_are_404_with_cors(api):
    token, project = await api.owner()
    for key in ("pub_live_" + secrets.token_urlsafe(18), project["secret_key"], "nonsense"):
        r = await api.get(f"/cancel-flow/config/{key}")
        assert r.status == 404 and r.error["code"] == "NOT_FOUND", r
        assert r.headers["Access-Control-Allow-Origin"] == "*"
        r = await api.post("/cancel-flow/reasons", answer(project, public_key=key))
        assert r.status == 404, r
    old = project["public_key"]
    assert (await api.get(f"/cancel-flow/config/{old}")).status == 200  # now cached
    rotated = await api.post("/projects/acme/rotate-keys", {"public_key": True}, token=token)
    assert rotated.status == 200
    assert (await api.get(f"/cancel-flow/config/{old}")).status == 404
    assert (await api.get(f"/cancel-flow/config/{rotated.data['public_key']}")).status == 200


@pytest.mark.gen_test
async def test_settings_validation_refuses_bad_cancel_flow(api):
    token, _ = await api.owner()
    bad = {
        "reasons": [{"code": "too_expensive", "label": "Pricey"}, {"code": "bored", "label": "x"},
                    {"code": "too_expensive", "label": "again"}],
        "offers": {"too_expensive": {"type": "discount", "percent_off": 150, "months": 3},
                   "temporary": {"type": "pause", "months": 9},
                   "not_using": {"type": "downgrade"},
                   "nope": {"type": "pause", "months": 1},
                   "other": {"type": "gift"}},
        "theme": {"accent_color": "red"},
        "copy": {"title": ""},
        "extra": 1,
    }
    r = await api.patch("/projects/acme", {"settings": {"cancel_flow": bad}}, token=token)
    assert r.status == 400, r
    fields = {d["field"] for d in r.error["details"]}
    assert {"settings.cancel_flow.reasons[1].code", "settings.cancel_flow.offers.too_expensive.percent_off",
            "settings.cancel_flow.offers.temporary.months", "settings.cancel_flow.offers.not_using.to_plan",
            "settings.cancel_flow.offers.nope", "settings.cancel_flow.offers.other.type",
            "settings.cancel_flow.theme.accent_color", "settings.cancel_flow.copy.title",
            "settings.cancel_flow.extra"} <= fields, fields
    # Nothing changed.
    project = (await api.get("/projects/acme", token=token)).data
    assert "cancel_flow" not in project["settings"]

    good = {"reasons": [{"code": "too_expensive", "label": "Pricey"}, {"code": "other", "label": "Other"}],
            "offers": {"too_expensive": {"type": "downgrade", "to_plan": "Starter", "price_cents": 900},
                       "other": None, "temporary": None}}
    r = await api.patch("/projects/acme", {"settings": {"cancel_flow": good}}, token=token)
    assert r.status == 200, r
    config = (await api.get(f"/cancel-flow/config/{r.data['public_key']}")).data
    assert [x["code"] for x in config["reasons"]] == ["too_expensive", "other"]
    assert list(config["offers"]) == ["too_expensive"]
    assert "Starter" in config["offers"]["too_expensive"]["headline"]
    # null turns a default offer off; the other default stays.
    r = await api.patch("/projects/acme", {"settings": {"cancel_flow": {"offers": {"temporary": None}}}}, token=token)
    config = (await api.get(f"/cancel-flow/config/{r.data['public_key']}")).data
    assert list(config["offers"]) == ["too_expensive"] and config["offers"]["too_expensive"]["percent_off"] == 20
    # A duplicate reason is refused.
    dup = {"reasons": [{"code": "other", "label": "a"}, {"code": "other", "label": "b"}]}
    r = await api.patch("/projects/acme", {"settings": {"cancel_flow": dup}}, token=token)
    assert r.status == 400 and r.error["details"][0]["field"] == "settings.cancel_flow.reasons"


@pytest.mark.gen_test
async def test_answer_creates_widget_event_then_updates_it_and_an_accepted_offer_saves(api):
    _, project = await api.owner()
    key = project["secret_key"]
    r = await api.post("/cancel-flow/reasons", answer(project, reason="not_using", detail="Busy season",
                                                     customer_id="cus_1"),
                       headers={"Origin": "https://shop.example"})
    assert r.status == 201, r
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    event_id = r.data["churn_event_id"]
    assert r.data["saved"] is False
    event = (await api.get(f"/projects/acme/churn-events/{event_id}", key=key)).data
    assert (event["source"], event["status"], event["cancel_reason"], event["cancel_reason_detail"]) == \
        ("widget", "new", "not_using", "Busy season")
    assert event["customer_email"] == "dana@example.com" and event["customer_id"] == "cus_1"

    # The same customer answers again and accepts the discount: the open event is updated and saved.
    r = await api.post("/cancel-flow/reasons", answer(project, offer_shown=True, offer_accepted=True))
    assert r.status == 200, r
    assert r.data == {"churn_event_id": event_id, "saved": True}
    event = (await api.get(f"/projects/acme/churn-events/{event_id}", key=key)).data
    assert (event["status"], event["saved"], event["cancel_reason"]) == ("saved", True, "too_expensive")
    assert event["recovered_at"] is None
    # A saved event is not recovered later.
    r = await api.post(f"/projects/acme/churn-events/{event_id}/recovered", key=key)
    assert r.status == 409
    assert table_count(CancelFlowSubmission) == 2


@pytest.mark.gen_test
async def test_an_answer_never_changes_an_open_events_email_or_customer_id(api):
    _, project = await api.owner()
    key = project["secret_key"]
    victim = await api.post("/projects/acme/churn-events", {"customer_email": "dana@example.com",
                                                            "customer_id": "cus_1"}, key=key)
    no_email = await api.post("/projects/acme/churn-events", {"customer_email": "eli@example.com"}, key=key)
    # Anyone with the public key and a known customer id tries to redirect the customer's emails.
    r = await api.post("/cancel-flow/reasons", answer(project, customer_id="cus_1",
                                                     customer_email="attacker@evil.example"))
    assert r.status == 200 and r.data["churn_event_id"] == victim.data["id"]
    # ...or to attach their own customer id to someone else's event found by its email.
    r = await api.post("/cancel-flow/reasons", answer(project, customer_email="eli@example.com",
                                                     customer_id="cus_attacker"))
    assert r.status == 200 and r.data["churn_event_id"] == no_email.data["id"]
    event = (await api.get(f"/projects/acme/churn-events/{victim.data['id']}", key=key)).data
    assert (event["customer_email"], event["customer_id"], event["cancel_reason"]) == \
        ("dana@example.com", "cus_1", "too_expensive")  # the reason is the answer's to give
    event = (await api.get(f"/projects/acme/churn-events/{no_email.data['id']}", key=key)).data
    assert (event["customer_email"], event["customer_id"]) == ("eli@example.com", None)
    found = await api.get("/projects/acme/churn-events?customer_email=attacker@evil.example", key=key)
    assert found.data == []


@pytest.mark.gen_test
async def test_bad_answers_are_400_and_store_nothing(api):
    _, project = await api.owner()
    cases = [
        (answer(project, reason="bored"), "reason"),
        (answer(project, reason=None), "reason"),
        (answer(project, customer_email="not-an-email"), "customer_email"),
        ({"public_key": project["public_key"], "reason": "other"}, "customer_email"),
        (answer(project, offer_accepted="yes"), "offer_accepted"),
        (answer(project, reason="other", offer_accepted=True), "offer_accepted"),  # no offer for `other`
        (answer(project, offer_shown=False, offer_accepted=True), "offer_shown"),
        (answer(project, surprise=1), "surprise"),
    ]
    for body, field in cases:
        r = await api.post("/cancel-flow/reasons", body)
        assert r.status == 400, (body, r)
        assert field in {d["field"] for d in r.error["details"]}, (body, r)
        assert r.headers["Access-Control-Allow-Origin"] == "*"
    r = await api.post("/cancel-flow/reasons", raw=b"{not json")
    assert r.status == 400
    assert table_count(CancelFlowSubmission) == 0
    events = await api.get("/projects/acme/churn-events", key=project["secret_key"])
    assert events.data == []


@pytest.mark.gen_test
async def test_ten_answers_per_15_seconds_per_key(strict_limits, api):
    _, first = await api.owner("first")
    _, second = await api.owner("second")
    for n in range(10):
        r = await api.post("/cancel-flow/reasons", answer(first, customer_email=f"c{n}@example.com"))
        assert r.status == 201, r
        assert r.headers["X-RateLimit-Limit"] == "10"
    refused = await api.post("/cancel-flow/reasons", answer(first, customer_email="late@example.com"))
    assert refused.status == 429 and refused.error["code"] == "RATE_LIMITED"
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.headers["Access-Control-Allow-Origin"] == "*"
    other = await api.post("/cancel-flow/reasons", answer(second, customer_email="c0@example.com"))
    assert other.status == 201, other
    late = await api.get("/projects/first/churn-events?customer_email=late@example.com", key=first["secret_key"])
    assert late.data == []


def from_ip(ip):
    return {"headers": {"X-Forwarded-For": ip}}


@pytest.mark.env({"WINDBACK_TRUSTED_PROXIES": "127.0.0.1"})
@pytest.mark.gen_test(timeout=60)
async def test_one_client_cannot_block_the_widget_for_the_others(strict_limits, api):
    _, project = await api.owner()
    junk = {"public_key": project["public_key"], "customer_email": "x@example.com"}  # no reason: 400
    for _ in range(10):
        assert (await api.post("/cancel-flow/reasons", junk, **from_ip("203.0.113.7"))).status == 400
    blocked = await api.post("/cancel-flow/reasons", answer(project), **from_ip("203.0.113.7"))
    assert blocked.status == 429 and blocked.error["code"] == "RATE_LIMITED"
    # Another customer's browser is served; the headers show its own bucket.
    r = await api.post("/cancel-flow/reasons", answer(project, customer_email="olga@example.com"),
                       **from_ip("198.51.100.20"))
    assert r.status == 201, r
    assert (r.headers["X-RateLimit-Limit"], r.headers["X-RateLimit-Remaining"]) == ("10", "9")


@pytest.mark.env({"WINDBACK_TRUSTED_PROXIES": "127.0.0.1"})
@pytest.mark.gen_test(timeout=120)
async def test_the_answers_to_one_key_share_a_ceiling_of_600_per_15_seconds(strict_limits, api):
    _, first = await api.owner("first")
    _, second = await api.owner("second")
    junk = {"public_key": first["public_key"], "customer_email": "x@example.com"}
    started, statuses, refusals = time.monotonic(), [], []
    # Each from an IP of its own, so only the ceiling can refuse; batches go on until it does (a
    # slow machine sends fewer a second, and the ceiling refills meanwhile).
    for start in range(0, 4000, 50):
        results = await asyncio.gather(*(api.post("/cancel-flow/reasons", junk, **from_ip(f"10.{n // 62500}.{n // 250 % 250}.{n % 250}"))
                                         for n in range(start, start + 50)))
        statuses += [r.status for r in results]
        refusals += [r for r in results if r.status == 429]
        if refusals and start >= 850:
            break
    elapsed = time.monotonic() - started
    # 600 at once, then 40 a second as the ceiling refills.
    assert 600 <= statuses.count(400) <= 600 + 40 * elapsed + 1, (statuses.count(400), elapsed)
    assert refusals and all(r.headers["X-RateLimit-Limit"] == "600" and int(r.headers["Retry-After"]) >= 1
                            for r in refusals)
    # Another merchant's widget is untouched.
    r = await api.post("/cancel-flow/reasons", answer(second), **from_ip("198.51.100.30"))
    assert r.status == 201, r


@pytest.mark.gen_test
async def test_widget_script_is_versioned_and_cacheable(api):
    plain = await api.get("/widget.js")
    assert plain.status == 200
    assert plain.headers["Content-Type"].startswith("application/javascript")
    assert "Windback" in plain.text and "data-public-key" in plain.text
    etag = plain.headers["ETag"]
    assert plain.headers["Cache-Control"] == "public, max-age=300"
    again = await api.get("/widget.js", headers={"If-None-Match": etag})
    assert again.status == 304 and again.text == ""
    version = etag.strip('"')
    pinned = await api.get(f"/widget.js?v={version}")
    assert pinned.status == 200 and pinned.text == plain.text
    assert pinned.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    stale = await api.get("/widget.js?v=0000000000000000")  # an old version: the current one, briefly cached
    assert stale.headers["Cache-Control"] == "public, max-age=300"
    refused = await api.post("/widget.js", {})
    assert refused.status == 405 and refused.error["code"] == "METHOD_NOT_ALLOWED"


@pytest.mark.gen_test
async def test_a_stored_cancel_flow_from_before_validation_falls_back_to_defaults(api):
    _, project = await api.owner()
    from store.db import unit_of_work
    from store.models import Project

    with unit_of_work():
        Project.update(settings='{"cancel_flow": {"reasons": "all of them", "offers": [1]}}').where(
            Project.id == project["id"]).execute()
    r = await api.get(f"/cancel-flow/config/{project['public_key']}")
    assert r.status == 200, r
    assert len(r.data["reasons"]) == 9 and r.data["offers"]["too_expensive"]["percent_off"] == 20
