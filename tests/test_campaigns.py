"""Automatic win-back campaigns over the real server: settings, who joins (every source), the
holdout split, a step sent through the person's send path (real SMTP), and everything that ends
a campaign (recovery, save, unsubscribe, a person's send, stop)."""
from __future__ import annotations

import datetime as dt
import re

import pytest

from tests.campaign_support import (FAST, enable, event_row, hand_group, jobs_of, running_scheduler, steps,
                                    until)
from store import scheduled_jobs
from store.db import unit_of_work
from store.models import utcnow
from tests.test_cancel_flow import answer
from tests.test_sending import fetch, smtp  # noqa: F401 - the SMTP sink fixture
from tests.test_webhooks_custom import deliver as deliver_custom
from tests.test_webhooks_stripe import deliver as deliver_stripe
from tests.webhook_support import (churn_events, razorpay_event, razorpay_headers, settled, stripe_event,
                                   stripe_subscription, webhook_project, encode)

BASE = "/projects/acme/churn-events"


async def churn(api, key, email, **fields):
    body = {"customer_email": email, "customer_name": "Ada Lovelace", "plan": "Pro",
            "cancel_reason": "too_expensive", "mrr_cents": 4900, **fields}
    r = await api.post(BASE, body, key=key)
    assert r.status == 201, r
    return r.data


@pytest.mark.gen_test
async def test_settings_have_defaults_are_validated_and_merge_key_by_key(api):
    token, project = await api.owner()
    r = await api.get("/projects/acme", token=token)
    assert r.data["settings"]["campaign"] == {
        "enabled": False, "reasons": None, "min_mrr_cents": 0, "holdout_percent": 10,
        "steps": [{"after_hours": 1, "strategy": "auto"}, {"after_hours": 72, "strategy": "auto"},
                  {"after_hours": 240, "strategy": "auto"}]}
    bad = [({"holdout_percent": 51}, "settings.campaign.holdout_percent"),
           ({"holdout_percent": -1}, "settings.campaign.holdout_percent"),
           ({"reasons": ["too_pricey"]}, "settings.campaign.reasons[0]"),
           ({"steps": []}, "settings.campaign.steps"),
           ({"steps": steps(5, 2)}, "settings.campaign.steps"),
           ({"steps": [{"after_hours": 0}]}, "settings.campaign.steps[0].after_hours"),
           ({"steps": [{"after_hours": 1, "strategy": "bribe"}]}, "settings.campaign.steps[0].strategy"),
           ({"min_mrr_cents": "lots"}, "settings.campaign.min_mrr_cents"),
           ({"enabled": "yes"}, "settings.campaign.enabled"),
           ({"holdout": 5}, "settings.campaign.holdout")]
    for campaign, field in bad:
        r = await api.patch("/projects/acme", {"settings": {"campaign": campaign}}, token=token)
        assert r.status == 400, (campaign, r)
        assert field in [d["field"] for d in r.error["details"]], (campaign, r.error)
    r = await api.get("/projects/acme", token=token)
    assert r.data["settings"]["campaign"]["enabled"] is False, "a refused PATCH changes nothing"

    r = await api.patch("/projects/acme", {"settings": {"campaign": {"enabled": True, "holdout_percent": 20}}},
                        token=token)
    assert r.status == 200, r
    r = await api.patch("/projects/acme", {"settings": {"campaign": {"steps": steps(0.5, 24, strategy="value_reminder")}}},
                        token=token)
    campaign = r.data["settings"]["campaign"]
    assert campaign["enabled"] is True and campaign["holdout_percent"] == 20, "merged, not replaced"
    assert campaign["steps"] == steps(0.5, 24, strategy="value_reminder")


