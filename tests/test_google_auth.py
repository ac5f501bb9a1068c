"""Sign-in with Google against a JWKS served by a real HTTP server on loopback, with RSA keys
generated here."""
from __future__ import annotations

import base64
import hashlib
import hmac
import http.server
import json
import threading
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from store.models import User
from tests.conftest import free_port, table_count
from tests.test_auth import SMTP_PORT, VERIFY_SUBJECT, smtp_inbox, token_from, wait_for_mail  # noqa: F401 - fixture

CLIENT_ID = "windback-test.apps.googleusercontent.com"


class SigningKey:
    def __init__(self, kid: str):
        self.kid = kid
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwk(self) -> dict:
        data = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private.public_key()))
        return {**data, "kid": self.kid, "alg": "RS256", "use": "sig"}

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(serialization.Encoding.PEM,
                                                      serialization.PublicFormat.SubjectPublicKeyInfo)

    def sign(self, **overrides) -> str:
        now = int(time.time())
        claims = {"iss": "https://accounts.google.com", "aud": CLIENT_ID, "sub": "google-sub-1",
                  "email": "gina@example.com", "email_verified": True, "name": "Gina", "iat": now,
                  "exp": now + 3600}
        claims.update(overrides)
        return jwt.encode({k: v for k, v in claims.items() if v is not None}, self.private, algorithm="RS256",
                          headers={"kid": self.kid})


