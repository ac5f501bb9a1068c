"""Public endpoints ignore credentials: a client that sends its `Authorization: Bearer` or
`X-API-Key` on every request (an SDK, an API explorer, a health check behind a shared header) gets
the same answer as without one. A credential is refused only where it is not enough."""
import json

import pytest

from tests.webhook_support import encode, stripe_headers, webhook_project


async def credentials(api):
    """Every kind of credential a client might send: a good JWT, a good secret key, a public key
    in X-API-Key, and a forged token."""
    token, project = await webhook_project(api)
    await api.signup(email="signs-in@example.com", password="correct horse")
    return project, {
        "jwt": {"token": token},
        "secret key": {"key": project["secret_key"]},
        "public key": {"key": project["public_key"]},
        "forged jwt": {"extra": {"Authorization": "Bearer not.a.token"}},
        "unknown key": {"key": "sk_live_" + "x" * 40},
    }


def public_calls(project):
    subscription = {"id": "evt_public_1", "type": "customer.subscription.deleted", "created": 1_700_000_000,
                    "data": {"object": {"id": "sub_1", "customer": "cus_1", "metadata": {"email": "c@example.com"},
                                        "items": {"data": []}}}}
    body = encode(subscription)
    return [
        ("GET", "/health", None, {}),
        ("GET", "/openapi.json", None, {}),
        ("GET", "/widget.js", None, {}),
        ("POST", "/auth/login", {"email": "signs-in@example.com", "password": "correct horse"}, {}),
        ("POST", "/auth/register", None, {}),  # a fresh email per call, below
        ("POST", "/auth/forgot-password", {"email": "nobody@example.com"}, {}),
        ("POST", "/auth/reset-password", {"token": "nope", "password": "correct horse"}, {}),
        ("GET", f"/cancel-flow/config/{project['public_key']}", None, {}),
        ("POST", "/cancel-flow/reasons", {"public_key": project["public_key"], "customer_email": "w@example.com",
                                          "reason": "too_expensive"}, {}),
        ("POST", f"/webhooks/stripe/{project['public_key']}", body, stripe_headers(body)),
    ]


@pytest.mark.gen_test(timeout=60)
async def test_public_endpoints_answer_the_same_with_any_credential(api):
    project, creds = await credentials(api)
    counter = iter(range(1000))

    async def send(method, path, body, headers, **credential):
        if path == "/auth/register":
            body = {"email": f"new-{next(counter)}@example.com", "password": "correct horse"}
        raw = body if isinstance(body, bytes) else None
        hdrs = {**headers, **credential.pop("extra", {})}
        return await api.request(method, path, None if raw else body, raw=raw, headers=hdrs, **credential)

    for method, path, body, headers in public_calls(project):
        plain = await send(method, path, body, headers)
        assert plain.status < 500 and plain.status not in (401, 403), (path, plain)
        for name, credential in creds.items():
            r = await send(method, path, body, headers, **dict(credential))
            assert r.status not in (401, 403), (path, name, r)
            # Same kind of answer as without a credential (a cancel-flow answer is 201 then 200:
            # the second one for that customer updates the open event).
            assert r.status // 100 == plain.status // 100, (path, name, plain, r)


@pytest.mark.gen_test
async def test_a_credential_that_is_not_enough_is_still_refused(api):
    project, creds = await credentials(api)
    # A secret key never lists or creates projects, nor signs in as a user.
    r = await api.get("/projects", key=project["secret_key"])
    assert r.status == 403 and r.error["code"] == "FORBIDDEN"
    r = await api.get("/auth/me", key=project["secret_key"])
    assert r.status == 403
    # A user's token is not a secret key for /track.
    r = await api.post("/track", {"event": "login", "customer_id": "c1"}, **creds["jwt"])
    assert r.status == 403
    # A forged token on a route that needs one: 401.
    r = await api.get("/projects", headers={"Authorization": "Bearer not.a.token"})
    assert r.status == 401 and r.error["code"] == "UNAUTHORIZED"
    r = await api.get("/projects/acme", key=project["public_key"])
    assert r.status == 401
