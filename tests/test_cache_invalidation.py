"""Caches forget a project only when what they hold changed: the widget's cancel-flow config (the
project's name and settings) is kept while churn events, webhooks and widget answers stream in, and
forgotten at once by a settings change; analytics answers (churn data) are forgotten by both."""
import json

import pytest

from store.db import unit_of_work
from store.models import Project
from tests.webhook_support import encode, settled, stripe_event, stripe_headers, stripe_subscription, webhook_project


def change_brand_behind_the_servers_back(project_id: str, brand: str) -> None:
    """A write no cache is told of (as another process's would be, within the cache's TTL)."""
    with unit_of_work():
        project = Project.get_by_id(project_id)
        settings = json.loads(project.settings)
        settings["brand_name"] = brand
        Project.update(settings=json.dumps(settings)).where(Project.id == project_id).execute()


@pytest.mark.gen_test(timeout=60)
async def test_widget_config_stays_cached_through_churn_data_and_goes_with_a_settings_change(api):
    token, project = await webhook_project(api)
    key, public_key = project["secret_key"], project["public_key"]
    config_path = f"/cancel-flow/config/{public_key}"
    r = await api.patch("/projects/acme", {"settings": {"brand_name": "Acme"}}, token=token)
    assert r.status == 200
    assert (await api.get(config_path)).data["project"]["brand_name"] == "Acme"
    change_brand_behind_the_servers_back(project["id"], "Unseen")
    # Every kind of actor command: churn events through the API, a recovery, webhooks, a widget answer.
    created = await api.post("/projects/acme/churn-events", {"customer_email": "a@example.com"}, key=key)
    assert created.status == 201
    assert (await api.post(f"/projects/acme/churn-events/{created.data['id']}/recovered", {}, key=key)).status == 200
    for i in range(3):
        body = encode(stripe_event("customer.subscription.deleted", stripe_subscription(customer=f"cus_{i}x")))
        assert (await api.post(f"/webhooks/stripe/{public_key}", raw=body, headers=stripe_headers(body))).status == 200
    await settled(project["id"])
    r = await api.post("/cancel-flow/reasons", {"public_key": public_key, "customer_email": "w@example.com",
                                                "reason": "temporary"})
    assert r.status == 201
    # The config was not reloaded: it still shows what the cache held.
    assert (await api.get(config_path)).data["project"]["brand_name"] == "Acme"
    # A settings change through the API is seen at once.
    r = await api.patch("/projects/acme", {"settings": {"brand_name": "Acme Two"}}, token=token)
    assert r.status == 200
    assert (await api.get(config_path)).data["project"]["brand_name"] == "Acme Two"


@pytest.mark.gen_test
async def test_analytics_still_forget_on_churn_data(api):
    token, project = await api.owner("acme")
    key = project["secret_key"]
    assert (await api.get("/projects/acme/stats", key=key)).data["churn_events"] == 0
    r = await api.post("/cancel-flow/reasons", {"public_key": project["public_key"], "customer_email": "w@example.com",
                                                "reason": "temporary"})
    assert r.status == 201
    stats = (await api.get("/projects/acme/stats", key=key)).data
    assert (stats["churn_events"], stats["by_source"]["widget"]["churned"]) == (1, 1)
