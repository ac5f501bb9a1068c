"""Connecting a billing account: credentials sealed at rest and shown masked, the connection
test, and the identity secret that customer ids are signed with."""
import os
import stat

import pytest

from config import load_settings
from services.billing.credentials import CredentialBox
from store.models import Project
from store.db import unit_of_work
from tests.billing_support import STRIPE_KEY, auth_hash, connected_project, razorpay_fake, stripe_fake, widget_answer  # noqa: F401


def stored_settings(slug: str) -> str:
    with unit_of_work():
        return Project.get(Project.slug == slug).settings


@pytest.mark.gen_test
async def test_stripe_key_is_sealed_at_rest_and_only_ever_shown_masked(stripe_fake, api, settings):
    token, project = await api.owner()
    r = await api.patch("/projects/acme", {"settings": {"billing": {"provider": "stripe", "stripe_api_key": STRIPE_KEY,
                                                                     "offer_cooldown_days": 30}}}, token=token)
    assert r.status == 200, r
    billing = r.data["settings"]["billing"]
    assert billing["provider"] == "stripe" and billing["connected"] is True
    assert billing["stripe_api_key"] == "sk_...4f2a"
    assert billing["offer_cooldown_days"] == 30
    assert STRIPE_KEY not in r.text
    assert STRIPE_KEY not in (await api.get("/projects/acme", token=token)).text
    raw = stored_settings("acme")
    assert STRIPE_KEY not in raw and "4f2a" in raw  # only the masked hint is readable in the database
    # The database alone does not open it: another server secret cannot read the sealed value.
    import json
    sealed = json.loads(raw)["billing"]["credentials"]
    assert CredentialBox(settings).open(sealed) == {"stripe_api_key": STRIPE_KEY}
    other = load_settings({"WINDBACK_SECRET": "another-secret-0123456789abcdef-0123456789"})
    with pytest.raises(Exception, match="cannot be read"):
        CredentialBox(other).open(sealed)
    # The masked value sent back (a settings form re-submitting) keeps the stored key.
    r = await api.patch("/projects/acme", {"settings": {"billing": {"provider": "stripe", "stripe_api_key": "sk_...4f2a",
                                                                     "offer_cooldown_days": 60}}}, token=token)
    assert r.status == 200, r
    assert json.loads(stored_settings("acme"))["billing"]["credentials"] == sealed
    assert r.data["settings"]["billing"]["offer_cooldown_days"] == 60


def test_without_an_environment_secret_the_key_lives_in_a_0600_file_beside_the_data(tmp_path):
    settings = load_settings({"WINDBACK_DATABASE_URL": f"sqlite:///{tmp_path}/data/windback.db"})
    assert settings.billing_key_file == str(tmp_path / "data" / "windback-billing.key")
    os.makedirs(tmp_path / "data")
    assert not os.path.exists(settings.billing_key_file)
    sealed = CredentialBox(settings).seal({"stripe_api_key": STRIPE_KEY})
    assert stat.S_IMODE(os.stat(settings.billing_key_file).st_mode) == 0o600
    assert STRIPE_KEY.encode() not in open(settings.billing_key_file, "rb").read()
    # Another process (a new box) reads the same file and opens what the first sealed.
    assert CredentialBox(settings).open(sealed) == {"stripe_api_key": STRIPE_KEY}


@pytest.mark.gen_test
async def test_bad_billing_settings_are_refused_and_change_nothing(stripe_fake, api):
    token, _ = await api.owner()
    cases = [
        ({"provider": "stripe", "stripe_api_key": "pk_live_public_0000"}, "settings.billing.stripe_api_key"),
        ({"provider": "razorpay", "razorpay_key_id": "rzp_test_1"}, "settings.billing.razorpay_key_secret"),
        ({"stripe_api_key": STRIPE_KEY}, "settings.billing.provider"),
        ({"provider": "paypal"}, "settings.billing.provider"),
        ({"provider": "stripe"}, "settings.billing.stripe_api_key"),
    ]
    for billing, field in cases:
        r = await api.patch("/projects/acme", {"settings": {"billing": billing}}, token=token)
        assert r.status == 400, (billing, r)
        assert field in [d["field"] for d in r.error["details"]], (billing, r.error)
    assert "billing" not in stored_settings("acme")


