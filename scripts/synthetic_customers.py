"""Synthetic customers for the demo and the risk model's ranking test (the data is invented).

Each customer has a habit (events a day). Stayers keep it, with noise and the odd quiet week;
future churners let it fade over their last weeks and, often but not always, look at the billing
or cancel pages. Everything is drawn from one seeded `random.Random`, so a seed gives the same set.
"""
from __future__ import annotations

import datetime as dt
import random

FEATURES = ("login", "report_viewed", "export_used", "invoice_created", "dashboard_viewed")
WATCHED = ("cancel_page_viewed", "billing_page_viewed", "downgrade_viewed")
HISTORY_DAYS = 60


def generate(customers: int = 200, seed: int = 7, now: dt.datetime | None = None,
             churn_share: float = 0.3) -> list[dict]:
    """[{customer_id, customer_email, will_churn, events: [{event, timestamp}]}], timestamps before `now`."""
    rng = random.Random(seed)
    now = (now or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)).replace(microsecond=0)
    out = []
    for n in range(customers):
        will_churn = rng.random() < churn_share
        habit = rng.uniform(0.3, 4.0)  # events a day at their usual pace
        fade_days = rng.randint(10, 35) if will_churn else 0
        quiet = (rng.randint(0, HISTORY_DAYS), rng.randint(3, 10)) if rng.random() < 0.25 else None
        events = []
        for ago in range(HISTORY_DAYS, 0, -1):
            pace = habit
            if will_churn and ago <= fade_days:
                pace = habit * (ago / fade_days) ** rng.uniform(1.0, 3.0)
            if quiet and quiet[0] - quiet[1] < ago <= quiet[0]:
                pace *= 0.2
            for _ in range(_poisson(rng, pace)):
                at = now - dt.timedelta(days=ago, seconds=rng.randint(0, 86399))
                events.append({"event": rng.choice(FEATURES), "timestamp": at.isoformat() + "Z"})
            watch_chance = 0.12 if will_churn and ago <= 14 else 0.01
            if rng.random() < watch_chance:
                at = now - dt.timedelta(days=ago, seconds=rng.randint(0, 86399))
                events.append({"event": rng.choice(WATCHED), "timestamp": at.isoformat() + "Z"})
        out.append({"customer_id": f"cus_{seed}_{n:05d}", "customer_email": f"user{seed}-{n}@example.org",
                    "will_churn": will_churn, "events": events})
    return out


def _poisson(rng: random.Random, mean: float) -> int:
    # Knuth's method: fine for the small means used here.
    limit, k, p = pow(2.718281828459045, -mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1