@pytest.mark.gen_test
async def test_matching_churns_join_in_the_group_of_their_hash_and_others_stay_out(api):
    token, project = await api.owner()
    key = project["secret_key"]
    await enable(api, token, holdout_percent=50, reasons=["too_expensive", "not_using"], min_mrr_cents=1000)
    joined = []
    for i in range(16):
        before = dt.datetime.now(dt.timezone.utc)
        event = await churn(api, key, f"Cust{i}@Example.com", customer_id=f"cus_{i}" if i % 2 else None)
        customer = f"id:cus_{i}" if i % 2 else f"email:cust{i}@example.com"
        group = hand_group(project["id"], customer, 50)
        campaign = event["campaign"]
        assert campaign["group"] == group and campaign["step"] == 0 and campaign["status"] == "active"
        assert campaign["ended_reason"] is None
        jobs = jobs_of(event["id"])
        if group == "treatment":
            due = dt.datetime.fromisoformat(campaign["next_send_at"].replace("Z", "+00:00"))
            assert dt.timedelta(minutes=59) < due - before < dt.timedelta(minutes=61), "first step after 1 hour"
            assert [(j.data["step"], j.status) for j in jobs] == [(1, "scheduled"), (2, "scheduled"), (3, "scheduled")]
            hours = [(j.due_at - jobs[0].due_at).total_seconds() / 3600 for j in jobs]
            assert [round(h) for h in hours] == [0, 71, 239]
        else:
            assert campaign["next_send_at"] is None and jobs == [], "holdout: no email is ever scheduled"
        joined.append((event["id"], group))
    assert {group for _, group in joined} == {"holdout", "treatment"}

    # Out: another reason, MRR under the minimum, a churn imported from long ago.
    assert (await churn(api, key, "r@example.com", cancel_reason="poor_support"))["campaign"] is None
    assert (await churn(api, key, "m@example.com", mrr_cents=999))["campaign"] is None
    old = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=200)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert (await churn(api, key, "o@example.com", churned_at=old))["campaign"] is None
    # The list and the single read show the same field.
    r = await api.get(f"{BASE}?per_page=100", key=key)
    listed = {e["id"]: e["campaign"] for e in r.data}
    assert all(listed[event_id]["group"] == group for event_id, group in joined)
    r = await api.get(f"{BASE}/{joined[0][0]}", key=key)
    assert r.data["campaign"]["group"] == joined[0][1]


@pytest.mark.gen_test
async def test_churns_from_every_source_join_and_a_saved_customer_leaves(api):
    token, project = await webhook_project(api)
    await enable(api, token)
    sub = stripe_subscription(customer="cus_S1", email="stripe@example.com")
    assert (await deliver_stripe(api, project, stripe_event("customer.subscription.deleted", sub))).status == 200
    body = encode(razorpay_event("subscription.cancelled", customer="cust_R1", email="razor@example.in"))
    r = await api.post(f"/webhooks/razorpay/{project['public_key']}", raw=body, headers=razorpay_headers(body))
    assert r.status == 200, r
    r = await deliver_custom(api, project, {"type": "churn", "customer_email": "custom@example.com",
                                            "customer_id": "u_1", "mrr_cents": 1000})
    assert r.status == 200, r
    await settled(project["id"])
    r = await api.post("/cancel-flow/reasons", answer(project, customer_email="widget@example.com"))
    assert r.status == 201, r
    r = await api.post("/cancel-flow/reasons", answer(project, customer_email="kept@example.com",
                                                       offer_shown=True, offer_accepted=True))
    assert r.status == 201 and r.data["saved"] is True, r
    by_source = {(e.source, e.customer_email): e for e in churn_events(project["id"])}
    for source, address in (("stripe", "stripe@example.com"), ("razorpay", "razor@example.in"),
                            ("custom", "custom@example.com"), ("widget", "widget@example.com")):
        event = by_source[(source, address)]
        assert (event.campaign_group, event.campaign_status) == ("treatment", "active"), source
        assert len(jobs_of(event.id)) == 3, source
    saved = by_source[("widget", "kept@example.com")]
    assert (saved.campaign_status, saved.campaign_ended_reason) == ("ended", "saved")
    assert {j.status for j in jobs_of(saved.id)} == {"cancelled"}


