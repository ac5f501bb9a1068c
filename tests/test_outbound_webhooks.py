"""Outbound webhooks end to end: endpoints through the API, events signed per Standard Webhooks
(verified by the `standardwebhooks` package), retries with the same webhook-id, the Slack kind
and its MRR filter, manual retry and test events, and who may manage endpoints."""
from __future__ import annotations

import datetime as dt
import json

import pytest

from services.outbound import emit
from store.db import unit_of_work
from store.models import IdempotencyKey, utcnow
from store.outbound_deliveries import give_up, purge_settled
from store.team import add_member
from tests.test_roles_matrix import user_id_of
from tests.outbound_support import OUTBOUND_ENV, deliveries, receivers, scheduling, until  # noqa: F401 - fixture

pytestmark = pytest.mark.env(OUTBOUND_ENV)


async def endpoint(api, token, url, slug="acme", **fields):
    r = await api.post(f"/projects/{slug}/webhook-endpoints", {"url": url, **fields}, token=token)
    assert r.status == 201, r
    return r.data


@pytest.mark.gen_test(timeout=60)
async def test_a_churn_event_reaches_a_standard_endpoint_signed_and_the_secret_is_shown_once(api, ctx, receivers):
    async with scheduling(ctx):
        receiver = receivers()
        token, project = await api.owner()
        created = await endpoint(api, token, receiver.url, events=["churn_event.created"], description="CRM")
        secret = created["secret"]
        assert secret.startswith("whsec_") and len(secret) == len("whsec_") + 32  # base64 of 24 bytes
        assert created["kind"] == "standard" and created["events"] == ["churn_event.created"]

        shown = await api.get(f"/projects/acme/webhook-endpoints/{created['id']}", token=token)
        assert shown.status == 200 and shown.data["secret"] != secret and "****" in shown.data["secret"]
        listed = await api.get("/projects/acme/webhook-endpoints", token=token)
        assert [e["id"] for e in listed.data] == [created["id"]] and secret not in listed.text

        r = await api.post("/projects/acme/churn-events", {"customer_email": "ada@example.com", "mrr_cents": 4900,
                                                           "cancel_reason": "too_expensive"}, key=project["secret_key"])
        assert r.status == 201
        assert await until(lambda: len(receiver.received) == 1)
        [event] = receiver.events(secret)  # raises unless the signature verifies
        assert event["type"] == "churn_event.created" and event["timestamp"].endswith("Z")
        assert event["data"] == r.data  # the resource as the API shows it
        headers = receiver.received[0][0]
        [delivery] = deliveries()
        assert headers["webhook-id"] == delivery.id

        assert await until(lambda: deliveries()[0].status == "succeeded")
        page = await api.get(f"/projects/acme/webhook-endpoints/{created['id']}/deliveries", token=token)
        assert page.status == 200 and page.json["meta"]["total"] == 1
        row = page.data[0]
        assert (row["id"], row["event_type"], row["status"], row["attempts"], row["last_status_code"]) == (
            delivery.id, "churn_event.created", "succeeded", 1, 200)
        assert set(row) >= {"last_error", "next_attempt_at", "created_at"}

        # Not subscribed to recoveries: nothing more arrives.
        await api.post(f"/projects/acme/churn-events/{r.data['id']}/recovered", {}, key=project["secret_key"])
        assert not await until(lambda: len(receiver.received) > 1, timeout=1.0)


@pytest.mark.gen_test(timeout=60)
async def test_a_receiver_answering_500_twice_gets_the_event_three_times_with_the_same_webhook_id(api, ctx, receivers):
    async with scheduling(ctx):
        receiver = receivers(statuses=[500, 500])
        token, project = await api.owner()
        created = await endpoint(api, token, receiver.url)
        await api.post("/projects/acme/churn-events", {"customer_email": "bo@example.com"}, key=project["secret_key"])
        assert await until(lambda: deliveries()[0].status == "succeeded")
        assert len(receiver.received) == 3
        ids = {headers["webhook-id"] for headers, _ in receiver.received}
        assert ids == {deliveries()[0].id}
        events = receiver.events(created["secret"])
        assert [e["type"] for e in events] == ["churn_event.created"] * 3 and events[0] == events[2]
        assert deliveries()[0].attempts == 3


