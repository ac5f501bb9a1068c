"""Project actors: a crash answers 500 and the next request gets a fresh actor; a stuck actor
answers 504 while the rest of the server keeps answering; idle actors stop."""
import asyncio
import time

import pytest

from store.models import ChurnEvent
from tests.helpers import churn_events_write_lock, count, refuse_customer_email

PATH = "/projects/acme/churn-events"


@pytest.mark.gen_test(timeout=30)
async def test_a_crash_answers_500_without_a_traceback_and_a_fresh_actor_takes_over(api, ctx, migrated):
    _, project = await api.owner()
    key = project["secret_key"]
    assert (await api.post(PATH, {"customer_email": "before@example.com"}, key=key)).status == 201
    first_actor = ctx.actors._actors[project["id"]][0]
    with refuse_customer_email(migrated, "boom@example.com"):
        r = await api.post(PATH, {"customer_email": "boom@example.com"}, key=key)
        assert r.status == 500 and r.error["code"] == "INTERNAL_ERROR"
        assert "Traceback" not in r.text and "refused by test trigger" not in r.text and ".py" not in r.text
        after = await api.post(PATH, {"customer_email": "after@example.com"}, key=key)
    assert after.status == 201
    assert ctx.actors._actors[project["id"]][0] is not first_actor
    assert not first_actor.is_alive()
    assert count(ChurnEvent) == 2


@pytest.mark.gen_test(timeout=30)
async def test_calls_queued_behind_a_crash_are_served_by_the_fresh_actor(api, ctx, migrated):
    _, project = await api.owner()
    key = project["secret_key"]
    with refuse_customer_email(migrated, "boom@example.com"):
        results = await asyncio.gather(
            api.post(PATH, {"customer_email": "boom@example.com"}, key=key),
            *(api.post(PATH, {"customer_email": f"ok{i}@example.com"}, key=key) for i in range(20)))
    assert results[0].status == 500
    assert [r.status for r in results[1:]] == [201] * 20
    assert count(ChurnEvent) == 20


@pytest.mark.env({"WINDBACK_ACTOR_TIMEOUT": "2"})
@pytest.mark.gen_test(timeout=30)
async def test_a_stuck_actor_answers_504_and_the_ioloop_keeps_serving(api, migrated):
    _, project = await api.owner()
    key = project["secret_key"]
    with churn_events_write_lock(migrated):
        create = asyncio.ensure_future(api.post(PATH, {"customer_email": "stuck@example.com"}, key=key))
        # While the actor waits on the lock, reads and other endpoints answer.
        health = await api.get("/health")
        listing = await api.get(PATH, key=key)
        assert not create.done()
        r = await create
    assert health.status == 200 and listing.status == 200
    assert r.status == 504 and r.error["code"] == "TIMEOUT"
    # The lock is gone: the actor finishes its queue and answers again.
    for _ in range(50):
        later = await api.post(PATH, {"customer_email": "later@example.com"}, key=key)
        if later.status != 504:
            break
    assert later.status == 201


@pytest.mark.env({"WINDBACK_ACTOR_IDLE_SECONDS": "1"})
@pytest.mark.gen_test(timeout=30)
async def test_idle_actors_stop_and_start_again_on_use(api, ctx):
    _, project = await api.owner()
    key = project["secret_key"]
    await api.post(PATH, {"customer_email": "a@example.com"}, key=key)
    assert ctx.actors.running() == 1
    assert ctx.actors.stop_idle() == 0
    started = time.monotonic()
    while ctx.actors.stop_idle() == 0:  # until the actor has been idle for its second
        assert time.monotonic() - started < 10, "the idle actor was never stopped"
        await asyncio.sleep(0.05)
    assert time.monotonic() - started >= 0.5, "stopped before it was idle long enough"
    for _ in range(100):
        if ctx.actors.running() == 0:
            break
        await asyncio.sleep(0.01)
    assert ctx.actors.running() == 0
    assert (await api.post(PATH, {"customer_email": "b@example.com"}, key=key)).status == 201
    assert ctx.actors.running() == 1
    health = await api.get("/health")
    assert health.data["actors"] == 1
