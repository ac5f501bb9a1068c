"""/projects: create, list, get, update, rotate keys; tenancy and roles."""
import asyncio
import datetime as dt
import re

import jwt
import pytest

from store.db import unit_of_work
from store.models import Membership, Project, ProjectKey
from tests.helpers import count

SECRET = "test-secret-0123456789abcdef-0123456789"


def user_id_of(token):
    return jwt.decode(token, SECRET, algorithms=["HS256"])["sub"]


def add_member(project_id, token, role):
    with unit_of_work():
        Membership.create(project=project_id, user=user_id_of(token), role=role)


@pytest.mark.gen_test
async def test_create_answers_the_project_with_its_keys(api):
    token = await api.signup()
    r = await api.post("/projects", {"name": "Acme Rockets"}, token=token)
    assert r.status == 201, r
    data = r.data
    assert {"id", "slug", "name", "plan", "public_key", "created_at", "settings", "secret_key"} <= set(data)
    assert data["slug"] == "acme-rockets" and data["name"] == "Acme Rockets" and data["plan"] == "free"
    assert re.fullmatch(r"sk_live_[A-Za-z0-9_\-]{32,}", data["secret_key"])
    assert re.fullmatch(r"pub_live_[A-Za-z0-9_\-]{24,}", data["public_key"])
    assert data["settings"]["lost_after_days"] == 90
    assert data["created_at"].endswith("Z")
    # The secret key is stored only as a hash and never shown again.
    with unit_of_work():
        assert not ProjectKey.select().where(ProjectKey.lookup == data["secret_key"]).exists()
    again = await api.get("/projects/acme-rockets", token=token)
    assert "secret_key" not in again.data and data["secret_key"] not in again.text
    me = await api.get("/auth/me", token=token)
    assert me.data["projects"] == [{"slug": "acme-rockets", "name": "Acme Rockets", "role": "owner"}]


@pytest.mark.gen_test
async def test_slugs_derived_with_a_suffix_given_slug_taken_is_409(api):
    token = await api.signup()
    first = await api.new_project(token, name="Acme")
    second = await api.new_project(token, name="ACME!")
    assert (first["slug"], second["slug"]) == ("acme", "acme-2")
    r = await api.post("/projects", {"name": "Other", "slug": "acme"}, token=token)
    assert r.status == 409 and r.error["code"] == "CONFLICT"
    assert count(Project) == 2


@pytest.mark.parametrize("body, field", [
    ({}, "name"),
    ({"name": ""}, "name"),
    ({"name": 7}, "name"),
    ({"name": "Ok", "slug": "Bad Slug"}, "slug"),
    ({"name": "Ok", "slug": "ab"}, "slug"),
    ({"name": "Ok", "slug": "x" * 49}, "slug"),
    ({"name": "Ok", "plan": "scale"}, "plan"),
])
@pytest.mark.gen_test
async def test_create_refuses_bad_input_and_stores_nothing(api, body, field):
    token = await api.signup()
    r = await api.post("/projects", body, token=token)
    assert r.status == 400 and r.error["code"] == "VALIDATION_ERROR"
    assert field in [d["field"] for d in r.error["details"]]
    assert count(Project) == 0 and count(Membership) == 0


@pytest.mark.gen_test
async def test_list_is_paginated_and_only_shows_own_projects(api):
    token = await api.signup()
    other = await api.signup()
    for name in ("One", "Two", "Three"):
        await api.new_project(token, name=name)
    await api.new_project(other, name="Theirs")
    r = await api.get("/projects?per_page=2", token=token)
    assert r.status == 200
    assert r.json["meta"] == {"page": 1, "per_page": 2, "total": 3}
    assert [p["name"] for p in r.data] == ["Three", "Two"]  # newest first
    assert all(p["role"] == "owner" and "secret_key" not in p for p in r.data)
    r = await api.get("/projects?page=2&per_page=2", token=token)
    assert [p["name"] for p in r.data] == ["One"]
    for query, field in (("per_page=101", "per_page"), ("per_page=0", "per_page"), ("page=0", "page"),
                         ("sort=name", "sort"), ("order=up", "order"), ("page=x", "page")):
        r = await api.get(f"/projects?{query}", token=token)
        assert r.status == 400, query
        assert r.error["details"][0]["field"] == field


@pytest.mark.gen_test
async def test_tenancy_other_keys_and_non_members_get_404(api):
    token, acme = await api.owner("acme")
    other_token, globex = await api.owner("globex")
    stranger = await api.signup()
    assert (await api.get("/projects/acme", key=acme["secret_key"])).status == 200
    assert (await api.get("/projects/acme", token=token)).status == 200
    for r in (await api.get("/projects/acme", key=globex["secret_key"]),
              await api.get("/projects/acme", token=other_token),
              await api.get("/projects/acme", token=stranger),
              await api.get("/projects/nope", token=token)):
        assert r.status == 404 and r.error["code"] == "NOT_FOUND"
        assert "Acme" not in r.text
    # A public key is never a credential in X-API-Key.
    r = await api.get("/projects/acme", key=acme["public_key"])
    assert r.status == 401 and r.error["code"] == "UNAUTHORIZED"
    r = await api.get("/projects/acme", key="sk_live_" + "x" * 43)
    assert r.status == 401


@pytest.mark.gen_test
async def test_a_secret_key_cannot_manage_projects(api):
    _, acme = await api.owner("acme")
    key = acme["secret_key"]
    for r in (await api.get("/projects", key=key),
              await api.post("/projects", {"name": "Sneaky"}, key=key),
              await api.patch("/projects/acme", {"name": "Renamed"}, key=key),
              await api.post("/projects/acme/rotate-keys", {}, key=key)):
        assert r.status == 403 and r.error["code"] == "FORBIDDEN"
    with unit_of_work():
        assert Project.get(Project.slug == "acme").name == "Acme"
    assert count(Project) == 1


