"""Campaign steps across server processes (real `server.py` processes, a real SMTP sink): a
restart in the middle of campaigns sends each remaining step once, and two processes on one
PostgreSQL database never send a step twice."""
from __future__ import annotations

import collections
import email
import email.policy
import threading

import pytest
from aiosmtpd.controller import Controller

from store import scheduled_jobs
from store.db import unit_of_work
from tests.conftest import PG_URL, free_port
from tests.helpers import is_address_check
from tests.livehttp import call, owner_with_project, wait_for

pytestmark = pytest.mark.slow


class Sink:
    def __init__(self):
        self.messages = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        if is_address_check(message):
            return "250 OK"  # the owner's verification email, not a campaign step
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos), message))
        return "250 OK"


@pytest.fixture
def sink():
    handler = Sink()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    handler.url = f"smtp://127.0.0.1:{controller.port}"
    yield handler
    controller.stop()


def server_env(sink) -> dict:
    return {"WINDBACK_SMTP_URL": sink.url, "WINDBACK_MAIL_FROM": "Acme <hello@acme.test>",
            "WINDBACK_SCHEDULER_POLL_SECONDS": "0.05", "WINDBACK_RANDOM_SEED": "5"}


def start_campaign(base: str, hours: list[float], customers: int) -> tuple[str, dict]:
    token, project = owner_with_project(base)
    status, body = call(base, "PATCH", "/projects/acme", {"settings": {"campaign": {
        "enabled": True, "holdout_percent": 0, "steps": [{"after_hours": h} for h in hours]}}}, token=token)
    assert status == 200, body
    for i in range(customers):
        status, body = call(base, "POST", "/projects/acme/churn-events",
                            {"customer_email": f"c{i}@example.com", "cancel_reason": "not_using"},
                            key=project["secret_key"])
        assert status == 201 and body["data"]["campaign"]["group"] == "treatment", body
    return token, project


def campaign_jobs() -> list[scheduled_jobs.ScheduledJob]:
    with unit_of_work():
        return list(scheduled_jobs.ScheduledJob.select().where(scheduled_jobs.ScheduledJob.kind == "campaign_step"))


def assert_each_step_sent_once(sink, customers: int, steps: int) -> None:
    ids = [message["Message-ID"] for _, message in sink.messages]
    jobs = campaign_jobs()
    assert len(ids) == len(set(ids)) == customers * steps, collections.Counter(
        (job.status, (job.error or "")[:80]) for job in jobs)
    assert {job.status for job in jobs} == {"done"}, [(job.status, job.error) for job in jobs if job.status != "done"]
    assert sorted(ids) == sorted(f"<{job.id}@acme.test>" for job in jobs), "one email per step, its job id as Message-ID"
    per_customer = collections.Counter(to for [to], _ in sink.messages)
    assert set(per_customer.values()) == {steps}


def test_a_restart_in_the_middle_of_campaigns_sends_each_remaining_step_once(live_server, sink):
    first = live_server(env=server_env(sink))
    start_campaign(first.url, [0.0003, 0.0018, 0.0024], customers=6)
    assert wait_for(lambda: len(sink.messages) == 6, timeout=30), "step 1 of every campaign"
    assert first.stop() == 0, first.read_log()[-2000:]  # SIGTERM: a run in progress finishes first
    waiting = [job for job in campaign_jobs() if job.status == "scheduled"]
    assert len(waiting) == 12, "steps 2 and 3 wait in the database while no server runs"

    second = live_server(env=server_env(sink))
    assert wait_for(lambda: len(sink.messages) >= 18 and all(j.status == "done" for j in campaign_jobs()),
                    timeout=40), second.read_log()[-2000:]
    assert_each_step_sent_once(sink, customers=6, steps=3)


@pytest.mark.skipif(not PG_URL, reason="two processes share one PostgreSQL database (WINDBACK_TEST_DATABASE_URL)")
def test_two_processes_on_one_database_never_send_a_step_twice(live_server, sink):
    first, second = live_server(env=server_env(sink)), live_server(env=server_env(sink))
    # Every step of 25 customers comes due within a second: both pollers claim at the same time.
    start_campaign(first.url, [0.0001, 0.0002, 0.0003], customers=25)
    assert wait_for(lambda: all(j.status not in ("scheduled", "running") for j in campaign_jobs()), timeout=50)
    assert_each_step_sent_once(sink, customers=25, steps=3)
    for server in (first, second):
        assert "Traceback" not in server.read_log()
