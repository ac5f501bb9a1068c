"""What the webhook endpoints refuse, with nothing stored."""
import asyncio
import logging
import time

import pytest

from tests.webhook_support import (CUSTOM_SECRET, STRIPE_SECRET, custom_headers, encode, razorpay_event,
                                   razorpay_headers, settled, stored_count, stripe_event, stripe_headers,
                                   stripe_subscription, webhook_project)

CHURN = {"type": "churn", "customer_email": "kim@example.com"}


def stripe_body():
    return encode(stripe_event("customer.subscription.deleted", stripe_subscription()))


@pytest.mark.gen_test
async def test_bad_signatures_are_refused_and_nothing_is_stored(api):
    _, project = await webhook_project(api)
    key = project["public_key"]
    body = stripe_body()
    refused = {
        "stripe wrong secret": await api.post(f"/webhooks/stripe/{key}", raw=body,
                                              headers=stripe_headers(body, secret="whsec_not_the_secret")),
        "stripe tampered": await api.post(f"/webhooks/stripe/{key}", raw=body.replace(b"2900", b"9900"),
                                          headers=stripe_headers(body)),
        "stripe no header": await api.post(f"/webhooks/stripe/{key}", raw=body),
        "stripe too old": await api.post(f"/webhooks/stripe/{key}", raw=body,
                                         headers=stripe_headers(body, timestamp=int(time.time()) - 301)),
    }
    rz = encode(razorpay_event("subscription.cancelled"))
    refused.update({
        "razorpay wrong secret": await api.post(f"/webhooks/razorpay/{key}", raw=rz,
                                                headers=razorpay_headers(rz, secret="another-secret")),
        "razorpay tampered": await api.post(f"/webhooks/razorpay/{key}", raw=rz.replace(b"49900", b"100"),
                                            headers=razorpay_headers(rz)),
        "razorpay no header": await api.post(f"/webhooks/razorpay/{key}", raw=rz),
        "razorpay non-ASCII signature": await api.post(f"/webhooks/razorpay/{key}", raw=rz,
                                                       headers={"X-Razorpay-Signature": "é" * 64}),
    })
    cb = encode(CHURN)
    old = int(time.time()) - 301
    wrong = "whsec_" + "b3RoZXItc2VjcmV0LWJ5dGVz"
    refused.update({
        "custom wrong secret": await api.post(f"/webhooks/custom/{key}", raw=cb, headers=custom_headers(cb, wrong)),
        "custom tampered": await api.post(f"/webhooks/custom/{key}", raw=cb.replace(b"kim", b"tom"),
                                          headers=custom_headers(cb)),
        "custom no signature": await api.post(f"/webhooks/custom/{key}", raw=cb, headers={
            k: v for k, v in custom_headers(cb).items() if k != "webhook-signature"}),
        "custom too old": await api.post(f"/webhooks/custom/{key}", raw=cb,
                                         headers=custom_headers(cb, timestamp=old)),
        "custom too far ahead": await api.post(f"/webhooks/custom/{key}", raw=cb,
                                               headers=custom_headers(cb, timestamp=int(time.time()) + 330)),
    })
    for name, r in refused.items():
        assert r.status == 400 and r.error["code"] == "INVALID_SIGNATURE", (name, r)
        assert STRIPE_SECRET not in r.text and CUSTOM_SECRET not in r.text
    assert "tolerance" in refused["stripe too old"].error["message"]
    assert "5 minutes" in refused["custom too old"].error["message"]
    assert stored_count() == 0


@pytest.mark.gen_test
async def test_unknown_keys_are_404_and_a_missing_secret_is_400(api):
    token, project = await webhook_project(api)
    body = stripe_body()
    for key in ("pub_live_unknown0123456789abcdef", project["secret_key"], "anything"):
        r = await api.post(f"/webhooks/stripe/{key}", raw=body, headers=stripe_headers(body))
        assert r.status == 404 and r.error["code"] == "NOT_FOUND", r
    r = await api.patch("/projects/acme", {"settings": {"razorpay_webhook_secret": None}}, token=token)
    assert r.status == 200
    rz = encode(razorpay_event("subscription.cancelled"))
    r = await api.post(f"/webhooks/razorpay/{project['public_key']}", raw=rz, headers=razorpay_headers(rz))
    assert r.status == 400 and r.error["code"] == "VALIDATION_ERROR"
    assert "razorpay_webhook_secret" in r.error["message"] and "PATCH" in r.error["message"]
    assert stored_count() == 0