@pytest.mark.gen_test
async def test_patch_merges_settings_and_masks_webhook_secrets(api):
    token, _ = await api.owner("acme")
    r = await api.patch("/projects/acme", {"name": "Acme Inc", "settings": {
        "brand_name": "Acme", "stripe_webhook_secret": "whsec_abcdefgh12345678"}}, token=token)
    assert r.status == 200, r
    assert r.data["name"] == "Acme Inc"
    assert r.data["settings"]["stripe_webhook_secret"] == "whsec_abcdefgh12345678"  # shown once
    r = await api.patch("/projects/acme", {"settings": {"lost_after_days": 30}}, token=token)
    settings = r.data["settings"]
    assert settings["brand_name"] == "Acme" and settings["lost_after_days"] == 30
    assert settings["stripe_webhook_secret"] == "whsec_****5678"
    # Sending the masked value back keeps the secret.
    await api.patch("/projects/acme", {"settings": {"stripe_webhook_secret": "whsec_****5678"}}, token=token)
    with unit_of_work():
        assert "whsec_abcdefgh12345678" in Project.get(Project.slug == "acme").settings
    assert (await api.get("/projects/acme", token=token)).data["settings"]["stripe_webhook_secret"] == "whsec_****5678"


@pytest.mark.gen_test
async def test_patch_refuses_slug_plan_and_bad_settings(api):
    token, _ = await api.owner("acme")
    r = await api.patch("/projects/acme", {"slug": "other"}, token=token)
    assert r.status == 400 and r.error["details"][0]["field"] == "slug"
    r = await api.patch("/projects/acme", {"plan": "scale"}, token=token)
    assert r.status == 403
    for body, field in (({"settings": {"lost_after_days": "ninety"}}, "settings.lost_after_days"),
                        ({"settings": {"mail_from": "not an address"}}, "settings.mail_from"),
                        ({"settings": {"unknown": 1}}, "settings.unknown"),
                        ({"name": ""}, "name")):
        r = await api.patch("/projects/acme", body, token=token)
        assert r.status == 400 and r.error["details"][0]["field"] == field
    with unit_of_work():
        project = Project.get(Project.slug == "acme")
    assert (project.slug, project.plan, project.name, project.settings) == ("acme", "free", "Acme", "{}")


@pytest.mark.gen_test
async def test_members_read_but_only_admins_change_settings_or_keys(api):
    _, acme = await api.owner("acme")
    member = await api.signup()
    admin = await api.signup()
    add_member(acme["id"], member, "member")
    add_member(acme["id"], admin, "admin")
    assert (await api.get("/projects/acme", token=member)).status == 200
    assert (await api.patch("/projects/acme", {"name": "X"}, token=member)).status == 403
    assert (await api.post("/projects/acme/rotate-keys", {}, token=member)).status == 403
    assert (await api.patch("/projects/acme", {"name": "Y"}, token=admin)).status == 200
    assert (await api.post("/projects/acme/rotate-keys", {}, token=admin)).status == 200
    assert [p["role"] for p in (await api.get("/projects", token=member)).data] == ["member"]


@pytest.mark.gen_test
async def test_a_rotated_key_stops_working_at_once(api):
    token, acme = await api.owner("acme")
    old = acme["secret_key"]
    assert (await api.get("/projects/acme", key=old)).status == 200  # and now it is cached
    r = await api.post("/projects/acme/rotate-keys", token=token)
    assert r.status == 200, r
    assert set(r.data) == {"secret_key", "public_key", "previous_keys_expire_at"}
    assert r.data["secret_key"] != old and r.data["public_key"] == acme["public_key"]
    assert (await api.get("/projects/acme", key=old)).status == 401
    assert (await api.get("/projects/acme", key=r.data["secret_key"])).status == 200


@pytest.mark.gen_test(timeout=30)
async def test_a_rotated_key_works_until_its_grace_period_ends(api):
    token, acme = await api.owner("acme")
    old = acme["secret_key"]
    assert (await api.get("/projects/acme", key=old)).status == 200
    r = await api.post("/projects/acme/rotate-keys", {"grace_seconds": 3, "public_key": True}, token=token)
    assert r.status == 200
    assert r.data["public_key"] != acme["public_key"]
    assert r.data["previous_keys_expire_at"].endswith("Z")
    assert (await api.get("/projects/acme", key=old)).status == 200
    assert (await api.get("/projects/acme", key=r.data["secret_key"])).status == 200
    expires_at = dt.datetime.fromisoformat(r.data["previous_keys_expire_at"].replace("Z", "+00:00"))
    while (await api.get("/projects/acme", key=old)).status == 200:  # until the grace period ends
        assert dt.datetime.now(dt.timezone.utc) < expires_at + dt.timedelta(seconds=10), "the old key never expired"
        await asyncio.sleep(0.1)
    assert dt.datetime.now(dt.timezone.utc) >= expires_at - dt.timedelta(seconds=0.5), "expired before its time"
    assert (await api.get("/projects/acme", key=old)).status == 401
    assert (await api.get("/projects/acme", key=r.data["secret_key"])).status == 200


@pytest.mark.gen_test
async def test_rotate_refuses_a_grace_over_a_day(api):
    token, acme = await api.owner("acme")
    for body in ({"grace_seconds": 86401}, {"grace_seconds": -1}, {"grace_seconds": "60"}, {"public_key": "yes"}):
        r = await api.post("/projects/acme/rotate-keys", body, token=token)
        assert r.status == 400 and r.error["code"] == "VALIDATION_ERROR"
    assert (await api.get("/projects/acme", key=acme["secret_key"])).status == 200
