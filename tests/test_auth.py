"""/auth: register, login, me, tokens, forgot and reset password (through real SMTP)."""
import asyncio
import base64
import email
import json
import re
import time

import jwt
import pytest
from aiosmtpd.controller import Controller

from store.models import EmailVerificationToken, PasswordResetToken, User
from tests.conftest import free_port
from tests.helpers import count, execute

SECRET = "test-secret-0123456789abcdef-0123456789"


def assert_no_password_field(value):
    text = json.dumps(value).lower()
    assert "password" not in text and "hash" not in text


@pytest.mark.gen_test
async def test_register_answers_a_token_and_the_user(api):
    r = await api.post("/auth/register", {"email": "Ada@Example.COM", "password": "correct horse", "name": "Ada"})
    assert r.status == 201, r
    assert set(r.data) == {"token", "user"}
    user = r.data["user"]
    assert set(user) == {"id", "email", "name", "created_at"}
    assert user["email"] == "ada@example.com"  # stored lower-cased
    assert user["name"] == "Ada" and user["created_at"].endswith("Z")
    assert_no_password_field(r.json)
    claims = jwt.decode(r.data["token"], SECRET, algorithms=["HS256"])
    assert claims["sub"] == user["id"] and {"iat", "exp", "jti"} <= set(claims)
    assert claims["exp"] - claims["iat"] == 24 * 3600


@pytest.mark.gen_test
async def test_email_is_unique_whatever_its_case(api):
    await api.signup(email="bob@example.com")
    r = await api.post("/auth/register", {"email": "BOB@example.com", "password": "another pass"})
    assert r.status == 409 and r.error["code"] == "CONFLICT"
    assert count(User) == 1


@pytest.mark.parametrize("body, field", [
    ({"password": "correct horse"}, "email"),
    ({"email": "a@example.com"}, "password"),
    ({"email": "not-an-email", "password": "correct horse"}, "email"),
    ({"email": 42, "password": "correct horse"}, "email"),
    ({"email": "a@example.com", "password": 12345678}, "password"),
    ({"email": "a@example.com", "password": "short"}, "password"),
    # 37 characters but 74 UTF-8 bytes: refused, never silently truncated by bcrypt
    ({"email": "a@example.com", "password": "é" * 37}, "password"),
    ({"email": "a@example.com", "password": "correct horse", "name": ["x"]}, "name"),
    ({"email": "a@example.com", "password": "correct horse", "admin": True}, "admin"),
])
@pytest.mark.gen_test
async def test_register_refuses_bad_input_and_stores_nothing(api, body, field):
    r = await api.post("/auth/register", body)
    assert r.status == 400, r
    assert r.error["code"] == "VALIDATION_ERROR"
    assert field in [d["field"] for d in r.error["details"]]
    assert count(User) == 0


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"\"text\"", b"", b"\xff\xfe"])
@pytest.mark.gen_test
async def test_register_refuses_a_body_that_is_not_a_json_object(api, raw):
    r = await api.post("/auth/register", raw=raw, headers={"Content-Type": "application/json"})
    assert r.status == 400 and r.error["code"] == "VALIDATION_ERROR"
    assert r.error["details"] and r.error["details"][0]["field"] == "body"
    assert count(User) == 0


@pytest.mark.gen_test
async def test_password_of_exactly_72_bytes_is_accepted(api):
    r = await api.post("/auth/register", {"email": "a@example.com", "password": "é" * 36})
    assert r.status == 201
    r = await api.post("/auth/login", {"email": "a@example.com", "password": "é" * 36})
    assert r.status == 200


@pytest.mark.gen_test
async def test_login_with_the_right_password_only(api):
    await api.signup(email="carol@example.com", password="right password")
    r = await api.post("/auth/login", {"email": "CAROL@example.com", "password": "right password"})
    assert r.status == 200 and r.data["user"]["email"] == "carol@example.com"
    assert_no_password_field(r.json)
    wrong = await api.post("/auth/login", {"email": "carol@example.com", "password": "wrong password"})
    unknown = await api.post("/auth/login", {"email": "nobody@example.com", "password": "right password"})
    too_long = await api.post("/auth/login", {"email": "carol@example.com", "password": "x" * 100})
    for r in (wrong, unknown, too_long):
        assert r.status == 401 and r.error["code"] == "UNAUTHORIZED"
    assert wrong.error["message"] == unknown.error["message"] == too_long.error["message"]


