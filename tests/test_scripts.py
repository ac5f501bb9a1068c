"""The command-line scripts, run as a user runs them: a process with WINDBACK_* in its env."""
import os
import re
import subprocess
import sys

import pytest

from store.db import unit_of_work
from store.models import ChurnEvent, User
from tests.conftest import ROOT


def run(script, *args, env=None, stdin=None):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("WINDBACK_")}
    full_env.update(env or {})
    return subprocess.run([sys.executable, os.path.join(ROOT, "scripts", script), *args], input=stdin,
                          capture_output=True, text=True, env=full_env, cwd=ROOT, timeout=60)


def test_migrate_creates_and_then_keeps_a_schema(tmp_path):
    url = f"sqlite:///{tmp_path}/fresh.db"
    first = run("migrate.py", env={"WINDBACK_DATABASE_URL": url})
    assert first.returncode == 0, first.stderr
    assert "applied now: m0001_initial" in first.stdout
    second = run("migrate.py", env={"WINDBACK_DATABASE_URL": url})
    assert second.returncode == 0 and "applied now: nothing" in second.stdout
    import sqlite3

    tables = {row[0] for row in sqlite3.connect(f"{tmp_path}/fresh.db").execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"users", "projects", "project_keys", "memberships", "churn_events", "password_reset_tokens",
            "idempotency_keys", "schema_migrations"} <= tables


@pytest.mark.parametrize("script", ["migrate.py", "create_user.py", "rotate_keys.py"])
def test_scripts_refuse_an_invalid_config_with_exit_2(script, tmp_path):
    args = {"create_user.py": ["a@example.com", "--password-stdin"], "rotate_keys.py": ["--all"]}.get(script, [])
    result = run(script, *args, env={"WINDBACK_DATABASE_URL": "mysql://nope", "WINDBACK_BCRYPT_ROUNDS": "4"},
                 stdin="correct horse\n")
    assert result.returncode == 2
    assert "WINDBACK_DATABASE_URL" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.gen_test(timeout=60)
async def test_create_user_then_sign_in(api, migrated):
    env = {"WINDBACK_DATABASE_URL": migrated, "WINDBACK_BCRYPT_ROUNDS": "4"}
    result = run("create_user.py", "Ops@Example.com", "--name", "Ops", "--password-stdin", env=env,
                 stdin="a long password\n")
    assert result.returncode == 0, result.stderr
    assert re.search(r"created user usr_\w+ <ops@example.com>", result.stdout)
    r = await api.post("/auth/login", {"email": "ops@example.com", "password": "a long password"})
    assert r.status == 200 and r.data["user"]["name"] == "Ops"
    again = run("create_user.py", "ops@example.com", "--password-stdin", env=env, stdin="a long password\n")
    assert again.returncode == 1 and "already exists" in again.stderr
    short = run("create_user.py", "new@example.com", "--password-stdin", env=env, stdin="short\n")
    assert short.returncode == 2 and "8 characters" in short.stderr
    with unit_of_work():
        assert User.select().count() == 1


@pytest.mark.gen_test(timeout=60)
async def test_rotate_keys_prints_new_keys_and_the_old_ones_stop(api, migrated):
    token, acme = await api.owner("acme")
    _, globex = await api.owner("globex")
    env = {"WINDBACK_DATABASE_URL": migrated}
    result = run("rotate_keys.py", "acme", env=env)
    assert result.returncode == 0, result.stderr
    new_key = re.search(r"acme: secret_key=(sk_live_\S+) public_key=(pub_live_\S+)", result.stdout)
    assert new_key and new_key.group(2) == acme["public_key"]
    assert (await api.get("/projects/acme", key=acme["secret_key"])).status == 401
    assert (await api.get("/projects/acme", key=new_key.group(1))).status == 200
    assert (await api.get("/projects/globex", key=globex["secret_key"])).status == 200

    result = run("rotate_keys.py", "--all", "--grace", "3600", env=env)
    assert result.returncode == 0
    assert {line.split(":")[0] for line in result.stdout.splitlines()} == {"acme", "globex"}
    assert (await api.get("/projects/globex", key=globex["secret_key"])).status == 200  # in its grace hour

    missing = run("rotate_keys.py", "nope", env=env)
    assert missing.returncode == 1 and "no project" in missing.stderr + missing.stdout
    bad = run("rotate_keys.py", "acme", "--grace", "100000", env=env)
    assert bad.returncode == 2


@pytest.mark.gen_test(timeout=60)
async def test_rebuild_rollups_reports_a_difference_then_repairs_it(api, migrated):
    token, project = await api.owner("acme")
    key = project["secret_key"]
    env = {"WINDBACK_DATABASE_URL": migrated}
    event = (await api.post("/projects/acme/churn-events", {"customer_email": "a@example.com", "mrr_cents": 900,
                                                             "currency": "EUR"}, key=key)).data
    clean = run("rebuild_rollups.py", "--verify", env=env)
    assert clean.returncode == 0, clean.stderr
    assert "acme: verified" in clean.stdout and "0 of 1 projects differ" in clean.stdout
    with unit_of_work():  # a writer that bypassed the churn-event transitions
        ChurnEvent.update(mrr_cents=1000).where(ChurnEvent.id == event["id"]).execute()
    stale = (await api.get("/projects/acme/stats", key=key)).data
    assert stale["mrr_churned_cents"] == {"EUR": 900}
    found = run("rebuild_rollups.py", "--verify", env=env)
    assert found.returncode == 1 and "analytics_rollups" in found.stdout and "kept [1, 900," in found.stdout
    assert run("rebuild_rollups.py", "--verify", env=env).returncode == 1  # --verify changed nothing
    rebuilt = run("rebuild_rollups.py", "--project", "acme", env=env)
    assert rebuilt.returncode == 1 and "acme: rebuilt" in rebuilt.stdout and "1 rows differed" in rebuilt.stdout
    assert run("rebuild_rollups.py", "--verify", env=env).returncode == 0
    await api.patch("/projects/acme", {"name": "Acme"}, token=token)  # a settings write forgets cached answers
    assert (await api.get("/projects/acme/stats", key=key)).data["mrr_churned_cents"] == {"EUR": 1000}
    assert run("rebuild_rollups.py", "--project", "nope", env=env).returncode == 2
