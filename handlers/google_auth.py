"""`POST /auth/google {id_token}`: sign in with a Google ID token (docs/roles.md, "Sign in with Google").

The token must be RS256, signed by a key of the JWKS at `WINDBACK_GOOGLE_JWKS_URL`, for our
client id (`aud`), issued by Google (`iss`), unexpired, with `email_verified` true. The user is
found by Google subject, linked by email or created; the answer is the one of login.
"""
from __future__ import annotations

import logging

import jwt

from handlers.auth import AuthHandler
from handlers.errors import ApiError, bad_request, unauthorized
from handlers.responses import SESSION_OUT, Returns
from store.validation import Schema, String
from services.google_jwks import GoogleKeys, JwksUnavailable
from store.db import run_db
from store.google_accounts import user_for_google

log = logging.getLogger("windback.google")
GOOGLE_ISSUERS = ("accounts.google.com", "https://accounts.google.com")
CLOCK_SKEW_SECONDS = 30
GOOGLE = Schema({"id_token": String(required=True, min_length=1, max_length=16384)})


class GoogleSignInHandler(AuthHandler):
    """Sign in (or sign up) with a Google ID token."""

    body_schemas = {"POST": GOOGLE}
    response_schemas = {"POST": Returns(SESSION_OUT)}

    async def post(self):
        body = self.parse_body(GOOGLE)
        client_id = self.ctx.settings.google_client_id
        if not client_id:
            raise bad_request("Sign-in with Google is not configured on this server "
                              "(the operator sets WINDBACK_GOOGLE_CLIENT_ID)")
        claims = await self.verify(body["id_token"], client_id)
        name = claims.get("name") if isinstance(claims.get("name"), str) else None
        user = await run_db(user_for_google, claims["sub"], claims["email"], name[:200] if name else None)
        await self.reply(self.session(user))

    def google_keys(self) -> GoogleKeys:
        """One cache per process, made on first use."""
        return self.ctx.service("google_keys", lambda: GoogleKeys(self.ctx.settings.google_jwks_url))

    async def verify(self, id_token: str, client_id: str) -> dict:
        refused = unauthorized("The Google ID token is not valid")
        try:
            header = jwt.get_unverified_header(id_token)
        except jwt.InvalidTokenError:
            raise refused from None
        if header.get("alg") != "RS256" or not isinstance(header.get("kid"), str):
            raise refused
        try:
            key = await self.google_keys().key_for(header["kid"])
        except JwksUnavailable as error:
            log.warning("Google sign-in unavailable: %s", error)
            raise ApiError(503, "UNAVAILABLE", "Google's signing keys could not be fetched; try again") from None
        if key is None:
            raise refused
        try:
            claims = jwt.decode(id_token, key.key, algorithms=["RS256"], audience=client_id,
                                leeway=CLOCK_SKEW_SECONDS, options={"require": ["exp", "iat", "iss", "aud", "sub"]})
        except jwt.InvalidTokenError as error:
            log.info("Google ID token refused: %s", error)
            raise refused from None
        # Checked here rather than by `issuer=`: PyJWT's handling of several issuers changed
        # across the versions setup.py allows (2.9 lists only, 2.10 a partial-match bug).
        if claims["iss"] not in GOOGLE_ISSUERS:
            raise refused
        if claims.get("email_verified") not in (True, "true"):
            raise unauthorized("The Google account's email address is not verified")
        email = claims.get("email")
        if not isinstance(email, str) or "@" not in email or len(email) > 254:
            raise refused
        if not isinstance(claims["sub"], str) or not 0 < len(claims["sub"]) <= 255:
            raise refused
        return claims


default_handlers = [
    (r"/api/v1/auth/google", GoogleSignInHandler),
]
