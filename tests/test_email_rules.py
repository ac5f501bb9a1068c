"""One rule for email addresses (docs/api.md, "Input rules"): one address that an SMTP server
takes without extensions. The API answers 400 for any other; a provider's webhook that carries one
is stored with the email left out (null); a project's `mail_from` is one such address, optionally
with a display name, on one line."""
import email
import email.policy
import glob
import os

import pytest

from tests.helpers import is_address_check
from tests.webhook_support import (churn_events, custom_headers, encode, razorpay_event, razorpay_headers, settled,
                                   stripe_event, stripe_headers, stripe_subscription, webhook_project)

NOT_ONE_ADDRESS = [
    "a@example.com, second@evil.example",  # a list: two recipients
    "a@example.com;second@evil.example",
    "Ana <a@example.com>",
    "ünïcode@example.com",  # no SMTPUTF8: an ASCII local part only
    "ana@exämple.com",  # an internationalised domain is given as xn--
    '"quoted local"@example.com',
    "a..b@example.com",
    ".a@example.com",
    "a@example",
    "a@-example.com",
    "a@example..com",
    "a@[127.0.0.1]",
    "a@b@example.com",
    "x" * 65 + "@example.com",
]
GOOD = ["Ana.Lopez+churn@Example.COM", "o'brien@example.co.uk", "ana@xn--exmple-cua.com", "a_b-c@sub.example.io"]


@pytest.mark.gen_test(timeout=60)
async def test_the_api_refuses_anything_but_one_valid_address(api):
    token, project = await api.owner("acme")
    doors = [
        ("POST", "/auth/register", lambda a: {"email": a, "password": "correct horse"}, {}, "email"),
        ("POST", "/auth/forgot-password", lambda a: {"email": a}, {}, "email"),
        ("POST", "/projects/acme/churn-events", lambda a: {"customer_email": a}, {"key": project["secret_key"]},
         "customer_email"),
        ("POST", "/cancel-flow/reasons", lambda a: {"public_key": project["public_key"], "customer_email": a,
                                                    "reason": "other"}, {}, "customer_email"),
        ("POST", "/track", lambda a: {"event": "login", "customer_email": a}, {"key": project["secret_key"]},
         "customer_email"),
        ("POST", "/projects/acme/invitations", lambda a: {"email": a, "role": "member"}, {"token": token}, "email"),
    ]
    for method, path, body, credential, field in doors:
        for address in NOT_ONE_ADDRESS:
            r = await api.request(method, path, body(address), **credential)
            assert r.status == 400, (path, address, r)
            assert r.error["details"] == [{"field": field, "message": r.error["details"][0]["message"]}], r
    r = await api.post("/projects/acme/churn-events", {"customer_email": GOOD[0]}, key=project["secret_key"])
    assert r.status == 201 and r.data["customer_email"] == "ana.lopez+churn@example.com", r
    for address in GOOD[1:]:
        r = await api.post("/projects/acme/churn-events", {"customer_email": address}, key=project["secret_key"])
        assert r.status == 201, (address, r)


@pytest.mark.gen_test(timeout=60)
async def test_a_webhook_email_that_is_not_one_address_is_stored_as_null(api):
    _, project = await webhook_project(api)
    public_key = project["public_key"]
    sub = stripe_subscription(customer="cus_list", email="a@example.com, second@evil.example")
    body = encode(stripe_event("customer.subscription.deleted", sub))
    r = await api.post(f"/webhooks/stripe/{public_key}", raw=body, headers=stripe_headers(body))
    assert r.status == 200, r
    body = encode(razorpay_event("subscription.cancelled", customer="cust_U1", email="ünïcode@example.in"))
    r = await api.post(f"/webhooks/razorpay/{public_key}", raw=body, headers=razorpay_headers(body))
    assert r.status == 200, r
    body = encode({"type": "churn", "customer_id": "u_bad", "customer_email": "Kim <kim@example.com>",
                   "customer_name": "Kim"})
    r = await api.post(f"/webhooks/custom/{public_key}", raw=body, headers=custom_headers(body))
    assert r.status == 200, r
    body = encode({"type": "churn", "customer_id": "u_good", "customer_email": "Lee@Example.com"})
    r = await api.post(f"/webhooks/custom/{public_key}", raw=body, headers=custom_headers(body))
    assert r.status == 200, r
    events = await settled(project["id"])
    assert [e.status for e in events] == ["processed"] * 4, [(e.status, e.error) for e in events]
    stored = {e.customer_id: e.customer_email for e in churn_events(project["id"])}
    assert stored == {"cus_list": None, "cust_U1": None, "u_bad": None, "u_good": "lee@example.com"}
    # An event that names nobody else than by a bad email is still refused, as before.
    body = encode({"type": "churn", "customer_email": "a@example.com, b@example.com"})
    r = await api.post(f"/webhooks/custom/{public_key}", raw=body, headers=custom_headers(body))
    assert r.status == 400 and r.error["details"][0]["field"] == "customer_email", r


@pytest.mark.gen_test
async def test_mail_from_is_one_address_with_an_optional_name_on_one_line(api, test_env):
    token, project = await api.owner("acme")
    for bad in ("Acme <hello@acme.com>\r\nBcc: victim@example.com", "Acme\n <hello@acme.com>",
                "Acme <hello@acme.com>, other@evil.example", "Acme <ünï@acme.com>", "Acme", "<>",
                "Acme <hello@acme.com> trailing", "Acme\u2028 <hello@acme.com>"):
        r = await api.patch("/projects/acme", {"settings": {"mail_from": bad}}, token=token)
        assert r.status == 400 and r.error["details"][0]["field"] == "settings.mail_from", (bad, r)
    for given, stored in (("hello@acme.com", "hello@acme.com"), ("Acme <Hello@Acme.com>", "Acme <hello@acme.com>"),
                          ("Acme, Inc. <hello@acme.com>", '"Acme, Inc." <hello@acme.com>'),
                          ('"Acme, Inc." <hello@acme.com>', '"Acme, Inc." <hello@acme.com>'),
                          ("Ünïcode Brand <hello@acme.com>", "Ünïcode Brand <hello@acme.com>")):
        r = await api.patch("/projects/acme", {"settings": {"mail_from": given}}, token=token)
        assert r.status == 200 and r.data["settings"]["mail_from"] == stored, (given, r)
    # A recovery email goes out from that one sender.
    r = await api.post("/projects/acme/churn-events", {"customer_email": "cleo@example.com"}, token=token)
    event_id = r.data["id"]
    r = await api.post(f"/projects/acme/churn-events/{event_id}/generate", token=token)
    assert r.status == 201, r
    r = await api.post(f"/projects/acme/churn-events/{event_id}/variants/{r.data[0]['id']}/send", token=token)
    assert r.status == 200, r
    outbox = []
    for path in glob.glob(os.path.join(test_env["WINDBACK_OUTBOX_DIR"], "*.eml")):
        with open(path, "rb") as handle:
            outbox.append(email.message_from_bytes(handle.read(), policy=email.policy.default))
    [sent] = [message for message in outbox if not is_address_check(message)]
    assert [(a.display_name, a.addr_spec) for a in sent["From"].addresses] == [("Ünïcode Brand", "hello@acme.com")]
