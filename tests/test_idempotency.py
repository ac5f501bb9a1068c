"""Idempotency-Key on authenticated POSTs (docs/api.md)."""
import asyncio

import pytest

from store.models import ChurnEvent, IdempotencyKey
from tests.helpers import count

PATH = "/projects/acme/churn-events"


@pytest.fixture
def key(api, io_loop):
    _, project = io_loop.run_sync(api.owner)
    return project["secret_key"]


@pytest.mark.gen_test
async def test_a_retry_gets_the_first_answer(api, key):
    body = {"customer_email": "a@example.com", "mrr_cents": 100}
    first = await api.post(PATH, body, key=key, headers={"Idempotency-Key": "k-1"})
    again = await api.post(PATH, body, key=key, headers={"Idempotency-Key": "k-1"})
    assert first.status == again.status == 201
    assert again.json == first.json
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert count(ChurnEvent) == 1
    # Without the key the same body is a second churn of the same customer: it updates (200).
    assert (await api.post(PATH, body, key=key)).status == 200


@pytest.mark.gen_test
async def test_the_same_key_with_another_body_is_409(api, key):
    await api.post(PATH, {"customer_email": "a@example.com"}, key=key, headers={"Idempotency-Key": "k-2"})
    r = await api.post(PATH, {"customer_email": "b@example.com"}, key=key, headers={"Idempotency-Key": "k-2"})
    assert r.status == 409 and r.error["code"] == "CONFLICT"
    assert count(ChurnEvent) == 1


@pytest.mark.gen_test
async def test_keys_are_scoped_to_credential_method_and_path(api, key):
    first = await api.post(PATH, {"customer_email": "a@example.com"}, key=key, headers={"Idempotency-Key": "k-3"})
    recovered = await api.post(f"{PATH}/{first.data['id']}/recovered", key=key, headers={"Idempotency-Key": "k-3"})
    assert recovered.status == 200 and recovered.data["status"] == "recovered"
    _, globex = await api.owner("globex")
    other = await api.post("/projects/globex/churn-events", {"customer_email": "a@example.com"},
                           key=globex["secret_key"], headers={"Idempotency-Key": "k-3"})
    assert other.status == 201 and other.data["id"] != first.data["id"]
    # And a retry of the recovery answers what it answered the first time (not 409).
    again = await api.post(f"{PATH}/{first.data['id']}/recovered", key=key, headers={"Idempotency-Key": "k-3"})
    assert again.status == 200 and again.json == recovered.json


@pytest.mark.gen_test
async def test_error_answers_are_not_kept(api, key):
    bad = await api.post(PATH, {"customer_email": "nope"}, key=key, headers={"Idempotency-Key": "k-4"})
    assert bad.status == 400
    # The same key with a corrected body runs for real. (The failed attempt's record is released
    # as its answer goes out; a client retrying at once may briefly see 409 "in progress".)
    for _ in range(50):
        good = await api.post(PATH, {"customer_email": "ok@example.com"}, key=key, headers={"Idempotency-Key": "k-4"})
        if good.status != 409:
            break
        await asyncio.sleep(0.02)
    assert good.status == 201
    again = await api.post(PATH, {"customer_email": "ok@example.com"}, key=key, headers={"Idempotency-Key": "k-4"})
    assert again.status == 201 and again.data["id"] == good.data["id"]


@pytest.mark.gen_test(timeout=30)
async def test_concurrent_requests_with_one_key_run_once(api, key):
    body = {"customer_email": "a@example.com"}
    results = await asyncio.gather(*(api.post(PATH, body, key=key, headers={"Idempotency-Key": "k-5"})
                                     for _ in range(10)))
    assert sorted({r.status for r in results}) in ([201], [201, 409])
    assert len({r.data["id"] for r in results if r.status == 201}) == 1
    assert all(r.error["message"].endswith("still in progress") for r in results if r.status == 409)
    assert count(ChurnEvent) == 1


@pytest.mark.gen_test
async def test_user_posts_are_idempotent_too(api):
    token, _ = await api.owner()
    body = {"customer_email": "u@example.com"}
    first = await api.post(PATH, body, token=token, headers={"Idempotency-Key": "u-1"})
    again = await api.post(PATH, body, token=token, headers={"Idempotency-Key": "u-1"})
    assert first.status == again.status == 201 and again.json == first.json
    assert count(ChurnEvent) == 1


def kept_answers() -> list[str]:
    return [row.response_body or "" for row in IdempotencyKey.select()]


@pytest.mark.gen_test
async def test_an_answer_that_carried_a_secret_key_is_never_kept_nor_replayed(api):
    token = await api.signup()
    first = await api.post("/projects", {"name": "Acme"}, token=token, headers={"Idempotency-Key": "p-1"})
    assert first.status == 201 and first.data["secret_key"].startswith("sk_live_")
    again = await api.post("/projects", {"name": "Acme"}, token=token, headers={"Idempotency-Key": "p-1"})
    assert again.status == 409 and again.error["code"] == "CONFLICT"
    assert "shown only once" in again.error["message"] and "sk_live_" not in again.text
    assert len((await api.get("/projects", token=token)).data) == 1  # nothing made twice

    rotate = "/projects/acme/rotate-keys"
    rotated = await api.post(rotate, {"public_key": True}, token=token, headers={"Idempotency-Key": "r-1"})
    assert rotated.status == 200 and rotated.data["secret_key"].startswith("sk_live_")
    again = await api.post(rotate, {"public_key": True}, token=token, headers={"Idempotency-Key": "r-1"})
    assert again.status == 409 and "shown only once" in again.error["message"]
    # The rotated key is the one that works: the replay did not rotate again.
    assert (await api.get("/projects/acme", key=rotated.data["secret_key"])).status == 200
    assert not any("sk_live_" in answer for answer in kept_answers())
    assert count(IdempotencyKey) == 2


@pytest.mark.gen_test
async def test_an_overlong_key_is_refused(api, key):
    r = await api.post(PATH, {"customer_email": "a@example.com"}, key=key, headers={"Idempotency-Key": "x" * 256})
    assert r.status == 400 and r.error["details"][0]["field"] == "Idempotency-Key"
    assert count(ChurnEvent) == 0