@pytest.mark.gen_test
async def test_connection_test_makes_one_harmless_read_and_reports_a_refusal(stripe_fake, razorpay_fake, api):
    token, project = await api.owner()
    r = await api.post("/projects/acme/billing/test", token=token)
    assert r.status == 400 and "settings.billing" in r.error["message"]
    await api.patch("/projects/acme", {"settings": {"billing": {"provider": "stripe", "stripe_api_key": STRIPE_KEY}}},
                    token=token)
    r = await api.post("/projects/acme/billing/test", token=token)
    assert r.status == 200, r
    assert r.data == {"ok": True, "provider": "stripe", "message": "Connected to Stripe (test mode)"}
    assert [(q.method, q.path, q.headers["authorization"]) for q in stripe_fake.requests] == [
        ("GET", "/v1/balance", f"Bearer {STRIPE_KEY}")]
    # A revoked key: the provider's refusal, in words.
    await api.patch("/projects/acme", {"settings": {"billing": {"provider": "stripe",
                                                                 "stripe_api_key": "sk_test_revoked_00000000"}}}, token=token)
    r = await api.post("/projects/acme/billing/test", token=token)
    assert r.data["ok"] is False and "Invalid API Key" in r.data["message"] and "401" in r.data["message"]
    # Razorpay: one list call with Basic auth.
    await api.patch("/projects/acme", {"settings": {"billing": {
        "provider": "razorpay", "razorpay_key_id": razorpay_fake.key_id,
        "razorpay_key_secret": razorpay_fake.key_secret}}}, token=token)
    r = await api.post("/projects/acme/billing/test", token=token)
    assert r.data == {"ok": True, "provider": "razorpay", "message": "Connected to Razorpay"}
    (request,) = razorpay_fake.requests
    assert (request.method, request.path, request.query) == ("GET", "/v1/subscriptions", {"count": "1"})
    assert request.headers["authorization"].startswith("Basic ")
    # Only admins test or change billing; a secret key cannot.
    r = await api.post("/projects/acme/billing/test", key=project["secret_key"])
    assert r.status == 403


@pytest.mark.gen_test
async def test_identity_secret_is_shown_to_admins_and_rotates(stripe_fake, api):
    token, project, secret = await connected_project(api, stripe_fake)
    assert secret.startswith("isec_") and len(secret) > 36
    with unit_of_work():  # sealed at rest, like the billing credentials
        from store.billing import ProjectIdentity
        assert secret not in ProjectIdentity.get().sealed_secret
    by_key = await api.get("/projects/acme", key=project["secret_key"])
    assert by_key.status == 200 and "identity_secret" not in by_key.data
    stripe_fake.add_subscription("cus_1")
    r = await api.post("/projects/acme/rotate-keys", {"identity": True}, token=token)
    assert r.status == 200, r
    new_secret = r.data["identity_secret"]
    assert new_secret.startswith("isec_") and new_secret != secret
    assert (await api.get("/projects/acme", token=token)).data["identity_secret"] == new_secret
    # A hash made with the old secret no longer passes; one with the new secret does.
    old = await api.post("/cancel-flow/reasons", widget_answer(project, "cus_1", secret))
    assert old.status == 403, old
    new = await api.post("/cancel-flow/reasons", widget_answer(project, "cus_1", new_secret))
    assert new.status == 200, new
    assert new.data["billing_action"]["status"] == "applied"
    plain = await api.post("/projects/acme/rotate-keys", {}, token=token)
    assert "identity_secret" not in plain.data
    assert (await api.get("/projects/acme", token=token)).data["identity_secret"] == new_secret
