"""Failed payments for the demo project (used by seed_demo.py): a year of payment recoveries and
their dunning emails, so the dashboard's "Failed payments" page has something to show.

About 60% of failed payments are paid after one of the three emails (most after the first),
15% are given up by the provider (`failed`), a few are stopped by hand, and those of the last
week are still `open`, with their next email scheduled. Deterministic for a seed and `now`.
"""
from __future__ import annotations

import datetime as dt
import json
import random

from store.payment_recoveries import EMAIL_JOB
from store.projects import DEFAULT_DUNNING

STEPS = [step["after_hours"] for step in DEFAULT_DUNNING["steps"]]
AMOUNTS = ((1900, 0.40), (4900, 0.35), (9900, 0.20), (29900, 0.05))
CURRENCIES = (("USD", 0.80), ("EUR", 0.15), ("GBP", 0.05))


def _pick(rng: random.Random, weighted):
    values, weights = zip(*weighted)
    return rng.choices(values, weights)[0]


def _id(rng: random.Random, prefix: str) -> str:
    return f"{prefix}_{rng.getrandbits(96):024x}"


def build(project_id: str, rng: random.Random, now: dt.datetime, count: int) -> tuple[list[dict], list[dict]]:
    """(payment_recoveries rows, scheduled_jobs rows)."""
    recoveries, jobs = [], []
    for n in range(count):
        started = now - dt.timedelta(days=rng.random() * 365)
        provider = _pick(rng, (("stripe", 70), ("razorpay", 20), ("custom", 10)))
        currency = "INR" if provider == "razorpay" else _pick(rng, CURRENCIES)
        amount = _pick(rng, AMOUNTS) * (80 if currency == "INR" else 1)
        row = {"id": _id(rng, "pr"), "project": project_id, "provider": provider, "invoice_id": f"in_demo{n}",
               "subscription_id": f"sub_demo{n}", "customer_email": f"payer{n}@example.com",
               "customer_name": f"Payer {n}", "customer_id": f"cus_pay{n}", "amount_due_cents": amount,
               "currency": currency, "attempt_count": 1, "update_payment_url": f"https://pay.example.com/in_demo{n}",
               "status": "open", "started_at": started, "recovered_at": None, "closed_at": None,
               "amount_recovered_cents": None, "emails_sent": 0, "created_at": started, "updated_at": started}
        fate = rng.random()
        closes_after = None  # hours after the failure
        if fate < 0.60:
            paid_after_step = _pick(rng, ((0, 60), (1, 25), (2, 15)))
            closes_after = STEPS[paid_after_step] + rng.random() * 60
            row["status"] = "recovered"
        elif fate < 0.75:
            closes_after = STEPS[-1] + 24 + rng.random() * 100
            row["status"] = "failed"
        elif fate < 0.80:
            closes_after = rng.random() * 100
            row["status"] = "stopped"
        closed_at = started + dt.timedelta(hours=closes_after) if closes_after is not None else None
        if closed_at is not None and closed_at > now:
            row["status"], closed_at = "open", None
        elif closed_at is not None:
            row.update(closed_at=closed_at, updated_at=closed_at)
            if row["status"] == "recovered":
                row.update(recovered_at=closed_at, amount_recovered_cents=amount)
        for step, hours in enumerate(STEPS):
            due = started + dt.timedelta(hours=hours)
            job = {"id": _id(rng, "job"), "kind": EMAIL_JOB, "project": project_id, "ref": row["id"],
                   "payload": json.dumps({"step": step}), "due_at": due, "status": "scheduled", "attempts": 0,
                   "claim": None, "claimed_until": None, "started_at": None, "finished_at": None, "result": None,
                   "error": None, "created_at": started}
            if (closed_at is None and due <= now) or (closed_at is not None and due < closed_at):
                job.update(status="done", attempts=1, started_at=due, finished_at=due,
                           result=f"<{job['id']}@demo.windback>")
                row["attempt_count"] += 1 if step else 0
                row["emails_sent"] += 1
            elif closed_at is not None:
                job.update(status="cancelled", finished_at=closed_at, error=f"the recovery was closed: {row['status']}")
            jobs.append(job)
        recoveries.append(row)
    return recoveries, jobs
