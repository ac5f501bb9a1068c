"""A campaign simulated over the real server: a few hundred churns through the API, the scheduler
sending steps to a real SMTP sink, simulated customers who come back with a known probability per
email (marked recovered through the API). The campaign must learn the best email, keep the
holdout it was set to, never mail the holdout, and report a lift equal to a hand computation."""
from __future__ import annotations

import asyncio
import math
import random
import time

import pytest

from store import scheduled_jobs
from store.db import unit_of_work
from store.variants import Variant
from tests.campaign_support import FAST, enable, event_row, running_scheduler, steps, until
from tests.helpers import count
from tests.test_sending import smtp  # noqa: F401 - the SMTP sink fixture

BASE = "/projects/acme/churn-events"
CUSTOMERS = 300
HOLDOUT_PERCENT = 10
BEST = ("value_reminder", "friendly")
SECOND = ("personal_check_in", "professional")
TRUE_RATE = {BEST: 0.55, SECOND: 0.2}  # every other email: 0.03
NATURAL_RATE = 0.08  # customers who come back on their own, email or not


class Simulation:
    def __init__(self, api, key, sink):
        self.api, self.key, self.sink = api, key, sink
        self.random = random.Random(1201)
        self.customers: dict[str, dict] = {}  # email -> {id, group}
        self.recovered: set[str] = set()
        self.arms_sent: dict[str, list] = {}  # email -> the (strategy, tone) of each email received
        self.read = 0
        self.stop = False

    async def churn(self, i: int) -> None:
        email = f"customer{i}@example.com"
        reason = ("too_expensive", "not_using")[i % 2]
        r = await self.api.post(BASE, {"customer_email": email, "customer_name": f"Customer {i}",
                                       "cancel_reason": reason, "mrr_cents": 2900}, key=self.key)
        assert r.status == 201, r
        self.customers[email] = {"id": r.data["id"], "group": r.data["campaign"]["group"]}

    async def keep_reading(self) -> None:
        while not self.stop:
            await self.read_mail()
            await asyncio.sleep(0.02)

    async def read_mail(self) -> None:
        """Each new email: which variant it was (by its Message-ID); the customer comes back with
        that email's true rate."""
        while self.read < len(self.sink.messages):
            _, [to], message, _ = self.sink.messages[self.read]
            self.read += 1
            event_id = self.customers[to]["id"]
            variant = await self.variant_sent_as(message["Message-ID"])
            arm = (variant.strategy, variant.tone)
            self.arms_sent.setdefault(to, []).append(arm)
            if to not in self.recovered and self.random.random() < TRUE_RATE.get(arm, 0.03):
                r = await self.api.post(f"{BASE}/{event_id}/recovered", key=self.key)
                assert r.status == 200, r
                # Credited to the last email sent before the recovery: this one, or a later
                # step's if it went out before the simulated customer answered. (A step already
                # handed to the mail server may still be recorded just after.)
                recovered_at = event_row(event_id).recovered_at
                before = [v for v in sent_for(event_id) if v.sent_at <= recovered_at]
                newest = max(before, key=lambda v: (v.sent_at, v.id))
                assert r.data["recovered_by_variant_id"] == newest.id
                self.recovered.add(to)

    async def variant_sent_as(self, message_id: str) -> Variant:
        """The variant recorded with this Message-ID, read from the database (the sink can see
        the email a moment before the server has recorded it sent)."""
        found = []
        await until(lambda: found.extend(sent_with(message_id)) or found, timeout=10, interval=0.01)
        [variant] = found
        return variant

    async def natural_recoveries(self) -> None:
        for email, customer in self.customers.items():
            if email not in self.recovered and self.random.random() < NATURAL_RATE:
                r = await self.api.post(f"{BASE}/{customer['id']}/recovered", key=self.key)
                assert r.status == 200, r
                self.recovered.add(email)


def sent_with(message_id: str) -> list[Variant]:
    with unit_of_work():
        return list(Variant.select().where((Variant.message_id == message_id) & (Variant.status == "sent")))


def sent_for(event_id: str) -> list[Variant]:
    with unit_of_work():
        return list(Variant.select().where((Variant.churn_event == event_id) & (Variant.status == "sent")))


def latest_sends(project_id: str, n: int) -> list[tuple[str, str]]:
    with unit_of_work():
        rows = (Variant.select(Variant.strategy, Variant.tone)
                .where((Variant.project == project_id) & (Variant.status == "sent"))
                .order_by(Variant.sent_at.desc(), Variant.id.desc()).limit(n).tuples())
        return list(rows)


def campaign_jobs_waiting() -> int:
    return count(scheduled_jobs.ScheduledJob, scheduled_jobs.ScheduledJob.status.in_(("scheduled", "running")))