@pytest.mark.gen_test
async def test_me_lists_the_users_projects(api):
    token = await api.signup(email="dan@example.com", name="Dan")
    await api.new_project(token, name="Dan's shop", slug="dans-shop")
    r = await api.get("/auth/me", token=token)
    assert r.status == 200
    assert set(r.data) == {"id", "email", "name", "created_at", "email_verified", "projects"}
    assert r.data["email_verified"] is False  # until the link in the welcome email is opened
    assert r.data["projects"] == [{"slug": "dans-shop", "name": "Dan's shop", "role": "owner"}]
    assert_no_password_field(r.json)


def _token(claims=None, secret=SECRET, algorithm="HS256", **overrides):
    now = int(time.time())
    body = {"sub": "usr_x", "iat": now, "exp": now + 3600, "jti": "j1", **(claims or {}), **overrides}
    return jwt.encode(body, secret, algorithm=algorithm)


def _alg_none(claims):
    def part(value):
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


@pytest.mark.gen_test
async def test_bad_tokens_are_refused(api):
    token = await api.signup()
    user_id = jwt.decode(token, SECRET, algorithms=["HS256"])["sub"]
    now = int(time.time())
    good = {"sub": user_id, "iat": now, "exp": now + 3600, "jti": "abc"}
    header, payload, signature = token.split(".")
    forged_payload = base64.urlsafe_b64encode(json.dumps({**good, "sub": "usr_someone_else"}).encode()).rstrip(b"=").decode()
    bad_tokens = {
        "expired": _token({"sub": user_id, "iat": now - 7200, "exp": now - 3600}),
        "forged signature": f"{header}.{forged_payload}.{signature}",
        "alg none": _alg_none(good),
        "wrong secret": _token({"sub": user_id}, secret="another-secret-0123456789abcdef-012345"),
        "no jti": jwt.encode({"sub": user_id, "iat": now, "exp": now + 3600}, SECRET, algorithm="HS256"),
        "unknown user": _token({"sub": "usr_000000000000000000000000"}),
        "garbage": "not.a.token",
    }
    assert (await api.get("/auth/me", token=token)).status == 200
    for name, bad in bad_tokens.items():
        r = await api.get("/auth/me", token=bad)
        assert r.status == 401, name
        assert r.error["code"] == "UNAUTHORIZED"
    r = await api.get("/auth/me", headers={"Authorization": f"Basic {token}"})
    assert r.status == 401
    r = await api.get("/auth/me")
    assert r.status == 401


@pytest.mark.gen_test
async def test_an_api_key_never_opens_auth_endpoints(api):
    _, project = await api.owner()
    r = await api.get("/auth/me", key=project["secret_key"])
    assert r.status == 403 and r.error["code"] == "FORBIDDEN"
    r = await api.get("/auth/me", key=project["public_key"])
    assert r.status == 401


# --- forgot and reset password, through a real SMTP server -----------------------------------

class Inbox:
    def __init__(self):
        self.messages: list[email.message.Message] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


SMTP_PORT = free_port()


@pytest.fixture
def smtp_inbox():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=SMTP_PORT)
    controller.start()
    yield inbox
    controller.stop()


RESET_SUBJECT = "Reset your Windback password"
VERIFY_SUBJECT = "Confirm your Windback email address"


async def wait_for_mail(inbox, n=1, seconds=10.0, subject=RESET_SUBJECT):
    """The messages with `subject` (every one when None), once `n` of them arrived."""
    def matching():
        return [m for m in inbox.messages if subject is None or m["Subject"] == subject]

    deadline = time.monotonic() + seconds
    while len(matching()) < n and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    return matching()


