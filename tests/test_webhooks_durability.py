"""Durable first: every acknowledged delivery is in the database, even if the server is killed
(kill -9) right after answering; the replay script then applies what the actor had not."""
import asyncio
import json
import os
import subprocess
import sys

import pytest
import tornado.httpclient

from store.db import unit_of_work
from store.webhooks import WebhookEvent
from tests.conftest import ROOT
from tests.webhook_support import STRIPE_SECRET, encode, stripe_event, stripe_headers, stripe_subscription


@pytest.mark.slow
@pytest.mark.gen_test(timeout=120)
async def test_acknowledged_deliveries_survive_kill_9(live_server, migrated):
    server = live_server()
    client = tornado.httpclient.AsyncHTTPClient()

    async def call(method, path, body, headers=None):
        r = await client.fetch(server.url + "/api/v1" + path, method=method, body=body, headers=headers or {},
                               raise_error=False)
        return r.code, json.loads(r.body) if r.body else None

    _, registered = await call("POST", "/auth/register", json.dumps({"email": "k9@example.com",
                                                                     "password": "correct horse"}))
    auth = {"Authorization": "Bearer " + registered["data"]["token"]}
    _, created = await call("POST", "/projects", json.dumps({"name": "Kill", "slug": "kill"}), auth)
    await call("PATCH", "/projects/kill", json.dumps({"settings": {"stripe_webhook_secret": STRIPE_SECRET}}), auth)
    public_key = created["data"]["public_key"]

    async def deliver(n):
        body = encode(stripe_event("customer.subscription.deleted",
                                   stripe_subscription(customer=f"cus_K{n:03d}", email=f"k{n}@example.com"),
                                   event_id=f"evt_kill_{n}"))
        return await call("POST", f"/webhooks/stripe/{public_key}", body, stripe_headers(body))

    answers = await asyncio.gather(*(deliver(n) for n in range(40)))
    server.kill()  # no chance to apply anything still queued
    acknowledged = {f"evt_kill_{n}" for n, (code, _) in enumerate(answers) if code == 200}
    assert len(acknowledged) == 40
    with unit_of_work():
        stored = {row.event_id for row in WebhookEvent.select(WebhookEvent.event_id)}
    assert acknowledged <= stored

    done = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "replay_webhooks.py"), "--project", "kill"],
                          cwd=ROOT, env={**os.environ, "WINDBACK_DATABASE_URL": migrated},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    with unit_of_work():
        statuses = {row.status for row in WebhookEvent.select(WebhookEvent.status)}
    assert statuses == {"processed"}


@pytest.mark.slow
@pytest.mark.gen_test(timeout=120)
async def test_two_server_processes_store_and_apply_an_event_once(live_server):
    first, second = live_server(), live_server()
    client = tornado.httpclient.AsyncHTTPClient()

    async def call(server, method, path, body, headers=None):
        r = await client.fetch(server.url + "/api/v1" + path, method=method, body=body, headers=headers or {},
                               raise_error=False)
        return r.code, json.loads(r.body) if r.body else None

    _, registered = await call(first, "POST", "/auth/register", json.dumps({"email": "two@example.com",
                                                                            "password": "correct horse"}))
    auth = {"Authorization": "Bearer " + registered["data"]["token"]}
    _, created = await call(first, "POST", "/projects", json.dumps({"name": "Two", "slug": "two"}), auth)
    await call(first, "PATCH", "/projects/two", json.dumps({"settings": {"stripe_webhook_secret": STRIPE_SECRET}}),
               auth)
    body = encode(stripe_event("customer.subscription.deleted", stripe_subscription(), event_id="evt_twice"))
    path = f"/webhooks/stripe/{created['data']['public_key']}"
    answers = await asyncio.gather(*(call(server, "POST", path, body, stripe_headers(body))
                                     for server in (first, second) * 10))
    assert all(code == 200 for code, _ in answers), answers
    assert sorted(answer["data"]["duplicate"] for _, answer in answers) == [False] + [True] * 19
    for _ in range(200):
        code, listed = await call(first, "GET", "/projects/two/churn-events", None, auth)
        with unit_of_work():
            statuses = [row.status for row in WebhookEvent.select()]
        if statuses == ["processed"]:
            break
        await asyncio.sleep(0.05)
    assert statuses == ["processed"]
    code, listed = await call(second, "GET", "/projects/two/churn-events", None, auth)
    assert code == 200 and len(listed["data"]) == 1 and listed["data"][0]["source"] == "stripe"
