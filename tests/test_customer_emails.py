"""value_reminder emails name the customer's real use: their three most used tracked events of the
last 90 days with counts, and only those names and counts reach the AI writer."""
import datetime as dt
import json

import pytest

from tests.test_customers import noon, stamp, track
from tests.test_openai_writer import fake_openai  # noqa: F401 - the loopback OpenAI server
from tests.test_variants import BASE

USE = [("report_viewed", 5), ("export_used", 3), ("login", 2), ("dashboard_viewed", 1)]


def usage_events(customer_id, email=None):
    events = []
    for name, count in USE:
        for n in range(count):
            events.append({"event": name, "customer_id": customer_id, "customer_email": email,
                           "properties": {"secret_note": "do-not-share"}, "timestamp": stamp(noon(n + 1))})
    # Older than 90 days: not "real use" any more.
    events += [{"event": "legacy_import", "customer_id": customer_id, "timestamp": stamp(noon(120))}] * 9
    return events


async def churned_customer(api):
    token, project = await api.owner()
    key = project["secret_key"]
    await track(api, key, usage_events("cus_ada", "ada@example.com"))
    r = await api.post(BASE, {"customer_email": "ada@example.com", "customer_id": "cus_ada", "customer_name": "Ada Lovelace",
                              "plan": "Pro", "cancel_reason": "not_using"}, key=key)
    assert r.status == 201, r
    return key, r.data


@pytest.mark.gen_test(timeout=30)
async def test_the_ai_writer_receives_only_the_top_three_event_names_and_counts(fake_openai, api):  # noqa: F811
    key, event = await churned_customer(api)
    r = await api.post(f"{BASE}/{event['id']}/generate", key=key)
    assert r.status == 201, r
    [request] = fake_openai.requests
    sent = json.dumps(request["body"])
    user = json.loads(request["body"]["messages"][-1]["content"])
    assert user["most_used_features"] == [{"event": "report_viewed", "count": 5}, {"event": "export_used", "count": 3},
                                          {"event": "login", "count": 2}]
    assert set(user) == {"first_name", "plan", "cancel_reason", "brand", "offer", "most_used_features"}
    assert "dashboard_viewed" not in sent and "legacy_import" not in sent  # fourth, and older than 90 days
    assert "do-not-share" not in sent and "cus_ada" not in sent and "example.com" not in sent


@pytest.mark.gen_test(timeout=30)
async def test_template_value_reminders_name_the_real_use(api):
    key, event = await churned_customer(api)
    r = await api.post(f"{BASE}/{event['id']}/generate", key=key)
    assert r.status == 201, r
    reminders = [v for v in r.data if v["strategy"] == "value_reminder"]
    assert len(reminders) == 3
    for variant in reminders:
        assert ("In the last three months you used report viewed 5 times, export used 3 times and login 2 times."
                in variant["body_text"]), variant["body_text"]
    others = [v for v in r.data if v["strategy"] != "value_reminder"]
    assert all("report viewed" not in v["body_text"] for v in others)


@pytest.mark.gen_test(timeout=30)
async def test_without_tracked_events_the_reminder_says_nothing_of_use(api):
    token, project = await api.owner()
    r = await api.post(BASE, {"customer_email": "bob@example.com", "customer_name": "Bob"}, key=project["secret_key"])
    r = await api.post(f"{BASE}/{r.data['id']}/generate", key=project["secret_key"])
    reminders = [v for v in r.data if v["strategy"] == "value_reminder"]
    assert all("you used" not in v["body_text"] and "\n\n\n" not in v["body_text"] for v in reminders)