@pytest.mark.env({"WINDBACK_WEBHOOK_RETRY_SCALE": "0.0001"})  # the whole schedule in 10 s
@pytest.mark.gen_test(timeout=60)
async def test_a_receiver_that_keeps_failing_ends_failed_after_the_retry_schedule(api, ctx, receivers):
    async with scheduling(ctx):
        receiver = receivers(statuses=[503] * 20)
        token, project = await api.owner()
        created = await endpoint(api, token, receiver.url)
        await api.post("/projects/acme/churn-events", {"customer_email": "cy@example.com"}, key=project["secret_key"])
        # 8 attempts: the first and 7 retries (5 s ... 10 h, times 0.001 here).
        assert await until(lambda: deliveries()[0].status == "failed", timeout=40)
        delivery = deliveries()[0]
        assert (delivery.attempts, delivery.last_status_code, len(receiver.received)) == (8, 503, 8)
        assert delivery.last_error == "answered 503"
        listed = await api.get(f"/projects/acme/webhook-endpoints/{created['id']}/deliveries?status=failed", token=token)
        assert listed.data[0]["last_response"] == "answer 503"

        # A person retries it: one more attempt with the same webhook-id, which now succeeds.
        receiver.statuses.clear()
        r = await api.post(f"/projects/acme/webhook-endpoints/{created['id']}/deliveries/{delivery.id}/retry",
                           token=token)
        assert r.status == 202 and r.data["status"] == "pending"
        assert await until(lambda: deliveries()[0].status == "succeeded")
        assert receiver.received[-1][0]["webhook-id"] == delivery.id and len(receiver.received) == 9


@pytest.mark.gen_test(timeout=60)
async def test_slack_endpoint_gets_the_documented_text_and_min_mrr_filters(api, ctx, receivers):
    async with scheduling(ctx):
        slack = receivers()
        token, project = await api.owner()
        await endpoint(api, token, slack.url, kind="slack", events=["churn_event.created"], min_mrr_cents=10000)
        key = project["secret_key"]
        await api.post("/projects/acme/churn-events", {"customer_email": "small@example.com", "mrr_cents": 900},
                       key=key)
        big = await api.post("/projects/acme/churn-events",
                             {"customer_email": "big@example.com", "customer_name": "Grace Hopper",
                              "mrr_cents": 250000, "currency": "EUR", "cancel_reason": "switched_competitor"}, key=key)
        assert await until(lambda: len(slack.received) == 1)
        assert not await until(lambda: len(slack.received) > 1, timeout=1.0)  # 9.00 is under the minimum
        headers, body = slack.received[0]
        assert "webhook-signature" not in headers
        text = json.loads(body)["text"]
        assert text == (":warning: Grace Hopper (big@example.com) cancelled: 2,500.00 EUR/month, reason: switched "
                        f"competitor. <http://windback.test/app/projects/acme/events/{big.data['id']}|Open in Windback>")


@pytest.mark.gen_test(timeout=60)
async def test_test_event_and_endpoint_changes(api, ctx, receivers):
    async with scheduling(ctx):
        receiver = receivers()
        token, _ = await api.owner()
        created = await endpoint(api, token, receiver.url, events=["churn_event.lost"])
        base = f"/projects/acme/webhook-endpoints/{created['id']}"
        r = await api.post(base + "/test", token=token)
        assert r.status == 202 and r.data["event_type"] == "webhook_endpoint.test"
        assert await until(lambda: len(receiver.received) == 1)
        assert receiver.events(created["secret"])[0]["data"]["endpoint_id"] == created["id"]

        r = await api.patch(base, {"events": ["*"], "description": "all", "enabled": False}, token=token)
        assert r.status == 200 and r.data["events"] == ["*"] and r.data["enabled"] is False
        r = await api.post(base + "/test", token=token)
        assert r.status == 409  # disabled: nothing is sent
        r = await api.patch(base, {"events": ["churn_event.vanished"]}, token=token)
        assert r.status == 400 and r.error["details"][0]["field"] == "events[0]"
        r = await api.delete(base, token=token)
        assert r.status == 204
        assert (await api.get(base, token=token)).status == 404
        assert (await api.get(base + "/deliveries", token=token)).status == 404


@pytest.mark.gen_test
async def test_a_create_with_an_idempotency_key_never_keeps_the_secret_and_a_replay_is_refused(api):
    token, _ = await api.owner()
    body = {"url": "http://127.0.0.1:9/hook"}
    first = await api.post("/projects/acme/webhook-endpoints", body, token=token, headers={"Idempotency-Key": "we-1"})
    assert first.status == 201 and first.data["secret"].startswith("whsec_")
    # The answer carried the secret, so nothing of it was kept to replay: the retry is refused
    # rather than shown the secret again or given a second endpoint.
    again = await api.post("/projects/acme/webhook-endpoints", body, token=token, headers={"Idempotency-Key": "we-1"})
    assert again.status == 409 and again.error["code"] == "CONFLICT"
    assert first.data["secret"] not in again.text
    assert all(first.data["secret"] not in (row.response_body or "") for row in IdempotencyKey.select())
    assert (await api.get("/projects/acme/webhook-endpoints", token=token)).json["meta"]["total"] == 1