@pytest.mark.gen_test
async def test_stop_ends_the_campaign_once_and_answers_409_when_none_is_active(api):
    token, project = await api.owner()
    key = project["secret_key"]
    outside = await churn(api, key, "early@example.com")  # before the campaign was enabled
    await enable(api, token)
    event = await churn(api, key, "ada@example.com")
    r = await api.post(f"{BASE}/{event['id']}/campaign/stop", key=key)
    assert r.status == 200, r
    assert r.data["id"] == event["id"] and r.data["campaign"] == {
        "group": "treatment", "step": 0, "next_send_at": None, "status": "ended", "ended_reason": "stopped"}
    assert {j.status for j in jobs_of(event["id"])} == {"cancelled"}
    r = await api.post(f"{BASE}/{event['id']}/campaign/stop", key=key)
    assert r.status == 409 and r.error["code"] == "CAMPAIGN_NOT_ACTIVE", r
    r = await api.post(f"{BASE}/{outside['id']}/campaign/stop", key=key)
    assert r.status == 409, r
    r = await api.post(f"{BASE}/ce_nope/campaign/stop", key=key)
    assert r.status == 404, r
    # A new churn of the same customer later does not re-join the ended campaign of this event.
    again = await api.post(BASE, {"customer_email": "ada@example.com", "plan": "Max"}, key=key)
    assert again.status == 200 and again.data["campaign"]["status"] == "ended"


@pytest.mark.gen_test(timeout=60)
@pytest.mark.env(FAST)
async def test_a_step_goes_out_as_a_persons_send_would_and_a_recovery_is_attributed_to_it(smtp, api, ctx):  # noqa: F811
    token, project = await api.owner()
    key = project["secret_key"]
    await api.patch("/projects/acme", {"settings": {"mail_from": "Acme <hello@acme.test>"}}, token=token)
    await enable(api, token, steps=steps(0.0003, 5))
    event = await churn(api, key, "ada@example.com")
    async with running_scheduler(ctx):
        assert await until(lambda: len(smtp.messages) == 1)
        assert await until(lambda: event_row(event["id"]).campaign_step == 1)
    [(mail_from, rcpt_tos, message, _)] = smtp.messages
    first, second = jobs_of(event["id"])
    assert first.status == "done" and second.status == "scheduled"
    assert rcpt_tos == ["ada@example.com"] and message["From"] == "Acme <hello@acme.test>"
    assert message["Message-ID"] == f"<{first.id}@acme.test>" == first.result, "the job id is the Message-ID"
    assert re.fullmatch(r"<http://windback\.test/api/v1/unsubscribe\?token=\S+>", message["List-Unsubscribe"])
    assert "Unsubscribe:" in message.get_body(("plain",)).get_content()
    r = await api.get(f"{BASE}/{event['id']}/variants?status=sent", key=key)
    [sent] = r.data
    assert sent["message_id"] == message["Message-ID"] and sent["subject"] == message["Subject"]
    r = await api.get(f"{BASE}/{event['id']}", key=key)
    assert r.data["status"] == "contacted"
    assert r.data["campaign"]["step"] == 1 and r.data["campaign"]["status"] == "active"
    assert r.data["campaign"]["next_send_at"].startswith(second.due_at.isoformat()[:19])

    r = await api.post(f"{BASE}/{event['id']}/recovered", key=key)
    assert r.status == 200, r
    assert r.data["recovered_by_variant_id"] == sent["id"], "the recovery is credited to the campaign's email"
    assert r.data["campaign"]["status"] == "ended" and r.data["campaign"]["ended_reason"] == "recovered"
    assert jobs_of(event["id"])[1].status == "cancelled"
    r = await api.get("/projects/acme/campaign", token=token)
    arm = next(a for a in r.data["arms"] if (a["strategy"], a["tone"]) == (sent["strategy"], sent["tone"]))
    assert (arm["sent"], arm["recovered"], arm["share_of_recent_sends"]) == (1, 1, 1.0)
    assert r.data["treatment"] == {"customers": 1, "recovered": 1, "recovery_rate": 1.0}
    assert r.data["holdout"]["customers"] == 0 and r.data["lift"] is None


