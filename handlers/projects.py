"""`/projects`: create, list, get, update settings, rotate keys."""
from __future__ import annotations

from handlers.access import PROJECT_ADMIN, PROJECT_MEMBER, SIGNED_IN
from handlers.base import BaseHandler, list_query_schema
from handlers.errors import ApiError, conflict, forbidden
from handlers.responses import (CREATED_PROJECT_OUT, PROJECT_DETAIL_OUT, PROJECT_DETAIL_WITH_IDENTITY_OUT,
                                PROJECT_WITH_ROLE_OUT, ROTATED_KEYS_OUT, Returns)
from handlers.webhooks import webhook_urls
from services.billing.credentials import BILLING_SETTINGS, credential_box, identity_secret
from store.validation import Boolean, Field, FieldError, Integer, ListOf, MailFrom, Nested, Schema, String
from store import customer_scores, projects
from store.campaign_settings import CampaignSettings
from store.cancel_flow import CancelFlowSettings
from store.db import run_db
from store.risk import RiskSettings


class Hours(Field):
    """Hours after the failed payment: a number >= 0 (fractions allowed), at most a year."""

    type_name = "number"

    def convert(self, value, path, from_query):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
            raise FieldError("must be a number of hours")
        if not 0 <= value <= 24 * 366:
            raise FieldError("must be between 0 and 8784 hours")
        return value

    def _schema(self):
        return {"type": "number", "minimum": 0, "maximum": 24 * 366}


def _steps_in_order(dunning: dict) -> list[dict]:
    hours = [step["after_hours"] for step in dunning.get("steps") or []]
    if hours != sorted(hours):
        return [{"field": "dunning.steps", "message": "steps must be in order of after_hours"}]
    return []


def _webhook_secret():
    return String(min_length=8, max_length=500, nullable=True)


SETTINGS = Schema({
    "mail_from": MailFrom(nullable=True),
    "brand_name": String(max_length=200, nullable=True),
    "lost_after_days": Integer(minimum=1, maximum=3650),
    "stripe_webhook_secret": _webhook_secret(),
    "razorpay_webhook_secret": _webhook_secret(),
    "custom_webhook_secret": _webhook_secret(),
    "cancel_flow": CancelFlowSettings(nullable=True),  # null: back to the defaults
    "risk": RiskSettings(nullable=True),  # null: back to the defaults (docs/customers.md)
    "dunning": Nested(Schema({
        "enabled": Boolean(),
        "steps": ListOf(Nested(Schema({"after_hours": Hours(required=True)})), min_items=0, max_items=10),
    }, check=_steps_in_order), nullable=True),  # null: back to the defaults
    "campaign": CampaignSettings(),
    "billing": Nested(BILLING_SETTINGS, nullable=True),  # null: disconnect (docs/offers.md)
    "offer_cooldown_days": Integer(minimum=0, maximum=3650),
})
CREATE = Schema({
    "name": String(required=True, min_length=1, max_length=200),
    "slug": String(min_length=3, max_length=48, pattern=r"[a-z0-9-]{3,48}",
                   pattern_message="must be 3-48 characters of a-z, 0-9 and -"),
})
PATCH = Schema({"name": String(min_length=1, max_length=200), "settings": Nested(SETTINGS),
                "slug": String(), "plan": String()})
ROTATE = Schema({"grace_seconds": Integer(minimum=0, maximum=86400, default=0), "public_key": Boolean(default=False),
                 "identity": Boolean(default=False)})
LIST = list_query_schema(("created_at",))


class ProjectsHandler(BaseHandler):
    rules = {"GET": SIGNED_IN, "POST": SIGNED_IN}
    query_schemas = {"GET": LIST}
    body_schemas = {"POST": CREATE}
    response_schemas = {"GET": Returns(PROJECT_WITH_ROLE_OUT, paged=True),
                        "POST": Returns(CREATED_PROJECT_OUT, status=201)}

    async def get(self):
        """The projects the signed-in user is a member of."""
        query = self.parse_query()
        rows, total = await run_db(projects.list_projects, self.user_id, self.offset(query), query["per_page"])
        await self.reply(rows, meta=self.page_meta(query, total))

    async def post(self):
        """Create a project; the answer shows its secret key, once."""
        body = self.parse_body()
        try:
            project, secret_key = await run_db(projects.create_project, self.user_id, body["name"], body.get("slug"))
        except projects.SlugTaken:
            raise conflict(f"The slug {body.get('slug')!r} is taken") from None
        data = projects.project_json(project)
        data["secret_key"] = secret_key
        data["role"] = "owner"
        await self.reply(data, status=201, secret=True)


class ProjectHandler(BaseHandler):
    rules = {"GET": PROJECT_MEMBER, "PATCH": PROJECT_ADMIN}
    body_schemas = {"PATCH": PATCH}
    response_schemas = {"GET": Returns(PROJECT_DETAIL_WITH_IDENTITY_OUT), "PATCH": Returns(PROJECT_DETAIL_OUT)}

    def project_detail(self, project, reveal: tuple[str, ...] = ()) -> dict:
        """The project plus the URLs that point at this server from outside, built from
        WINDBACK_PUBLIC_URL (what providers and customers' pages reach), never a browser's origin."""
        data = projects.project_json(project, reveal=reveal)
        public_url = self.ctx.settings.public_url
        data["webhook_urls"] = webhook_urls(public_url, project.public_key)
        data["widget_url"] = f"{public_url}/widget.js"
        return data

    async def get(self, slug):
        """One project; owners and admins also see its identity secret (docs/offers.md)."""
        data = self.project_detail(self.project)
        if self.role in ("owner", "admin"):
            data["identity_secret"] = await identity_secret(self.ctx, self.project.id)
        await self.reply(data)

    async def patch(self, slug):
        """Rename a project or change its settings (merged key by key)."""
        body = self.parse_body(partial=True)
        if "slug" in body:
            raise ApiError(400, "VALIDATION_ERROR", "A project's slug never changes",
                           [{"field": "slug", "message": "cannot be changed"}])
        if "plan" in body:
            raise forbidden("The plan cannot be changed by members of the project")
        settings = body.get("settings")
        if settings and settings.get("billing"):  # credentials are sealed before they are stored
            stored = projects.project_settings(self.project).get("billing")
            settings["billing"] = credential_box(self.ctx).stored_form(settings["billing"], stored)
        project, revealed = await run_db(projects.update_project, self.project.id, body.get("name"), settings)
        self.ctx.project_changed(project.id)  # caches of settings forget them at once
        if "risk" in (body.get("settings") or {}):
            await run_db(customer_scores.score_all_again, project.id)
        await self.reply(self.project_detail(project, reveal=revealed))


class RotateKeysHandler(BaseHandler):
    rules = {"POST": PROJECT_ADMIN}
    body_schemas = {"POST": ROTATE}
    body_optional = ("POST",)
    response_schemas = {"POST": Returns(ROTATED_KEYS_OUT)}

    async def post(self, slug):
        """Rotate the project's secret key (and optionally its public key)."""
        body = self.parse_body()
        result = await run_db(projects.rotate_keys, self.project.id, body["grace_seconds"], body["public_key"])
        if body["identity"]:
            result["identity_secret"] = await identity_secret(self.ctx, self.project.id, rotate=True)
        self.ctx.project_changed(self.project.id)
        await self.reply(result, secret=True)


default_handlers = [
    (r"/api/v1/projects", ProjectsHandler),
    (r"/api/v1/projects/(?P<slug>[^/]+)", ProjectHandler),
    (r"/api/v1/projects/(?P<slug>[^/]+)/rotate-keys", RotateKeysHandler),
]