def hand_lift(n_t: int, r_t: int, n_h: int, r_h: int) -> dict:
    p_t, p_h = r_t / n_t, r_h / n_h
    se = math.sqrt(p_t * (1 - p_t) / n_t + p_h * (1 - p_h) / n_h)
    p = (r_t + r_h) / (n_t + n_h)
    z = (p_t - p_h) / math.sqrt(p * (1 - p) * (1 / n_t + 1 / n_h))
    return {"absolute": p_t - p_h, "relative": (p_t - p_h) / p_h if p_h else None, "ci95_low": p_t - p_h - 1.96 * se,
            "ci95_high": p_t - p_h + 1.96 * se, "p_value": math.erfc(abs(z) / math.sqrt(2))}


@pytest.mark.gen_test(timeout=240)  # a loaded machine; about 40 s on SQLite alone
@pytest.mark.env(FAST)
async def test_the_campaign_learns_the_best_email_keeps_its_holdout_and_reports_the_lift(smtp, api, ctx):  # noqa: F811
    started = time.monotonic()
    token, project = await api.owner()
    await enable(api, token, holdout_percent=HOLDOUT_PERCENT, steps=steps(0.0003, 0.0009, 0.0015))
    sim = Simulation(api, project["secret_key"], smtp)
    async with running_scheduler(ctx):
        reading = asyncio.ensure_future(sim.keep_reading())  # customers answer as their mail arrives
        for i in range(CUSTOMERS):
            await sim.churn(i)
            if i % 4 == 3:
                await asyncio.sleep(0.05)  # a steady trickle of churns
        # Every step of every campaign sent, skipped or cancelled, and every email read.
        assert await until(lambda: not campaign_jobs_waiting() and sim.read == len(smtp.messages), timeout=60)
        sim.stop = True
        await reading
    await sim.natural_recoveries()

    holdout = {email for email, c in sim.customers.items() if c["group"] == "holdout"}
    treatment = set(sim.customers) - holdout
    mailed = {to for _, [to], _, _ in smtp.messages}
    assert not mailed & holdout, "no holdout customer got an email"
    holdout_share = len(holdout) / CUSTOMERS
    assert abs(holdout_share * 100 - HOLDOUT_PERCENT) <= 5, holdout_share
    for email, arms in sim.arms_sent.items():
        assert len(arms) <= 3 and len({strategy for strategy, _ in arms}) == len(arms), (email, arms)

    r = await api.get("/projects/acme/campaign", token=token)
    assert r.status == 200, r
    report = r.data
    n_t, r_t = len(treatment), len(treatment & sim.recovered)
    n_h, r_h = len(holdout), len(holdout & sim.recovered)
    assert report["enabled"] is True
    assert report["treatment"] == {"customers": n_t, "recovered": r_t, "recovery_rate": pytest.approx(r_t / n_t)}
    assert report["holdout"] == {"customers": n_h, "recovered": r_h, "recovery_rate": pytest.approx(r_h / n_h)}
    expected = hand_lift(n_t, r_t, n_h, r_h)
    for name, value in expected.items():  # relative is null while no holdout customer came back
        assert report["lift"][name] == (None if value is None else pytest.approx(value, abs=1e-4)), name
    assert report["lift"]["ci95_low"] > 0, "the emails clearly work here"

    arms = {(a["strategy"], a["tone"]): a for a in report["arms"]}
    sends = {arm: a["sent"] for arm, a in arms.items()}
    assert sum(sends.values()) == len(smtp.messages)
    assert max(sends, key=sends.get) == BEST, sends
    assert max(arms, key=lambda arm: arms[arm]["posterior_mean"]) == BEST
    best_share = sends[BEST] / sum(sends.values())
    # The report's window of recent sends is the latest 100 emails sent, as recorded.
    latest = latest_sends(project["id"], 100)
    for arm, a in arms.items():
        assert a["share_of_recent_sends"] == pytest.approx(latest.count(arm) / len(latest)), arm
    recent_best = arms[BEST]["share_of_recent_sends"]
    # Late first emails go to the best one. Only first emails choose among all nine: a customer's
    # later steps may not repeat a strategy, so they go to the runner-up and then to whichever weak
    # email looks least bad, and the last window of sends is mostly such later steps.
    firsts = [sim.arms_sent[email][0] for email in sim.customers if email in sim.arms_sent]
    late_firsts = firsts[-100:]
    late_best = late_firsts.count(BEST) / len(late_firsts)
    assert late_best >= 0.6, (late_best, firsts)
    print(f"\nsimulation: {CUSTOMERS} churns, {len(smtp.messages)} emails; best arm {sends[BEST]} sends "
          f"({best_share:.1%} of all, {recent_best:.1%} of the last 100, {late_best:.1%} of the last 100 first "
          f"emails); holdout {len(holdout)} "
          f"({holdout_share:.1%}); treatment {r_t}/{n_t}, holdout {r_h}/{n_h}; lift {report['lift']}; "
          f"{time.monotonic() - started:.1f} s")