def token_from(message, page="reset-password") -> str:
    """The token of the link to the dashboard's `page` in an email."""
    text = message.get_payload(decode=True).decode() if not message.is_multipart() else \
        message.get_payload(0).get_payload(decode=True).decode()
    match = re.search(rf"http://windback\.test/app/{page}\?token=([A-Za-z0-9_\-]+)", text)
    assert match, text
    return match.group(1)


@pytest.mark.env({"WINDBACK_SMTP_URL": f"smtp://127.0.0.1:{SMTP_PORT}"})
@pytest.mark.gen_test(timeout=30)
async def test_password_reset_by_email(api, smtp_inbox):
    await api.signup(email="erin@example.com", password="old password")
    r = await api.post("/auth/forgot-password", {"email": "Erin@Example.com"})
    assert r.status == 200 and r.data == {"sent": True}
    (message,) = await wait_for_mail(smtp_inbox)
    assert message["To"] == "erin@example.com"
    token = token_from(message)
    assert token not in r.text  # the token travels only by email
    assert count(PasswordResetToken, PasswordResetToken.token_hash == token) == 0  # stored hashed

    r = await api.post("/auth/reset-password", {"token": token, "password": "new password"})
    assert r.status == 200 and r.data == {"reset": True}
    assert (await api.post("/auth/login", {"email": "erin@example.com", "password": "new password"})).status == 200
    assert (await api.post("/auth/login", {"email": "erin@example.com", "password": "old password"})).status == 401

    again = await api.post("/auth/reset-password", {"token": token, "password": "third password"})
    assert again.status == 400 and again.error["code"] == "VALIDATION_ERROR"
    assert again.error["details"][0]["field"] == "token"
    assert (await api.post("/auth/login", {"email": "erin@example.com", "password": "new password"})).status == 200


@pytest.mark.env({"WINDBACK_SMTP_URL": f"smtp://127.0.0.1:{SMTP_PORT}"})
@pytest.mark.gen_test(timeout=30)
async def test_an_expired_reset_token_is_refused(api, smtp_inbox):
    await api.signup(email="finn@example.com", password="old password")
    await api.post("/auth/forgot-password", {"email": "finn@example.com"})
    (message,) = await wait_for_mail(smtp_inbox)
    token = token_from(message)
    # An hour and a bit later:
    execute("UPDATE password_reset_tokens SET expires_at = '2000-01-01 00:00:00'")
    r = await api.post("/auth/reset-password", {"token": token, "password": "new password"})
    assert r.status == 400 and r.error["code"] == "VALIDATION_ERROR"
    assert (await api.post("/auth/login", {"email": "finn@example.com", "password": "old password"})).status == 200


@pytest.mark.env({"WINDBACK_SMTP_URL": f"smtp://127.0.0.1:{SMTP_PORT}"})
@pytest.mark.gen_test(timeout=30)
async def test_forgot_password_for_an_unknown_email_answers_the_same_and_sends_nothing(api, smtp_inbox):
    await api.signup(email="gail@example.com")
    r = await api.post("/auth/forgot-password", {"email": "nobody@example.com"})
    assert r.status == 200 and r.data == {"sent": True}
    # A known address sent afterwards arrives; the unknown one never produced a message.
    await api.post("/auth/forgot-password", {"email": "gail@example.com"})
    await wait_for_mail(smtp_inbox)
    await asyncio.sleep(0.2)
    assert [m["To"] for m in smtp_inbox.messages if m["Subject"] == RESET_SUBJECT] == ["gail@example.com"]
    assert count(PasswordResetToken) == 1


@pytest.mark.gen_test
async def test_reset_with_an_unknown_token_or_bad_password(api):
    r = await api.post("/auth/reset-password", {"token": "made-up", "password": "new password"})
    assert r.status == 400 and r.error["details"][0]["field"] == "token"
    r = await api.post("/auth/reset-password", {"token": "made-up", "password": "é" * 40})
    assert r.status == 400 and r.error["details"][0]["field"] == "password"


