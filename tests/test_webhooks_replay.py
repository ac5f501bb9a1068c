"""A processing failure is kept as `failed`, never lost; scripts/replay_webhooks.py completes it,
and running it again changes nothing."""
import os
import subprocess
import sys

import pytest

from store.db import database, is_sqlite, unit_of_work
from store.webhooks import WebhookEvent
from tests.conftest import ROOT
from tests.webhook_support import churn_events, custom_headers, encode, settled, webhook_project

REFUSED = "refused@example.com"


def install_refusing_trigger():
    """The database itself refuses churn events for one customer: a real write failure."""
    with unit_of_work():
        if is_sqlite():
            database.obj.execute_sql(
                "CREATE TRIGGER refuse_churn BEFORE INSERT ON churn_events "
                f"WHEN NEW.customer_email = '{REFUSED}' BEGIN SELECT RAISE(ABORT, 'refused by the database'); END")
        else:
            database.obj.execute_sql(
                "CREATE OR REPLACE FUNCTION refuse_churn() RETURNS trigger AS $$ BEGIN "
                f"IF NEW.customer_email = '{REFUSED}' THEN RAISE EXCEPTION 'refused by the database'; END IF; "
                "RETURN NEW; END $$ LANGUAGE plpgsql")
            database.obj.execute_sql("CREATE TRIGGER refuse_churn BEFORE INSERT ON churn_events "
                                     "FOR EACH ROW EXECUTE FUNCTION refuse_churn()")


def drop_refusing_trigger():
    with unit_of_work():
        if is_sqlite():
            database.obj.execute_sql("DROP TRIGGER IF EXISTS refuse_churn")
        else:
            database.obj.execute_sql("DROP TRIGGER IF EXISTS refuse_churn ON churn_events")
            database.obj.execute_sql("DROP FUNCTION IF EXISTS refuse_churn()")


@pytest.fixture
def refusing_database(ctx):
    install_refusing_trigger()
    try:
        yield
    finally:
        drop_refusing_trigger()


def replay(database_url, *args):
    env = {**os.environ, "WINDBACK_DATABASE_URL": database_url}
    done = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "replay_webhooks.py"), *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    return done.returncode, done.stdout + done.stderr


def snapshot():
    with unit_of_work():
        hooks = sorted((r.id, r.status, r.attempts, r.churn_event_id, r.processed_at) for r in WebhookEvent.select())
    events = sorted((e.id, e.status, e.updated_at, e.recovered_at) for p in ("acme", "beta")
                    for e in churn_events_by_slug(p))
    return hooks, events


def churn_events_by_slug(slug):
    from store.projects import project_by_slug

    with unit_of_work():
        project = project_by_slug(slug)
    return churn_events(project.id) if project else []


async def deliver(api, project, event, msg_id):
    body = encode(event)
    r = await api.post(f"/webhooks/custom/{project['public_key']}", raw=body, headers=custom_headers(body, msg_id=msg_id))
    assert r.status == 200, r


@pytest.mark.gen_test
async def test_a_failed_event_is_kept_and_the_replay_completes_it_once(api, refusing_database, migrated):
    _, acme = await webhook_project(api, "acme")
    _, beta = await webhook_project(api, "beta")
    await deliver(api, acme, {"type": "churn", "customer_email": REFUSED, "mrr_cents": 700}, "m_refused")
    await deliver(api, acme, {"type": "churn", "customer_email": "fine@example.com"}, "m_fine")
    await deliver(api, beta, {"type": "churn", "customer_email": REFUSED, "mrr_cents": 800}, "m_beta")
    rows = {r.event_id: r for r in await settled(acme["id"]) + await settled(beta["id"])}
    assert rows["m_refused"].status == "failed" and "refused by the database" in rows["m_refused"].error
    assert rows["m_refused"].attempts == 1
    assert rows["m_fine"].status == "processed"  # one failure does not hold up the others
    assert rows["m_beta"].status == "failed"
    assert [e.customer_email for e in churn_events(acme["id"])] == ["fine@example.com"]

    # A replay while the database still refuses: still failed, one more attempt, nothing lost.
    code, out = replay(migrated, "--failed", "--project", "acme")
    assert code == 1 and "1 failed" in out, out
    drop_refusing_trigger()

    code, out = replay(migrated, "--failed", "--project", "acme")
    assert code == 0 and "replayed 1 webhook event(s): 1 processed" in out, out
    with unit_of_work():
        refused = WebhookEvent.get(WebhookEvent.event_id == "m_refused")
        assert (refused.status, refused.error, refused.attempts) == ("processed", None, 3)
        assert WebhookEvent.get(WebhookEvent.event_id == "m_beta").status == "failed"  # another project
    events = {e.customer_email: e for e in churn_events(acme["id"])}
    assert sorted(events) == ["fine@example.com", REFUSED] and events[REFUSED].mrr_cents == 700

    code, out = replay(migrated)  # everything not yet applied: beta's event
    assert code == 0 and "1 processed" in out, out
    before = snapshot()
    code, out = replay(migrated)
    assert code == 0 and "nothing to do" in out, out
    assert snapshot() == before
    assert len(churn_events(acme["id"])) == 2 and len(churn_events(beta["id"])) == 1


@pytest.mark.gen_test
async def test_applying_a_stored_event_twice_changes_nothing(api):
    from store.webhook_effects import apply_stored_event

    _, project = await webhook_project(api)
    await deliver(api, project, {"type": "churn", "customer_email": "once@example.com", "mrr_cents": 100}, "m1")
    [row] = await settled(project["id"])
    before = snapshot()
    with unit_of_work():
        assert apply_stored_event(row.id) == "processed"
    assert snapshot() == before


@pytest.mark.gen_test
async def test_events_stored_but_never_applied_are_resumed_by_housekeeping(api, ctx):
    from services.webhooks.intake import resume_unapplied
    from store.webhooks import Delivery, store_deliveries
    from store.db import transaction

    _, project = await webhook_project(api)
    # As if the server had stopped between the answer and the actor: stored, never applied.
    body = encode({"type": "churn", "customer_email": "late@example.com"})
    with unit_of_work(), transaction():
        store_deliveries([Delivery(project["id"], "custom", "m_late", "churn", body.decode(), None)])
    assert await resume_unapplied(ctx, older_than=0) == 1
    [row] = await settled(project["id"])
    assert row.status == "processed"
    assert [e.customer_email for e in churn_events(project["id"])] == ["late@example.com"]
