"""Variants through the API: generate nine, list, edit, send (file outbox), and the event's
state moving new -> variants_ready -> contacted -> recovered."""
import datetime as dt
import email
import email.policy
import os

import pytest

from store.db import unit_of_work
from store.models import ChurnEvent
from store.variants import Variant, VariantGeneration, claim_generation, claim_send
from tests.helpers import is_address_check

BASE = "/projects/acme/churn-events"


async def setup_event(api, **fields):
    token, project = await api.owner()
    key = project["secret_key"]
    body = {"customer_email": "ada@example.com", "customer_name": "Ada Lovelace", "plan": "Pro",
            "cancel_reason": "too_expensive", "mrr_cents": 4900, **fields}
    r = await api.post(BASE, body, key=key)
    assert r.status == 201, r
    return token, key, r.data


def outbox_messages(settings):
    directory = settings.outbox_dir
    names = sorted(n for n in os.listdir(directory) if n.endswith(".eml")) if os.path.isdir(directory) else []
    messages = []
    for name in names:
        with open(os.path.join(directory, name), "rb") as handle:
            messages.append(email.message_from_binary_file(handle, policy=email.policy.default))
    return [message for message in messages if not is_address_check(message)]


@pytest.mark.gen_test
async def test_generate_list_edit_send_recover(api, settings):
    token, key, event = await setup_event(api)
    assert event["status"] == "new"
    r = await api.post(f"{BASE}/{event['id']}/generate", key=key)
    assert r.status == 201, r
    assert "meta" not in r.json  # no warnings with the template writer
    nine = r.data
    assert len(nine) == 9
    assert {(v["strategy"], v["tone"]) for v in nine} == {
        (s, t) for s in ("discount_offer", "value_reminder", "personal_check_in")
        for t in ("friendly", "professional", "urgent")}
    assert all(v["status"] == "draft" and v["generator"] == "template" and v["churn_event_id"] == event["id"]
               and v["sent_at"] is None and v["message_id"] is None for v in nine)
    assert all("Ada" in v["body_text"] for v in nine)
    r = await api.get(f"{BASE}/{event['id']}", key=key)
    assert r.data["status"] == "variants_ready"

    r = await api.get(f"{BASE}/{event['id']}/variants", token=token)
    assert r.status == 200 and r.json["meta"]["total"] == 9
    assert [v["id"] for v in r.data] == [v["id"] for v in nine]  # the grid's order

    chosen = nine[1]
    r = await api.patch(f"{BASE}/{event['id']}/variants/{chosen['id']}",
                        {"subject": "Come back, Ada", "body_text": "Hi Ada,\n\nWe miss you & your team."}, key=key)
    assert r.status == 200, r
    assert r.data["status"] == "edited" and r.data["subject"] == "Come back, Ada"
    assert "We miss you &amp; your team." in r.data["body_html"]  # the HTML follows a text edit

    r = await api.post(f"{BASE}/{event['id']}/variants/{chosen['id']}/send", key=key)
    assert r.status == 200, r
    assert r.data["status"] == "sent" and r.data["message_id"] and r.data["sent_at"]
    [message] = outbox_messages(settings)
    assert message["Subject"] == "Come back, Ada"
    assert message["To"] == "Ada Lovelace <ada@example.com>"
    assert message["Message-ID"] == r.data["message_id"]
    assert "We miss you & your team." in message.get_body(("plain",)).get_content()
    r = await api.get(f"{BASE}/{event['id']}", key=key)
    assert r.data["status"] == "contacted"

    # Edit or send again after sending: 409.
    r = await api.patch(f"{BASE}/{event['id']}/variants/{chosen['id']}", {"subject": "x"}, key=key)
    assert r.status == 409 and r.error["code"] == "CONFLICT"
    r = await api.post(f"{BASE}/{event['id']}/variants/{chosen['id']}/send", key=key)
    assert r.status == 409

    # Generating again replaces the unsent variants and keeps the sent one.
    r = await api.post(f"{BASE}/{event['id']}/generate", key=key)
    assert r.status == 201 and len(r.data) == 9
    r = await api.get(f"{BASE}/{event['id']}/variants?per_page=100", key=key)
    assert r.json["meta"]["total"] == 10
    assert [v["id"] for v in r.data if v["status"] == "sent"] == [chosen["id"]]
    r = await api.get(f"{BASE}/{event['id']}", key=key)
    assert r.data["status"] == "contacted"  # variants_ready only from new

    r = await api.post(f"{BASE}/{event['id']}/recovered", key=key)
    assert r.status == 200
    assert r.data["status"] == "recovered" and r.data["recovered_by_variant_id"] == chosen["id"]

    # A recovered event: no more generating or sending.
    r = await api.post(f"{BASE}/{event['id']}/generate", key=key)
    assert r.status == 409 and r.error["code"] == "CONFLICT"
    r = await api.get(f"{BASE}/{event['id']}/variants?status=draft", key=key)
    assert r.json["meta"]["total"] == 9
    r = await api.post(f"{BASE}/{event['id']}/variants/{r.data[0]['id']}/send", key=key)
    assert r.status == 409
    assert len(outbox_messages(settings)) == 1