# --- email verification (register sends a link; /auth/verify-email) --------------------------

@pytest.mark.env({"WINDBACK_SMTP_URL": f"smtp://127.0.0.1:{SMTP_PORT}"})
@pytest.mark.gen_test(timeout=30)
async def test_register_emails_a_single_use_verification_link(api, smtp_inbox):
    r = await api.post("/auth/register", {"email": "Vera@Example.com", "password": "correct horse", "name": "Vera"})
    assert r.status == 201
    session = r.data["token"]
    (message,) = await wait_for_mail(smtp_inbox, subject=VERIFY_SUBJECT)
    assert message["To"] == "vera@example.com"
    token = token_from(message, "verify-email")
    assert token not in r.text  # the token travels only by email
    assert count(EmailVerificationToken, EmailVerificationToken.token_hash == token) == 0  # stored hashed
    # Unverified: the account signs in and works as before.
    me = await api.get("/auth/me", token=session)
    assert me.status == 200 and me.data["email_verified"] is False
    assert (await api.post("/projects", {"name": "Vera's"}, token=session)).status == 201

    r = await api.post("/auth/verify-email", {"token": token})
    assert r.status == 200 and r.data == {"verified": True}
    assert (await api.get("/auth/me", token=session)).data["email_verified"] is True
    again = await api.post("/auth/verify-email", {"token": token})
    assert again.status == 400 and again.error["code"] == "VALIDATION_ERROR"
    assert again.error["details"][0]["field"] == "token"


@pytest.mark.env({"WINDBACK_SMTP_URL": f"smtp://127.0.0.1:{SMTP_PORT}"})
@pytest.mark.gen_test(timeout=30)
async def test_an_unknown_or_expired_verification_token_is_refused(api, smtp_inbox):
    session = await api.signup(email="walt@example.com")
    (message,) = await wait_for_mail(smtp_inbox, subject=VERIFY_SUBJECT)
    r = await api.post("/auth/verify-email", {"token": "made-up"})
    assert r.status == 400 and r.error["details"][0]["field"] == "token"
    execute("UPDATE email_verification_tokens SET expires_at = '2000-01-01 00:00:00'")
    r = await api.post("/auth/verify-email", {"token": token_from(message, "verify-email")})
    assert r.status == 400 and r.error["code"] == "VALIDATION_ERROR"
    assert (await api.get("/auth/me", token=session)).data["email_verified"] is False


# --- a password reset ends every earlier session and reset link -------------------------------

@pytest.mark.env({"WINDBACK_SMTP_URL": f"smtp://127.0.0.1:{SMTP_PORT}"})
@pytest.mark.gen_test(timeout=30)
async def test_a_password_reset_ends_earlier_sessions_and_other_reset_links(api, smtp_inbox):
    old_session = await api.signup(email="rita@example.com", password="old password")
    other_device = (await api.post("/auth/login", {"email": "rita@example.com", "password": "old password"})).data["token"]
    assert (await api.get("/projects", token=other_device)).status == 200
    for _ in range(2):
        assert (await api.post("/auth/forgot-password", {"email": "rita@example.com"})).status == 200
    first, second = [token_from(m) for m in await wait_for_mail(smtp_inbox, n=2)]

    assert (await api.post("/auth/reset-password", {"token": first, "password": "new password"})).status == 200
    for session in (old_session, other_device):
        for path in ("/auth/me", "/projects"):
            r = await api.get(path, token=session)
            assert r.status == 401 and r.error["code"] == "UNAUTHORIZED", (path, r)
    # The other outstanding link died with the reset.
    r = await api.post("/auth/reset-password", {"token": second, "password": "attacker's password"})
    assert r.status == 400 and r.error["details"][0]["field"] == "token"
    login = await api.post("/auth/login", {"email": "rita@example.com", "password": "new password"})
    assert login.status == 200
    me = await api.get("/auth/me", token=login.data["token"])
    # The link reached the inbox, so the address is proven as well.
    assert me.status == 200 and me.data["email_verified"] is True
