"""`BaseHandler`: the one place that owns the envelope, errors, JSON parsing, authentication
(deny by default), rate limits, pagination and `Idempotency-Key`.

A feature handler declares who may call each method (`rules`), its rate-limit group, and its
input schemas; its methods parse, call the project actor or the store, and `await self.reply()`.
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
import uuid

import tornado.httputil
import tornado.ioloop
import tornado.web

from handlers.access import PUBLIC, Rule
from handlers.https import is_https
from handlers.errors import STATUS_CODES, ApiError, DomainError, forbidden, http_status, not_found, unauthorized
from store.input_rules import text_problem, unsafe_text_paths
from store.validation import Choice, Integer, Schema, validation_error
from services.context import Context, KeyOwner
from services.security import read_jwt
from store.keys import mask_key_in_text, sha256_hex
from store import idempotency, projects, users
from store.db import run_db

log = logging.getLogger("windback.request")
MAX_BODY_BYTES = 1024 * 1024
ROLE_RANK = projects.ROLE_RANK
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._\-]{1,128}$")
# In JSON text a NUL or a surrogate can only arrive as a \u escape: a body without one needs no walk.
_UNSAFE_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


PAGE_FIELDS = {
    # Bounded so that (page - 1) * per_page fits a 64-bit OFFSET (a 500 found by schemathesis).
    "page": Integer(minimum=1, maximum=1_000_000, default=1),
    "per_page": Integer(minimum=1, maximum=100, default=20),
    "order": Choice(("asc", "desc"), default="desc"),
}


def list_query_schema(sort_fields: tuple[str, ...], default_sort: str = "created_at", **filters) -> Schema:
    fields = dict(PAGE_FIELDS)
    fields["sort"] = Choice(sort_fields, default=default_sort)
    fields.update(filters)
    return Schema(fields, allow_unknown=True)


class BaseHandler(tornado.web.RequestHandler):
    rules: dict[str, Rule] = {}  # method -> Rule; a method without one is refused
    rate_limit_group = "general"
    # Declared once, used by `parse_body`/`parse_query` and by the OpenAPI document
    # (handlers/openapi.py): method -> Schema, and method -> handlers.responses.Returns.
    body_schemas: dict[str, Schema] = {}
    query_schemas: dict[str, Schema] = {}
    response_schemas: dict = {}
    body_optional: tuple[str, ...] = ()  # methods whose body may be left out (then `{}`)

    # Set by `prepare`.
    user_id: str | None = None
    key_owner: KeyOwner | None = None
    project = None  # store.models.Project, for routes with a slug
    role: str | None = None

    def initialize(self, **kwargs) -> None:
        self._rate_headers: dict[str, str] | None = None  # kept: an error answer clears headers
        self._idempotency = None  # (scope, key) while this request holds an Idempotency-Key
        self._counted = True
        self.ctx.in_flight += 1

    @property
    def ctx(self) -> Context:
        return self.application.settings["ctx"]

    # --- response -------------------------------------------------------------------------

    def set_default_headers(self) -> None:
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Content-Type-Options", "nosniff")
        if getattr(self, "request_id", None) is None:  # also called again by clear() on errors
            given = self.request.headers.get("X-Request-Id", "")
            self.request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        self.set_header("X-Request-Id", self.request_id)

    def compute_etag(self):
        return None  # handlers that support conditional GETs call `not_modified`

    def not_modified(self, etag: str) -> bool:
        """Send `etag`; when the request's `If-None-Match` names it (weak or strong) or `*`,
        answer 304 with no body and return True."""
        self.set_header("ETag", etag)
        tags = [tag.strip().removeprefix("W/") for tag in self.request.headers.get("If-None-Match", "").split(",")]
        if etag not in tags and "*" not in tags:
            return False
        self.set_status(304)
        self.clear_header("Content-Type")
        self.finish()
        return True

    def log_exception(self, typ, value, tb) -> None:
        if isinstance(value, (DomainError, tornado.web.HTTPError)):
            return  # an answer, not a failure; the request line is logged by log_request
        log.error("unhandled error in %s %s (request %s)", self.request.method,
                  mask_key_in_text(self.request.path), getattr(self, "request_id", "-"),
                  exc_info=(typ, value, tb))

    def write_json(self, status: int, payload) -> None:
        self.set_status(status)
        self.finish(json.dumps(payload, separators=(",", ":"), ensure_ascii=False))

    async def reply(self, data, status: int = 200, meta: dict | None = None, secret: bool = False) -> None:
        """Answer `{"data": ..., "meta": ...}`; an Idempotency-Key keeps a 2xx answer 24 h, unless
        it carries a `secret` (shown once: a replay is refused instead)."""
        payload = {"data": data}
        if meta is not None:
            payload["meta"] = meta
        if status == 204:
            self.set_status(204)
            self.clear_header("Content-Type")
            self.finish()
            return
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
        if self._idempotency:
            scope, key = self._idempotency
            await run_db(idempotency.complete, scope, key, status, None if secret else body)
            self._idempotency = None
        self.set_status(status)
        self.finish(body)

    def page_meta(self, query: dict, total: int) -> dict:
        return {"page": query["page"], "per_page": query["per_page"], "total": total}

    @staticmethod
    def offset(query: dict) -> int:
        return (query["page"] - 1) * query["per_page"]

    def write_error(self, status_code: int, **kwargs) -> None:
        error = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(error, DomainError):
            api_error = error if isinstance(error, ApiError) else ApiError(
                http_status(error), error.code, error.message, error.details, error.headers)
        elif isinstance(error, tornado.web.HTTPError) and status_code in STATUS_CODES:
            api_error = ApiError(status_code, STATUS_CODES[status_code], _http_message(status_code, error))
        else:
            api_error = ApiError(500, "INTERNAL_ERROR", "Something went wrong on our side; it has been logged")
        if self.ctx.limiter.enabled:
            # send_error() cleared the headers: put back those of the bucket this request used
            # (or show the client IP's bucket when it failed before one was chosen).
            headers = self._rate_headers or self.ctx.limiter.peek("general", "ip:" + self.client_ip).headers()
            self._set_rate_headers(headers)
        for name, value in api_error.headers.items():
            self.set_header(name, value)
        if api_error.status == 405:
            allowed = [m for m in self.rules if m in self.SUPPORTED_METHODS]
            if allowed:
                self.set_header("Allow", ", ".join(allowed))
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_status(api_error.status)
        self.finish(json.dumps(api_error.envelope(), separators=(",", ":")))

    def on_finish(self) -> None:
        if self._counted:
            self._counted = False
            self.ctx.in_flight -= 1
        if self._idempotency:  # the request failed: let a retry run again
            scope, key = self._idempotency
            self._idempotency = None
            tornado.ioloop.IOLoop.current().spawn_callback(run_db, idempotency.release, scope, key)

    # --- request --------------------------------------------------------------------------

    @property
    def client_ip(self) -> str:
        peer = self.request.remote_ip or ""
        if peer in self.ctx.settings.trusted_proxies:
            forwarded = [p.strip() for p in self.request.headers.get("X-Forwarded-For", "").split(",") if p.strip()]
            while forwarded and forwarded[-1] in self.ctx.settings.trusted_proxies:
                forwarded.pop()
            if forwarded:
                return forwarded[-1]
        return peer

    def is_https(self) -> bool:
        return is_https(self.request, self.ctx.settings.trusted_proxies)

    def require_https(self) -> None:
        if self.ctx.settings.require_https and not self.is_https() and self.request.path != "/health":
            raise forbidden("HTTPS is required")

    def json_body(self):
        """The parsed JSON body: any JSON value; see `parse_body` for objects with a schema."""
        raw = self.request.body
        if not raw:
            raise ApiError(400, "VALIDATION_ERROR", "A JSON body is required",
                           [{"field": "body", "message": "This field is required"}])
        try:
            value = json.loads(raw.decode("utf-8"))
            if _UNSAFE_ESCAPE.search(raw):
                # A lone surrogate or NUL anywhere (a field without a schema included) cannot be
                # stored or encoded again: 400 naming where, never a 500 further down.
                unsafe = unsafe_text_paths(value)
                if unsafe:
                    raise validation_error(unsafe)
            return value
        except UnicodeDecodeError:
            message = "The body is not valid UTF-8"
        except RecursionError:
            message = "The JSON body is nested too deeply"
        except ValueError as error:
            message = f"The body is not valid JSON: {error}"
        raise ApiError(400, "VALIDATION_ERROR", message, [{"field": "body", "message": message}])

    def parse_body(self, schema: Schema | None = None, partial: bool = False) -> dict:
        """The body validated by `schema`, by default the method's entry in `body_schemas`."""
        schema = schema or self.body_schemas[self.request.method]
        if not self.request.body and self.request.method in self.body_optional:
            return schema.validate({}, partial=partial)
        body = self.json_body()
        if not isinstance(body, dict):
            raise ApiError(400, "VALIDATION_ERROR", "The body must be a JSON object",
                           [{"field": "body", "message": "must be a JSON object"}])
        return schema.validate(body, partial=partial)

    def parse_query(self, schema: Schema | None = None) -> dict:
        schema = schema or self.query_schemas[self.request.method]
        args = {name: values[-1].decode("utf-8", "replace") for name, values in self.request.query_arguments.items()}
        return schema.validate(args, from_query=True)

    async def prepare(self) -> None:
        self.require_https()
        rule = self.rules.get(self.request.method)
        if rule is None:
            raise ApiError(405, "METHOD_NOT_ALLOWED", f"{self.request.method} is not allowed here")
        if len(self.request.body or b"") > MAX_BODY_BYTES:
            raise ApiError(413, "PAYLOAD_TOO_LARGE", "The body is larger than 1 MiB")
        await self.authenticate(rule)
        self.apply_rate_limit(self.rate_limit_key())
        if any(text_problem(value) for value in self.path_kwargs.values()):
            # No slug, id or key holds a control character: malformed, so unknown (and never a
            # query that the database refuses).
            raise not_found("Resource")
        slug = self.path_kwargs.get("slug")
        if slug is not None and (rule.user or rule.key):
            await self.resolve_project(slug, rule)
        if self.request.method == "POST" and self.request.headers.get("Idempotency-Key") and (self.user_id or self.key_owner):
            await self.claim_idempotency_key()

    # --- authentication -------------------------------------------------------------------

    async def authenticate(self, rule: Rule) -> None:
        if rule == PUBLIC:
            # A public endpoint ignores credentials, good or bad: clients that send theirs on
            # every request (SDKs, API explorers, health checks) are not refused.
            return
        api_key = self.request.headers.get("X-API-Key")
        bearer = self.request.headers.get("Authorization", "")
        if api_key is not None:
            if not api_key.startswith("sk_"):
                self.refuse_credential("Public keys (pub_) are only accepted by the cancel flow and webhooks; "
                                       "use a secret key in X-API-Key" if api_key.startswith("pub_") else
                                       "Invalid API key")
            owner = await self.owner_of_key(api_key)
            if owner is None:
                self.refuse_credential("Invalid API key")
            if not rule.key:
                raise forbidden("An API key cannot be used here; sign in as a user")
            self.key_owner = owner
            return
        if bearer:
            scheme, _, token = bearer.partition(" ")
            claims = read_jwt(token.strip(), self.ctx.secret) if scheme.lower() == "bearer" else None
            # One query, as when it only checked that the user exists: a reset (or a Google
            # takeover) moved the user's token generation on, and older tokens stop here.
            if claims is None or await run_db(users.token_generation, claims[0]) != claims[1]:
                self.refuse_credential("Invalid or expired token")
            user_id = claims[0]
            if not rule.user:
                raise forbidden("This endpoint needs a project's secret key in X-API-Key")
            self.user_id = user_id
            return
        if not rule.public:
            self.refuse_credential("Authentication required: send Authorization: Bearer <token> or X-API-Key")

    def refuse_credential(self, message: str):
        """A failed credential spends the client IP's tokens, so guessing keys is rate limited."""
        self.apply_rate_limit("ip:" + self.client_ip)
        raise unauthorized(message)

    async def owner_of_key(self, api_key: str) -> KeyOwner | None:
        key_hash = sha256_hex(api_key)
        owner = self.ctx.keys.get(key_hash)
        if owner is None:
            generations = self.ctx.cache_generations()
            found = await run_db(projects.secret_key_owner, api_key)
            if found is None:
                return None
            project, expires_at = found
            # The key's row came with its project's: both are cached, so a project not seen
            # lately costs one database read to authenticate, not two.
            owner = self.ctx.remember_key(key_hash, project, expires_at, generations)
        return owner

    async def resolve_project(self, slug: str, rule: Rule) -> None:
        """The project of the path, if this credential may act on it (else 404 or 403)."""
        if self.key_owner is not None:
            if self.key_owner.slug != slug:
                raise not_found("Project")
            self.project = self.ctx.projects.get(self.key_owner.project_id)
            if self.project is None:
                generation = self.ctx.projects.generation()
                self.project = await run_db(projects.project_by_slug, slug)
                if self.project is None:
                    raise not_found("Project")
                self.ctx.projects.put(self.project.id, self.project.id, self.project, generation)
            return
        found = await run_db(projects.membership, slug, self.user_id)
        if found is None:
            raise not_found("Project")
        self.project, self.role = found
        if rule.role and ROLE_RANK[self.role] < ROLE_RANK[rule.role]:
            raise forbidden(f"This needs the {rule.role} role in the project; you are {self.role}")

    # --- rate limits ----------------------------------------------------------------------

    def rate_limit_key(self) -> str:
        if self.key_owner is not None:
            return "key:" + sha256_hex(self.request.headers["X-API-Key"])[:32]
        if self.user_id is not None:
            return "user:" + self.user_id
        return "ip:" + self.client_ip

    def rate_limit_plan(self) -> str | None:
        return None

    def apply_rate_limit(self, key: str, cost: int = 1, group: str | None = None) -> None:
        limiter = self.ctx.limiter
        if not limiter.enabled:
            return
        decision = limiter.hit(group or self.rate_limit_group, key, self.rate_limit_plan(), cost)
        headers = decision.headers()
        self._set_rate_headers(headers)
        if not decision.allowed:
            raise ApiError(429, "RATE_LIMITED", f"Too many requests; retry in {decision.retry_after} s",
                           headers={"Retry-After": headers["Retry-After"]})

    def _set_rate_headers(self, headers: dict[str, str]) -> None:
        for name, value in headers.items():
            self.set_header(name, value)
        self._rate_headers = headers

    # --- idempotency ----------------------------------------------------------------------

    async def claim_idempotency_key(self) -> None:
        given = self.request.headers["Idempotency-Key"]
        if len(given) > 255:
            raise ApiError(400, "VALIDATION_ERROR", "Idempotency-Key must be at most 255 characters",
                           [{"field": "Idempotency-Key", "message": "must be at most 255 characters"}])
        scope = f"project:{self.key_owner.project_id}" if self.key_owner else f"user:{self.user_id}"
        # Scoped to the credential, method and path (docs/api.md): the same key on another endpoint
        # is another record.
        key = hashlib.sha256(f"{self.request.method} {self.request.path} {given}".encode()).hexdigest()
        body_hash = hashlib.sha256(self.request.body or b"").hexdigest()
        # The stored path is masked: a path may carry a secret (an invitation token).
        outcome = await run_db(idempotency.claim, scope, key, self.request.method,
                               mask_key_in_text(self.request.path), body_hash)
        if outcome.kind == "claimed":
            self._idempotency = (scope, key)
        elif outcome.kind == "replay":
            self.set_header("Idempotent-Replayed", "true")
            self.set_status(outcome.status)
            self.finish(outcome.body)
        else:
            raise ApiError(409, "CONFLICT", outcome.message)


class NotFoundHandler(BaseHandler):
    """Unknown routes: the envelope's 404 for every method."""

    rules = {m: PUBLIC for m in ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")}

    async def prepare(self) -> None:
        self.require_https()
        self.apply_rate_limit("ip:" + self.client_ip)
        raise ApiError(404, "NOT_FOUND", f"No route for {self.request.method} {self.request.path}")


def _http_message(status: int, error: tornado.web.HTTPError) -> str:
    if status == 405:
        return "This method is not allowed here"
    if status == 413:
        return "The body is larger than 1 MiB"
    return error.log_message or tornado.httputil.responses.get(status, "Error")
