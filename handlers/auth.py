"""`/auth/*`: register (with an email verification link), verify-email, login, me, forgot and
reset password."""
from __future__ import annotations

import datetime as dt
import logging

import tornado.ioloop

from handlers.access import PUBLIC, SIGNED_IN
from handlers.base import BaseHandler
from handlers.errors import ApiError, bad_request, conflict, unauthorized
from handlers.responses import BOOLEAN, ME_OUT, SESSION_OUT, Returns, obj
from store.validation import Email, Schema, String
from services.mailer import DeliveryFailed, build_message
from services.security import PasswordTooLong, check_password, hash_password, issue_jwt
from store.keys import new_token, sha256_hex
from store import users
from store.db import run_db

log = logging.getLogger("windback.auth")
RESET_TTL = dt.timedelta(hours=1)
VERIFY_TTL = dt.timedelta(days=7)


class Password(String):
    """8+ characters; over 72 bytes is refused rather than silently truncated by bcrypt."""

    def __init__(self, **kw):
        super().__init__(min_length=8, max_length=1000, strip=False, **kw)

    def convert(self, value, path, from_query):
        value = super().convert(value, path, from_query)
        if len(value.encode("utf-8")) > 72:
            from store.validation import FieldError

            raise FieldError("must be at most 72 bytes (bcrypt's limit)")
        return value


REGISTER = Schema({"email": Email(required=True), "password": Password(required=True),
                   "name": String(max_length=200, nullable=True)})
LOGIN = Schema({"email": String(required=True, max_length=254), "password": String(required=True, strip=False, max_length=1000)})
FORGOT = Schema({"email": Email(required=True)})
TOKEN = String(required=True, min_length=1, max_length=200)
RESET = Schema({"token": TOKEN, "password": Password(required=True)})
VERIFY = Schema({"token": TOKEN})


def invalid_token(what: str) -> ApiError:
    return ApiError(400, "VALIDATION_ERROR", f"This {what} link is invalid, used or expired",
                    [{"field": "token", "message": "is invalid, used or expired"}])


class AuthHandler(BaseHandler):
    rate_limit_group = "auth"
    rules = {"POST": PUBLIC}

    def session(self, user) -> dict:
        token = issue_jwt(user.id, self.ctx.secret, self.ctx.settings.jwt_ttl_seconds, user.token_generation)
        return {"token": token, "user": users.user_json(user)}

    async def email_link(self, user, store_token, ttl: dt.timedelta, page: str, subject: str, text: str) -> None:
        """Email `user` a single-use link to `page` (its token stored only as a hash); `text`
        has a `{link}` placeholder. A delivery failure is logged: the answer was already sent."""
        token = new_token()
        await run_db(store_token, user.id, sha256_hex(token), ttl)
        link = f"{self.ctx.settings.public_url}/app/{page}?token={token}"
        greeting = f"Hello{' ' + user.name if user.name else ''},\n\n"
        message = build_message(self.ctx.settings.mail_from, user.email, subject, greeting + text.format(link=link))
        try:
            await self.ctx.mailer.send(message)
        except DeliveryFailed as error:
            log.warning("%s email for user %s not delivered: %s", page, user.id, error)


class RegisterHandler(AuthHandler):
    body_schemas = {"POST": REGISTER}
    response_schemas = {"POST": Returns(SESSION_OUT, status=201)}

    async def post(self):
        """Create an account and sign in."""
        body = self.parse_body()
        password_hash = await hash_password(body["password"], self.ctx.settings.bcrypt_rounds)
        try:
            user = await run_db(users.create_user, body["email"], body.get("name"), password_hash)
        except users.EmailTaken:
            raise conflict("An account with this email already exists") from None
        tornado.ioloop.IOLoop.current().spawn_callback(self.send_verification_email, user)
        await self.reply(self.session(user), status=201)

    async def send_verification_email(self, user) -> None:
        await self.email_link(
            user, users.store_verification_token, VERIFY_TTL, "verify-email", "Confirm your Windback email address",
            "Please confirm that this address is yours by opening this link within seven days:\n\n{link}\n\n"
            "If you did not create a Windback account, ignore this email.\n")


class VerifyEmailHandler(AuthHandler):
    body_schemas = {"POST": VERIFY}
    response_schemas = {"POST": Returns(obj({"verified": BOOLEAN}))}

    async def post(self):
        """Confirm the account's email address with the token from the verification email."""
        body = self.parse_body()
        if not await run_db(users.consume_verification_token, sha256_hex(body["token"])):
            raise invalid_token("verification")
        await self.reply({"verified": True})


class LoginHandler(AuthHandler):
    body_schemas = {"POST": LOGIN}
    response_schemas = {"POST": Returns(SESSION_OUT)}

    async def post(self):
        """Sign in with email and password."""
        body = self.parse_body()
        user = await run_db(users.user_by_email, body["email"])
        # The same check (and time) whether or not the account exists.
        ok = await check_password(body["password"], user.password_hash if user else None,
                                  self.ctx.settings.bcrypt_rounds)
        if not ok or user is None:
            raise unauthorized("Wrong email or password")
        await self.reply(self.session(user))


class MeHandler(BaseHandler):
    rules = {"GET": SIGNED_IN}
    response_schemas = {"GET": Returns(ME_OUT)}

    async def get(self):
        """The signed-in user and their projects."""
        data = await run_db(users.user_with_projects, self.user_id)
        if data is None:
            raise unauthorized("Invalid or expired token")
        await self.reply(data)


class ForgotPasswordHandler(AuthHandler):
    body_schemas = {"POST": FORGOT}
    response_schemas = {"POST": Returns(obj({"sent": BOOLEAN}))}

    async def post(self):
        """Email a password-reset link (always the same answer)."""
        body = self.parse_body()
        # Always the same answer; the email (if any) is sent after it, so timing tells nothing.
        tornado.ioloop.IOLoop.current().spawn_callback(self.send_reset_email, body["email"])
        await self.reply({"sent": True})

    async def send_reset_email(self, email: str) -> None:
        user = await run_db(users.user_by_email, email)
        if user is None:
            return
        await self.email_link(
            user, users.store_reset_token, RESET_TTL, "reset-password", "Reset your Windback password",
            "Someone asked to reset the password of your Windback account. If it was you, open this "
            "link within an hour:\n\n{link}\n\nIf it was not you, ignore this email; nothing changes.\n")


class ResetPasswordHandler(AuthHandler):
    body_schemas = {"POST": RESET}
    response_schemas = {"POST": Returns(obj({"reset": BOOLEAN}))}

    async def post(self):
        """Set a new password with the token from the reset email; every session and reset link
        issued before ends."""
        body = self.parse_body()
        try:
            password_hash = await hash_password(body["password"], self.ctx.settings.bcrypt_rounds)
        except PasswordTooLong:
            raise bad_request("must be at most 72 bytes", "password") from None
        if not await run_db(users.consume_reset_token, sha256_hex(body["token"]), password_hash):
            raise invalid_token("reset")
        await self.reply({"reset": True})


default_handlers = [
    (r"/api/v1/auth/register", RegisterHandler),
    (r"/api/v1/auth/login", LoginHandler),
    (r"/api/v1/auth/me", MeHandler),
    (r"/api/v1/auth/forgot-password", ForgotPasswordHandler),
    (r"/api/v1/auth/reset-password", ResetPasswordHandler),
    (r"/api/v1/auth/verify-email", VerifyEmailHandler),
]