@pytest.mark.gen_test
async def test_recovered_without_a_send_names_no_variant(api):
    _, key, event = await setup_event(api)
    await api.post(f"{BASE}/{event['id']}/generate", key=key)
    r = await api.post(f"{BASE}/{event['id']}/recovered", key=key)
    assert r.data["status"] == "recovered" and r.data["recovered_by_variant_id"] is None


@pytest.mark.gen_test
async def test_last_sent_variant_is_credited(api):
    _, key, event = await setup_event(api)
    nine = (await api.post(f"{BASE}/{event['id']}/generate", key=key)).data
    for variant in (nine[0], nine[5]):
        r = await api.post(f"{BASE}/{event['id']}/variants/{variant['id']}/send", key=key)
        assert r.status == 200, r
    r = await api.post(f"{BASE}/{event['id']}/recovered", key=key)
    assert r.data["recovered_by_variant_id"] == nine[5]["id"]


@pytest.mark.gen_test
async def test_bad_input_and_unknown_ids(api):
    token, key, event = await setup_event(api)
    nine = (await api.post(f"{BASE}/{event['id']}/generate", key=key)).data
    url = f"{BASE}/{event['id']}/variants/{nine[0]['id']}"
    for body, field in (({"subject": "two\nlines"}, "subject"), ({}, "body"), ({"subject": ""}, "subject"),
                        ({"status": "sent"}, "status"), ({"body_html": 5}, "body_html")):
        r = await api.patch(url, body, key=key)
        assert r.status == 400 and r.error["details"][0]["field"] == field, (body, r)
    r = await api.get(f"{BASE}/{event['id']}/variants", key=key)
    assert all(v["status"] == "draft" for v in r.data)  # bad input changed nothing
    assert (await api.post(f"{BASE}/ce_nope/generate", key=key)).status == 404
    assert (await api.get(f"{BASE}/ce_nope/variants", key=key)).status == 404
    assert (await api.patch(f"{BASE}/{event['id']}/variants/var_nope", {"subject": "x"}, key=key)).status == 404
    assert (await api.post(f"{BASE}/{event['id']}/variants/var_nope/send", key=key)).status == 404
    assert (await api.get(f"{BASE}/{event['id']}/variants?status=bogus", key=key)).status == 400
    # Another project's key never reaches these variants.
    _, other = await api.owner(slug="other")
    r = await api.get(f"/projects/acme/churn-events/{event['id']}/variants", key=other["secret_key"])
    assert r.status == 404


@pytest.mark.gen_test
async def test_event_without_email_cannot_be_sent(api, settings):
    _, key, event = await setup_event(api)
    nine = (await api.post(f"{BASE}/{event['id']}/generate", key=key)).data
    with unit_of_work():  # as a webhook may create it: no address known yet
        ChurnEvent.update(customer_email=None).where(ChurnEvent.id == event["id"]).execute()
    r = await api.post(f"{BASE}/{event['id']}/variants/{nine[0]['id']}/send", key=key)
    assert r.status == 409 and "customer_email" in r.error["message"]
    assert outbox_messages(settings) == []


@pytest.mark.gen_test
async def test_generation_claim_is_held_in_the_database_and_expires(api):
    _, key, event = await setup_event(api)
    with unit_of_work():
        project_id = ChurnEvent.get_by_id(event["id"]).project_id
        # Another process claimed this event and is still writing: this one is refused.
        claim_generation(project_id, event["id"], 60)
    r = await api.post(f"{BASE}/{event['id']}/generate", key=key)
    assert r.status == 409 and "being generated" in r.error["message"]
    with unit_of_work():  # ... that process died: its claim runs out
        VariantGeneration.update(expires_at=dt.datetime(2000, 1, 1)).execute()
    r = await api.post(f"{BASE}/{event['id']}/generate", key=key)
    assert r.status == 201 and len(r.data) == 9
    with unit_of_work():
        assert VariantGeneration.select().count() == 0


@pytest.mark.gen_test
async def test_send_claim_is_held_in_the_database_and_expires(api, settings):
    _, key, event = await setup_event(api)
    nine = (await api.post(f"{BASE}/{event['id']}/generate", key=key)).data
    with unit_of_work():
        project_id = ChurnEvent.get_by_id(event["id"]).project_id
        # Another process is sending this variant right now (or died while sending).
        claim_send(project_id, event["id"], nine[0]["id"], 60)
    url = f"{BASE}/{event['id']}/variants/{nine[0]['id']}"
    r = await api.post(url + "/send", key=key)
    assert r.status == 409 and "being sent" in r.error["message"]
    r = await api.patch(url, {"subject": "Changed mid-send"}, key=key)
    assert r.status == 409
    r = await api.post(f"{BASE}/{event['id']}/generate", key=key)
    assert r.status == 409 and "being sent" in r.error["message"]
    assert outbox_messages(settings) == []
    with unit_of_work():  # the other process died: its claim runs out
        Variant.update(send_claim_expires_at=dt.datetime(2000, 1, 1)).execute()
    r = await api.post(url + "/send", key=key)
    assert r.status == 200 and r.data["status"] == "sent"
    assert len(outbox_messages(settings)) == 1