@pytest.mark.gen_test
async def test_bad_input_is_refused_in_the_envelope(api):
    token, _ = await api.owner()
    for body, field in (({"url": "http://127.0.0.1:9/x", "events": ["churn_event.exploded"]}, "events[0]"),
                        ({"url": "http://127.0.0.1:9/x", "kind": "teams"}, "kind"),
                        ({"events": ["*"]}, "url"),
                        ({"url": "http://127.0.0.1:9/x", "min_mrr_cents": -1}, "min_mrr_cents")):
        r = await api.post("/projects/acme/webhook-endpoints", body, token=token)
        assert r.status == 400 and r.error["code"] == "VALIDATION_ERROR", r
        assert field in [d["field"] for d in r.error["details"]]
    assert (await api.get("/projects/acme/webhook-endpoints", token=token)).json["meta"]["total"] == 0


@pytest.mark.gen_test
async def test_only_admins_manage_endpoints(api):
    owner, project = await api.owner()
    created = await endpoint(api, owner, "http://127.0.0.1:9/hook")
    member = await api.signup()
    outsider = await api.signup()
    with unit_of_work():
        add_member(project["id"], user_id_of(member), "member")
    base = "/projects/acme/webhook-endpoints"
    for method, path in (("GET", base), ("POST", base), ("GET", f"{base}/{created['id']}"),
                         ("PATCH", f"{base}/{created['id']}"), ("DELETE", f"{base}/{created['id']}"),
                         ("GET", f"{base}/{created['id']}/deliveries"), ("POST", f"{base}/{created['id']}/test")):
        body = {"url": "http://127.0.0.1:9/x"} if method in ("POST", "PATCH") else None
        assert (await api.request(method, path, body, token=member)).status == 403, (method, path)
        assert (await api.request(method, path, body, token=outsider)).status == 404, (method, path)
        assert (await api.request(method, path, body, key=project["secret_key"])).status == 403, (method, path)


@pytest.mark.gen_test(timeout=60)
async def test_a_receiver_that_never_answers_holds_two_attempts_at_most_and_others_go_on(api, ctx, receivers):
    async with scheduling(ctx):
        silent = receivers(hang=True)
        fast = receivers()
        token, project = await api.owner()
        await endpoint(api, token, silent.url)
        fast_endpoint = await endpoint(api, token, fast.url)
        for i in range(6):
            r = await api.post("/projects/acme/churn-events", {"customer_email": f"n{i}@example.com"},
                               key=project["secret_key"])
            assert r.status == 201
        # The fast receiver gets all six while the silent one still holds its first requests open.
        assert await until(lambda: len(fast.received) == 6, timeout=9)
        assert len(silent.received) == 2  # two attempts in flight per endpoint, the rest wait their turn
        assert len(fast.events(fast_endpoint["secret"])) == 6
        silent.close()  # the attempts it holds end now, so the scheduler stops at once


@pytest.mark.gen_test(timeout=60)
async def test_emit_after_a_commit_delivers_events_of_other_features(api, ctx, receivers):
    """`services.outbound.emit` is how code without a transaction (dunning, billing actions)
    announces what it committed; the payload is passed through as `data`."""
    async with scheduling(ctx):
        receiver = receivers()
        token, project = await api.owner()
        created = await endpoint(api, token, receiver.url, events=["payment_recovery.opened"], min_mrr_cents=5000)
        recovery = {"id": "pr_1", "customer_email": "p@example.com", "amount_due_cents": 9900, "currency": "USD",
                    "status": "open"}
        assert len(await emit(ctx, project["id"], "payment_recovery.opened", recovery)) == 1
        assert await emit(ctx, project["id"], "payment_recovery.opened", {**recovery, "amount_due_cents": 100}) == []
        assert await emit(ctx, project["id"], "billing_action.applied", {"id": "ba_1"}) == []  # not subscribed
        with pytest.raises(ValueError):
            await emit(ctx, project["id"], "payment_recovery.misplaced", recovery)
        assert await until(lambda: len(receiver.received) == 1)
        [event] = receiver.events(created["secret"])
        assert (event["type"], event["data"]) == ("payment_recovery.opened", recovery)


@pytest.mark.gen_test
async def test_settled_deliveries_are_forgotten_after_30_days(api, ctx):
    token, project = await api.owner()
    await endpoint(api, token, "http://127.0.0.1:9/hook")
    await api.post("/projects/acme/churn-events", {"customer_email": "f@example.com"}, key=project["secret_key"])
    [delivery] = deliveries()
    with unit_of_work():
        give_up(delivery.id, "test")
        assert purge_settled() == 0
        assert purge_settled(now=utcnow() + dt.timedelta(days=31)) == 1