class JwksServer:
    """Serves the public keys of `keys` at /certs with `Cache-Control: public, max-age=<max_age>`."""

    def __init__(self):
        self.keys: list[SigningKey] = []
        self.max_age = 3600
        self.fetches = 0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.fetches += 1
                body = json.dumps({"keys": [k.jwk() for k in server.keys]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Cache-Control", f"public, max-age={server.max_age}, must-revalidate")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.port = free_port()
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/certs"


@pytest.fixture(scope="module")
def key_a():
    return SigningKey("key-a")


@pytest.fixture(scope="module")
def key_b():
    return SigningKey("key-b")


@pytest.fixture
def jwks(key_a):
    server = JwksServer()
    server.keys = [key_a]
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


@pytest.fixture
def test_env(test_env, jwks):
    return {**test_env, "WINDBACK_GOOGLE_CLIENT_ID": CLIENT_ID, "WINDBACK_GOOGLE_JWKS_URL": jwks.url}


def hs256_token(claims: dict, secret: bytes, kid: str) -> str:
    """An HS256 token whose HMAC key is the RSA public key (the algorithm-confusion attack)."""
    def segment(value: dict) -> bytes:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=")

    signing_input = segment({"alg": "HS256", "typ": "JWT", "kid": kid}) + b"." + segment(claims)
    signature = base64.urlsafe_b64encode(hmac.new(secret, signing_input, hashlib.sha256).digest()).rstrip(b"=")
    return (signing_input + b"." + signature).decode()


@pytest.mark.gen_test
async def test_a_good_token_signs_in_and_a_second_time_signs_in_the_same_user(api, jwks, key_a):
    first = await api.post("/auth/google", {"id_token": key_a.sign()})
    assert first.status == 200, first
    assert set(first.data) == {"token", "user"}
    assert first.data["user"]["email"] == "gina@example.com" and first.data["user"]["name"] == "Gina"
    me = await api.get("/auth/me", token=first.data["token"])
    assert me.status == 200 and me.data["id"] == first.data["user"]["id"]

    second = await api.post("/auth/google", {"id_token": key_a.sign()})
    assert second.status == 200 and second.data["user"]["id"] == first.data["user"]["id"]
    assert jwks.fetches == 1  # cached for the JWKS answer's max-age
    assert "password" not in first.text


@pytest.mark.env({"WINDBACK_SMTP_URL": f"smtp://127.0.0.1:{SMTP_PORT}"})
@pytest.mark.gen_test(timeout=30)
async def test_a_verified_password_account_with_the_same_email_is_joined(api, key_a, smtp_inbox):
    token = await api.signup(email="Gina@Example.com", password="correct horse")
    user_id = (await api.get("/auth/me", token=token)).data["id"]
    (message,) = await wait_for_mail(smtp_inbox, subject=VERIFY_SUBJECT)
    assert (await api.post("/auth/verify-email", {"token": token_from(message, "verify-email")})).status == 200
    signed_in = await api.post("/auth/google", {"id_token": key_a.sign()})
    assert signed_in.status == 200 and signed_in.data["user"]["id"] == user_id
    # The password and the earlier session still work, and the Google account keeps finding the same user.
    login = await api.post("/auth/login", {"email": "gina@example.com", "password": "correct horse"})
    assert login.status == 200 and login.data["user"]["id"] == user_id
    assert (await api.get("/auth/me", token=token)).status == 200
    again = await api.post("/auth/google", {"id_token": key_a.sign(email="gina.new@example.com")})
    assert again.status == 200 and again.data["user"]["id"] == user_id
    # Another Google account with the same address does not take over the linked account.
    other = await api.post("/auth/google", {"id_token": key_a.sign(sub="google-sub-2")})
    assert other.status == 409 and other.error["code"] == "CONFLICT"


@pytest.mark.env({"WINDBACK_SMTP_URL": f"smtp://127.0.0.1:{SMTP_PORT}"})
@pytest.mark.gen_test(timeout=30)
async def test_google_takes_over_an_unverified_account_of_its_email(api, key_a, smtp_inbox):
    # Someone registers the victim's address before the victim arrives, and keeps a session.
    squatter = await api.post("/auth/register", {"email": "gina@example.com", "password": "squatter pass",
                                                 "name": "Not Gina"})
    assert squatter.status == 201
    squatter_session = squatter.data["token"]
    project = await api.new_project(squatter_session, name="Bait")
    (message,) = await wait_for_mail(smtp_inbox, subject=VERIFY_SUBJECT)  # went to Gina's inbox, unopened

    signed_in = await api.post("/auth/google", {"id_token": key_a.sign()})
    assert signed_in.status == 200 and signed_in.data["user"]["id"] == squatter.data["user"]["id"]
    assert signed_in.data["user"]["name"] == "Gina"
    # The password is gone and every earlier session ended; Google's session works.
    login = await api.post("/auth/login", {"email": "gina@example.com", "password": "squatter pass"})
    assert login.status == 401
    for path in ("/auth/me", "/projects", f"/projects/{project['slug']}"):
        assert (await api.get(path, token=squatter_session)).status == 401, path
    me = await api.get("/auth/me", token=signed_in.data["token"])
    assert me.status == 200 and me.data["email_verified"] is True
    # A verification link issued before the takeover is spent too.
    assert (await api.post("/auth/verify-email", {"token": token_from(message, "verify-email")})).status == 400
    # Later Google sign-ins find the same account without taking anything over again.
    again = await api.post("/auth/google", {"id_token": key_a.sign()})
    assert again.status == 200 and again.data["user"]["id"] == me.data["id"]
    assert (await api.get("/auth/me", token=signed_in.data["token"])).status == 200


REFUSED = {
    "wrong audience": lambda key: key.sign(aud="someone-else.apps.googleusercontent.com"),
    "wrong issuer": lambda key: key.sign(iss="https://accounts.evil.example"),
    "expired": lambda key: key.sign(iat=int(time.time()) - 7200, exp=int(time.time()) - 3600),
    "unverified email": lambda key: key.sign(email_verified=False),
    "no email_verified claim": lambda key: key.sign(email_verified=None),
    "unknown key id": lambda key: jwt.encode({"iss": "accounts.google.com", "aud": CLIENT_ID, "sub": "x",
                                              "email": "x@example.com", "email_verified": True,
                                              "iat": int(time.time()), "exp": int(time.time()) + 600},
                                             SigningKey("key-z").private, algorithm="RS256",
                                             headers={"kid": "key-z"}),
    "HS256 signed with the public key": lambda key: hs256_token(
        {"iss": "https://accounts.google.com", "aud": CLIENT_ID, "sub": "google-sub-1", "email": "gina@example.com",
         "email_verified": True, "iat": int(time.time()), "exp": int(time.time()) + 600},
        key.public_pem(), key.kid),
    "not a JWT": lambda key: "not-a-token",
}


@pytest.mark.gen_test
async def test_bad_tokens_are_refused(api, jwks, key_a):
    for case, make_token in REFUSED.items():
        response = await api.post("/auth/google", {"id_token": make_token(key_a)})
        assert response.status == 401, (case, response)
        assert response.error["code"] == "UNAUTHORIZED", case
        assert table_count(User) == 0, case  # nobody was created or linked
    # The same server takes a good token.
    good = await api.post("/auth/google", {"id_token": key_a.sign()})
    assert good.status == 200 and good.data["user"]["email"] == "gina@example.com"


@pytest.mark.gen_test
async def test_an_unknown_key_id_refetches_the_key_set_once(api, jwks, key_a, key_b):
    assert (await api.post("/auth/google", {"id_token": key_a.sign()})).status == 200
    assert jwks.fetches == 1
    # Google rotated its keys: the cached set does not know key-b, one refetch does.
    jwks.keys = [key_a, key_b]
    rotated = await api.post("/auth/google", {"id_token": key_b.sign()})
    assert rotated.status == 200 and jwks.fetches == 2
    # A key the server never publishes: exactly one refetch per attempt, then 401.
    stranger = SigningKey("key-unknown")
    assert (await api.post("/auth/google", {"id_token": stranger.sign()})).status == 401
    assert jwks.fetches == 3
    # Known keys are still served from the cache.
    assert (await api.post("/auth/google", {"id_token": key_a.sign()})).status == 200
    assert jwks.fetches == 3


@pytest.mark.gen_test
async def test_without_max_age_the_key_set_is_fetched_each_time(api, jwks, key_a):
    jwks.max_age = 0
    for _ in range(2):
        assert (await api.post("/auth/google", {"id_token": key_a.sign()})).status == 200
    assert jwks.fetches == 2


@pytest.mark.gen_test
async def test_an_unreachable_key_set_answers_503(api, jwks, key_a):
    jwks.httpd.shutdown()
    jwks.httpd.server_close()
    response = await api.post("/auth/google", {"id_token": key_a.sign()})
    assert response.status == 503 and response.error["code"] == "UNAVAILABLE"


class TestNotConfigured:
    @pytest.fixture
    def test_env(self, test_env):
        return {k: v for k, v in test_env.items() if k != "WINDBACK_GOOGLE_CLIENT_ID"}

    @pytest.mark.gen_test
    async def test_sign_in_with_google_answers_400_with_a_clear_message(self, api, key_a):
        response = await api.post("/auth/google", {"id_token": key_a.sign()})
        assert response.status == 400 and response.error["code"] == "VALIDATION_ERROR"
        assert "not configured" in response.error["message"]
        assert "WINDBACK_GOOGLE_CLIENT_ID" in response.error["message"]
