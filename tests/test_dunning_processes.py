"""Dunning across real server processes: a restart in the middle of a sequence sends the rest
once, and two processes on one PostgreSQL send each due email once."""
from __future__ import annotations

import time

import pytest
from aiosmtpd.controller import Controller

from store.db import unit_of_work
from store.scheduled_jobs import ScheduledJob
from tests.conftest import PG_URL, free_port
from tests.livehttp import call, owner_with_project, wait_for
from tests.test_sending import Sink
from tests.webhook_support import CUSTOM_SECRET, STRIPE_SECRET, custom_headers, encode, stripe_event, stripe_headers
from tests.dunning_support import failed_invoice

pytestmark = pytest.mark.slow


@pytest.fixture
def smtp_sink():
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield sink, {"WINDBACK_SMTP_URL": f"smtp://127.0.0.1:{controller.port}",
                 "WINDBACK_MAIL_FROM": "Billing <billing@windback.test>", "WINDBACK_SCHEDULER_POLL_SECONDS": "0.1"}
    controller.stop()


def project_with_dunning(base: str, hours: list[float]) -> tuple[str, dict]:
    token, project = owner_with_project(base)
    status, body = call(base, "PATCH", f"/projects/{project['slug']}", {"settings": {
        "stripe_webhook_secret": STRIPE_SECRET, "custom_webhook_secret": CUSTOM_SECRET,
        "dunning": {"steps": [{"after_hours": h} for h in hours]}}}, token=token)
    assert status == 200, body
    return token, project


def job_statuses() -> list[tuple[int, str]]:
    with unit_of_work():
        return sorted((job.data["step"], job.status) for job in ScheduledJob.select())


def test_a_restart_in_the_middle_of_a_sequence_sends_the_rest_once(live_server, smtp_sink):
    sink, env = smtp_sink
    first = live_server(env=env)
    _, project = project_with_dunning(first.url, [0, 0.005, 0.006])  # now, +18 s, +21.6 s
    body = encode(stripe_event("invoice.payment_failed", failed_invoice("in_restart", amount=2500)))
    status, _ = call(first.url, "POST", f"/webhooks/stripe/{project['public_key']}", raw=body,
                     headers=stripe_headers(body))
    assert status == 200
    assert wait_for(lambda: len(sink.messages) == 1, timeout=30)
    assert first.stop() == 0, first.read_log()[-2000:]
    assert job_statuses() == [(0, "done"), (1, "scheduled"), (2, "scheduled")]

    second = live_server(env=env)
    assert wait_for(lambda: len(sink.messages) == 3, timeout=40), second.read_log()[-2000:]
    time.sleep(1.5)
    assert len(sink.messages) == 3, "each step once"
    assert [m[2]["Subject"].split(":")[0] for m in sink.messages[1:]] == ["Reminder", "Final notice"]
    assert all("25.00 USD" in m[3].decode() for m in sink.messages)
    assert job_statuses() == [(0, "done"), (1, "done"), (2, "done")]
    assert len({m[2]["Message-ID"] for m in sink.messages}) == 3


@pytest.mark.skipif(not PG_URL, reason="several processes share one PostgreSQL database (WINDBACK_TEST_DATABASE_URL)")
def test_two_processes_on_postgresql_send_fifty_due_emails_once_each(live_server, smtp_sink):
    sink, env = smtp_sink
    first, second = live_server(env=env), live_server(env=env)
    _, project = project_with_dunning(first.url, [0.0015])  # all fifty come due together, ~5 s from now
    for i in range(50):
        payload = encode({"type": "payment_failed", "customer_email": f"payer{i}@example.com",
                          "invoice_id": f"inv_{i}", "amount_due_cents": 1000 + i,
                          "update_payment_url": f"https://billing.example/pay/{i}"})
        server = first if i % 2 else second
        status, body = call(server.url, "POST", f"/webhooks/custom/{project['public_key']}", raw=payload,
                            headers=custom_headers(payload))
        assert status == 200, body
    assert wait_for(lambda: len(sink.messages) >= 50, timeout=60)
    time.sleep(3)
    recipients = [rcpt for _, rcpts, _, _ in sink.messages for rcpt in rcpts]
    assert len(recipients) == 50 and len(set(recipients)) == 50, "fifty emails, not a hundred"
    with unit_of_work():
        assert ScheduledJob.select().where(ScheduledJob.status == "done").count() == 50
