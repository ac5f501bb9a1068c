"""Analytics answers are cached per project, and any write to that project forgets them."""
import datetime as dt

import pytest

from store.models import utcnow
from tests import analytics_dataset as data


@pytest.mark.gen_test
async def test_a_write_invalidates_the_cached_answers(api):
    token, project = await api.owner("acme")
    key = project["secret_key"]
    first = await api.post("/projects/acme/churn-events",
                           {"customer_email": "a@example.com", "mrr_cents": 1000}, key=key)
    assert first.status == 201
    paths = ("/projects/acme/stats", "/projects/acme/cohorts?months=1", "/projects/acme/forecasting")
    before = {path: (await api.get(path, key=key)).data for path in paths}
    assert before[paths[0]]["churn_events"] == 1

    # A row that appears behind the server's back (no write through it) is not seen: the answer
    # comes from the cache...
    data.insert_event(project["id"], "BEHIND", utcnow() - dt.timedelta(seconds=1), mrr=5)
    for path in paths:
        assert (await api.get(path, key=key)).data == before[path]
    # ...another project's write leaves acme's cache alone...
    _, other = await api.owner("other")
    await api.post("/projects/other/churn-events", {"customer_email": "o@example.com"}, key=other["secret_key"])
    assert (await api.get(paths[0], key=key)).data == before[paths[0]]

    # ...and the next write to acme, through the API, makes every answer fresh.
    recovered = await api.post(f"/projects/acme/churn-events/{first.data['id']}/recovered",
                               {"recovered_mrr_cents": 800}, key=key)
    assert recovered.status == 200
    stats = (await api.get(paths[0], key=key)).data
    assert (stats["churn_events"], stats["recovered"]) == (2, 1)
    assert stats["mrr_churned_cents"] == {"USD": 1005} and stats["mrr_recovered_cents"] == {"USD": 800}
    cohort = (await api.get(paths[1], key=key)).data["cohorts"][-1]
    assert (cohort["churned"], cohort["recovered_within"]["7"]) == (2, 1)
    assert (await api.get(paths[0], token=token)).data == stats  # users and keys share one answer


@pytest.mark.gen_test
async def test_a_settings_change_invalidates_too(api):
    token, project = await api.owner("acme")
    data.insert_event(project["id"], "OLD", utcnow() - dt.timedelta(days=40), mrr=100)
    stats = (await api.get("/projects/acme/stats", token=token)).data
    assert (stats["open"], stats["lost"]) == (1, 0)
    # Thirty days without a recovery now makes it lost.
    response = await api.patch("/projects/acme", {"settings": {"lost_after_days": 30}}, token=token)
    assert response.status == 200
    stats = (await api.get("/projects/acme/stats", token=token)).data
    assert (stats["open"], stats["lost"], stats["by_status"]["lost"], stats["by_status"]["new"]) == (0, 1, 1, 0)


@pytest.mark.gen_test
async def test_emails_sent_and_recovered_through_the_api_show_in_by_variant(api):
    token, project = await api.owner("acme")
    key = project["secret_key"]
    base = "/projects/acme/churn-events"
    stats = (await api.get("/projects/acme/stats", key=key)).data  # cached now; every write below forgets it
    assert stats["emails_sent"] == 0
    event = (await api.post(base, {"customer_email": "ada@example.com", "mrr_cents": 4900}, key=key)).data
    nine = (await api.post(f"{base}/{event['id']}/generate", key=key)).data
    first, last = nine[0], nine[4]
    for variant in (first, last):
        sent = await api.post(f"{base}/{event['id']}/variants/{variant['id']}/send", key=key)
        assert sent.status == 200, sent
    assert (await api.post(f"{base}/{event['id']}/recovered", key=key)).status == 200
    stats = (await api.get("/projects/acme/stats", key=key)).data
    assert stats["emails_sent"] == 2 and stats["recovered"] == 1
    rows = {(r["strategy"], r["tone"]): r for r in stats["by_variant"]}
    # The recovery is credited to the last email sent; drafts are not emails.
    assert rows[(last["strategy"], last["tone"])] == {"strategy": last["strategy"], "tone": last["tone"],
                                                      "sent": 1, "recovered": 1, "recovery_rate": 1.0}
    assert rows[(first["strategy"], first["tone"])]["sent"] == 1
    assert rows[(first["strategy"], first["tone"])]["recovered"] == 0
    assert sum(r["sent"] for r in stats["by_variant"]) == 2


@pytest.mark.gen_test
async def test_cancel_flow_saves_count_apart_from_recoveries(api):
    _, project = await api.owner("acme")
    key = project["secret_key"]
    assert (await api.get("/projects/acme/stats", key=key)).data["saved"] == 0  # cached now

    def answer(email, **extra):
        return {"public_key": project["public_key"], "customer_email": email, "reason": "too_expensive", **extra}

    # Declined, then accepted (two answers of one customer), and one customer who just leaves.
    assert (await api.post("/cancel-flow/reasons", answer("a@example.com", offer_shown=True))).status == 201
    assert (await api.post("/cancel-flow/reasons",
                           answer("a@example.com", offer_shown=True, offer_accepted=True))).status == 200
    assert (await api.post("/cancel-flow/reasons", answer("b@example.com"))).status == 201
    stats = (await api.get("/projects/acme/stats", key=key)).data
    assert (stats["churn_events"], stats["saved"], stats["recovered"], stats["open"]) == (2, 1, 0, 1)
    assert stats["cancel_flow_submissions"] == 3 and stats["save_rate"] == 1 / 3
    assert stats["recovery_rate"] == 0.0
    assert stats["by_source"]["widget"]["churned"] == 2 and stats["by_source"]["widget"]["recovered"] == 0