@pytest.mark.gen_test(timeout=60)
@pytest.mark.env(FAST)
async def test_an_unsubscribe_or_a_persons_send_ends_the_campaign(smtp, api, ctx):  # noqa: F811
    token, project = await api.owner()
    key = project["secret_key"]
    await enable(api, token, steps=steps(0.0003, 0.5))
    leaving = await churn(api, key, "leave@example.com")
    manual = await churn(api, key, "manual@example.com")
    async with running_scheduler(ctx):
        assert await until(lambda: len(smtp.messages) == 2)
    [message] = [m for _, to, m, _ in smtp.messages if to == ["leave@example.com"]]
    url = re.fullmatch(r"<(\S+)>", message["List-Unsubscribe"]).group(1)
    response = await fetch(api, url, "POST", body="List-Unsubscribe=One-Click",
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.code == 200
    r = await api.get(f"{BASE}/{leaving['id']}", key=key)
    assert r.data["campaign"]["status"] == "ended" and r.data["campaign"]["ended_reason"] == "unsubscribed"
    assert jobs_of(leaving["id"])[1].status == "cancelled"

    r = await api.get(f"{BASE}/{manual['id']}/variants?status=draft", key=key)
    r = await api.post(f"{BASE}/{manual['id']}/variants/{r.data[0]['id']}/send", key=key)
    assert r.status == 200, r
    r = await api.get(f"{BASE}/{manual['id']}", key=key)
    assert r.data["campaign"]["status"] == "ended" and r.data["campaign"]["ended_reason"] == "manual_send"
    assert jobs_of(manual["id"])[1].status == "cancelled"


def _came_due_days_ago(job_id: str, days: int) -> None:
    """What a server that was down for `days` finds: the step came due long ago."""
    with unit_of_work():
        scheduled_jobs.ScheduledJob.update(due_at=utcnow() - dt.timedelta(days=days)).where(
            scheduled_jobs.ScheduledJob.id == job_id).execute()


@pytest.mark.gen_test(timeout=60)
@pytest.mark.env(FAST)
async def test_a_step_the_scheduler_gives_up_on_is_passed_over_and_the_last_completes_the_campaign(smtp, api, ctx):  # noqa: F811
    token, project = await api.owner()
    key = project["secret_key"]
    await enable(api, token, steps=steps(0.0003, 5))
    event = await churn(api, key, "ada@example.com")
    first, second = jobs_of(event["id"])
    _came_due_days_ago(first.id, 2)
    async with running_scheduler(ctx):
        assert await until(lambda: jobs_of(event["id"])[0].status == "skipped")
        assert await until(lambda: event_row(event["id"]).campaign_step == 1)
    assert "h late" in jobs_of(event["id"])[0].error
    r = await api.get(f"{BASE}/{event['id']}", key=key)
    assert r.data["campaign"]["status"] == "active" and r.data["campaign"]["step"] == 1
    assert r.data["campaign"]["next_send_at"].startswith(second.due_at.isoformat()[:19])

    _came_due_days_ago(second.id, 1)
    async with running_scheduler(ctx):
        assert await until(lambda: event_row(event["id"]).campaign_status == "completed")
    r = await api.get(f"{BASE}/{event['id']}", key=key)
    assert r.data["campaign"]["status"] == "completed" and r.data["campaign"]["next_send_at"] is None
    assert smtp.messages == [], "a step that came due while the server was down for a day is not sent late"
