"""Custom senders: Standard Webhooks signatures, `churn` and `recovered` events."""
import asyncio

import pytest

from tests.webhook_support import churn_events, custom_headers, encode, settled, webhook_project


async def deliver(api, project, event, msg_id=None, secret=None, body=None):
    body = body or encode(event)
    headers = custom_headers(body, msg_id=msg_id) if secret is None else custom_headers(body, secret, msg_id)
    return await api.post(f"/webhooks/custom/{project['public_key']}", raw=body, headers=headers)


CHURN = {"type": "churn", "customer_email": "Kim@Example.com", "customer_name": "Kim", "customer_id": "u_7",
         "plan": "Team", "mrr_cents": 15000, "currency": "gbp", "cancel_reason": "not_using",
         "cancel_reason_detail": "Team shrank", "metadata": {"seats": 5}}


@pytest.mark.gen_test
async def test_churn_creates_one_event_and_recovered_closes_it(api):
    _, project = await webhook_project(api)
    r = await deliver(api, project, CHURN, msg_id="msg_1")
    assert r.status == 200 and r.data["duplicate"] is False, r
    await settled(project["id"])
    [event] = churn_events(project["id"])
    assert (event.source, event.customer_email, event.customer_name, event.customer_id) == \
        ("custom", "kim@example.com", "Kim", "u_7")
    assert (event.plan, event.mrr_cents, event.currency) == ("Team", 15000, "GBP")
    assert (event.cancel_reason, event.cancel_reason_detail, event.status) == ("not_using", "Team shrank", "new")
    r = await deliver(api, project, {"type": "recovered", "customer_id": "u_7", "recovered_mrr_cents": 12000},
                      msg_id="msg_2")
    assert r.status == 200, r
    await settled(project["id"])
    [event] = churn_events(project["id"])
    assert event.status == "recovered" and event.recovered_mrr_cents == 12000


@pytest.mark.gen_test
async def test_the_same_message_three_times_and_twenty_times_concurrently_has_one_effect(api):
    _, project = await webhook_project(api)
    answers = [await deliver(api, project, CHURN, msg_id="msg_same") for _ in range(3)]
    assert [a.data["duplicate"] for a in answers] == [False, True, True]
    await settled(project["id"])
    recovery = {"type": "recovered", "customer_email": "kim@example.com"}
    concurrent = await asyncio.gather(*(deliver(api, project, recovery, msg_id="msg_rec") for _ in range(20)))
    assert sorted(a.data["duplicate"] for a in concurrent) == [False] + [True] * 19
    rows = await settled(project["id"])
    assert [row.status for row in rows] == ["processed", "processed"]
    [event] = churn_events(project["id"])
    assert event.status == "recovered" and event.recovered_mrr_cents == 15000  # default: the event's MRR


@pytest.mark.gen_test
async def test_a_secret_without_the_whsec_prefix_is_used_as_its_bytes(api):
    token, project = await webhook_project(api)
    r = await api.patch("/projects/acme", {"settings": {"custom_webhook_secret": "plain-text-secret"}}, token=token)
    assert r.status == 200
    r = await deliver(api, project, CHURN, secret="plain-text-secret")
    assert r.status == 200, r
    assert [row.status for row in await settled(project["id"])] == ["processed"]


@pytest.mark.gen_test
async def test_a_signed_but_malformed_event_is_refused_and_not_stored(api):
    _, project = await webhook_project(api)
    r = await deliver(api, project, {"type": "churn", "mrr_cents": "lots"})
    assert r.status == 400 and r.error["code"] == "VALIDATION_ERROR"
    fields = {d["field"] for d in r.error["details"]}
    assert "mrr_cents" in fields
    r = await deliver(api, project, {"type": "churn", "customer_name": "Nobody"})
    assert r.status == 400 and r.error["details"][0]["field"] == "customer_email"
    r = await deliver(api, project, None, body='{"type": "churn", "customer_name": "Zo\xe9"}'.encode("latin-1"))
    assert r.status == 400 and r.error["details"][0]["field"] == "body"  # signed, but not UTF-8
    # Other types are acknowledged and kept as ignored.
    r = await deliver(api, project, {"type": "user.signed_up", "customer_email": "x@example.com"})
    assert r.status == 200
    rows = await settled(project["id"])
    assert [(row.event_type, row.status) for row in rows] == [("user.signed_up", "ignored")]
