import pytest


@pytest.mark.gen_test
async def test_health(api):
    r = await api.get("/health")
    assert r.status == 200 and r.data["status"] == "ok"


@pytest.mark.gen_test
async def test_walkthrough(api):
    token, project = await api.owner()
    key = project["secret_key"]
    r = await api.post("/projects/acme/churn-events", {"customer_email": "a@b.co"}, key=key)
    assert r.status == 201, r
    r2 = await api.post(f"/projects/acme/churn-events/{r.data['id']}/recovered", key=key)
    assert r2.status == 200 and r2.data["status"] == "recovered"