class QueryLog(logging.Handler):
    """The SQL statements peewee runs meanwhile (it logs each at DEBUG)."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.statements: list[str] = []

    def emit(self, record):
        self.statements.append(str(record.msg[0] if isinstance(record.msg, tuple) else record.getMessage()))

    def __enter__(self):
        self.logger = logging.getLogger("peewee")
        self.level = self.logger.level
        self.logger.addHandler(self)
        self.logger.setLevel(logging.DEBUG)
        return self

    def __exit__(self, *exc):
        self.logger.removeHandler(self)
        self.logger.setLevel(self.level)

    def key_lookups(self) -> int:
        return sum("project_keys" in statement for statement in self.statements)


@pytest.mark.env({"WINDBACK_RATE_LIMIT_SCALE": "0.1"})  # webhooks: 10/s, burst 50
@pytest.mark.gen_test(timeout=30)
async def test_unknown_keys_spend_the_client_ip_bucket_and_a_repeat_costs_no_query(api):
    _, project = await webhook_project(api)
    body = stripe_body()
    guesses = await asyncio.gather(*(api.post(f"/webhooks/stripe/pub_live_guess{n:06d}", raw=body,
                                              headers=stripe_headers(body)) for n in range(90)))
    statuses = [r.status for r in guesses]
    assert 50 <= statuses.count(404) < 90 and set(statuses) == {404, 429}, statuses
    # The merchant's own endpoint has a bucket of its own and still takes deliveries.
    r = await api.post(f"/webhooks/stripe/{project['public_key']}", raw=body, headers=stripe_headers(body))
    assert r.status == 200, r
    # A key already found unknown is answered without asking the database again.
    await asyncio.sleep(0.5)  # a few tokens back
    with QueryLog() as queries:
        first = await api.post("/webhooks/stripe/pub_live_never_seen", raw=body, headers=stripe_headers(body))
        lookups_of_first = queries.key_lookups()
        repeats = [await api.post("/webhooks/stripe/pub_live_never_seen", raw=body, headers=stripe_headers(body))
                   for _ in range(2)]
    assert [r.status for r in (first, *repeats)] == [404, 404, 404]
    assert lookups_of_first == 1 and queries.key_lookups() == 1, queries.statements


@pytest.mark.gen_test
async def test_a_body_over_one_mib_is_413(api):
    _, project = await webhook_project(api)
    event = stripe_event("customer.subscription.deleted", stripe_subscription(), )
    event["data"]["object"]["metadata"]["padding"] = "x" * (1024 * 1024)
    body = encode(event)
    r = await api.post(f"/webhooks/stripe/{project['public_key']}", raw=body, headers=stripe_headers(body))
    assert r.status == 413 and r.error["code"] == "PAYLOAD_TOO_LARGE", r
    assert stored_count() == 0


@pytest.mark.gen_test
async def test_secrets_are_shown_masked_after_they_are_set(api):
    token, project = await webhook_project(api)
    r = await api.get("/projects/acme", token=token)
    settings = r.data["settings"]
    assert settings["stripe_webhook_secret"] == "whsec_****" + STRIPE_SECRET[-4:]
    assert CUSTOM_SECRET not in r.text and "razorpay-webhook-secret-42" not in r.text
    # A masked value sent back changes nothing: deliveries still verify with the real secret.
    await api.patch("/projects/acme", {"settings": {"stripe_webhook_secret": settings["stripe_webhook_secret"]}},
                    token=token)
    body = stripe_body()
    r = await api.post(f"/webhooks/stripe/{project['public_key']}", raw=body, headers=stripe_headers(body))
    assert r.status == 200, r
    assert len(await settled(project["id"])) == 1


@pytest.mark.gen_test
async def test_a_changed_secret_applies_at_once(api):
    token, project = await webhook_project(api)
    body = stripe_body()
    assert (await api.post(f"/webhooks/stripe/{project['public_key']}", raw=body,
                           headers=stripe_headers(body))).status == 200
    await api.patch("/projects/acme", {"settings": {"stripe_webhook_secret": "whsec_rotated_secret_0001"}},
                    token=token)
    body = stripe_body()
    r = await api.post(f"/webhooks/stripe/{project['public_key']}", raw=body, headers=stripe_headers(body))
    assert r.status == 400 and r.error["code"] == "INVALID_SIGNATURE"
    r = await api.post(f"/webhooks/stripe/{project['public_key']}", raw=body,
                       headers=stripe_headers(body, secret="whsec_rotated_secret_0001"))
    assert r.status == 200
    assert len(await settled(project["id"])) == 2


@pytest.mark.gen_test
async def test_deliveries_are_rate_limited_per_public_key(api, ctx):
    from services.ratelimit import RateLimiter

    _, acme = await webhook_project(api, "acme")
    _, beta = await webhook_project(api, "beta")
    ctx.limiter = RateLimiter(scale=0.004)  # webhooks: a bucket of 2, refilled at 0.4/s

    async def deliver(project):
        body = stripe_body()
        return await api.post(f"/webhooks/stripe/{project['public_key']}", raw=body, headers=stripe_headers(body))

    answers = [await deliver(acme) for _ in range(3)]
    assert [a.status for a in answers] == [200, 200, 429]
    assert answers[2].error["code"] == "RATE_LIMITED" and int(answers[2].headers["Retry-After"]) >= 1
    assert answers[0].headers["X-RateLimit-Limit"] == "2"
    assert (await deliver(beta)).status == 200  # another key, another bucket
    assert stored_count() == 3
    await settled(acme["id"])
    await settled(beta["id"])
