"""scripts/seed_demo.py: a demo project with twelve months of data, the same for the same seed."""
import os
import re
import subprocess
import sys

import pytest

from store.models import utcnow
from tests.conftest import ROOT


def seed(env: dict, *args: str) -> str:
    done = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "seed_demo.py"), *args], cwd=ROOT,
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.gen_test(timeout=180)
async def test_seed_demo_fills_a_year_reproducibly(api, migrated, test_env):
    env = {**test_env, "WINDBACK_DATABASE_URL": migrated}
    now = utcnow().replace(second=0, microsecond=0)
    args = ("--events", "400", "--seed", "7", "--now", now.isoformat())
    out = seed(env, *args)
    key = re.search(r"secret key:\s+(sk_live_\S+)", out).group(1)
    password = re.search(r"sign in:\s+demo@windback.local / (\S+)", out).group(1)
    login = await api.post("/auth/login", {"email": "demo@windback.local", "password": password})
    assert login.status == 200

    stats = (await api.get("/projects/demo/stats", key=key)).data
    assert stats["churn_events"] == 400
    assert stats["recovered"] > 0 and stats["saved"] > 0 and stats["lost"] > 0 and stats["open"] > 0
    assert stats["emails_sent"] > 0 and all(row["sent"] > 0 for row in stats["by_variant"])
    assert set(stats["currencies"]) == {"EUR", "GBP", "USD"}
    cohorts = (await api.get("/projects/demo/cohorts?months=13", key=key)).data["cohorts"]
    assert all(row["churned"] > 0 for row in cohorts[1:])  # every one of the last twelve months
    assert sum(row["churned"] for row in cohorts) == 400
    forecast = (await api.get("/projects/demo/forecasting", key=key)).data
    assert forecast["insufficient_history"] is False and len(forecast["history"]) >= 11
    payments = stats["payment_recovery"]
    assert payments["opened"] == 80 and payments["recovered"] > 0 and payments["failed"] > 0
    assert set(payments["recovered_after_step"]) <= {"0", "1", "2"} and payments["recovered_after_step"]["0"] > 0
    months = (await api.get("/projects/demo/payment-recovery-months?months=13", key=key)).data
    assert sum(m["opened"] for m in months) == 80

    # Seeding again leaves a seeded project alone; --reset with the same seed gives the same figures.
    assert "already has 400 churn events" in seed(env, *args)
    seed(env, *args, "--reset")
    await api.patch("/projects/demo", {"settings": {"brand_name": "Demo"}}, token=login.data["token"])  # forget the cache
    assert (await api.get("/projects/demo/stats", key=key)).data == stats
