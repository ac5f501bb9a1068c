"""Core tables: users, projects and their keys, members, churn events, reset tokens,
idempotency keys and server-wide settings.

Feature modules keep their own tables beside their queries (e.g. `store/variants.py`). A new
column is added to the model here and by one migration in `store/migrations/`.
"""
from __future__ import annotations

import datetime as dt
import secrets

import peewee

from store.db import database

OPEN_STATUSES = ("new", "variants_ready", "contacted")
CHURN_STATUSES = ("new", "variants_ready", "contacted", "recovered", "lost", "saved")
CANCEL_REASONS = (
    "too_expensive",
    "missing_features",
    "switched_competitor",
    "not_using",
    "technical_issues",
    "poor_support",
    "temporary",
    "payment_failed",
    "other",
)
SOURCES = ("api", "stripe", "razorpay", "custom", "widget")
# The nine recovery emails: one per strategy x tone.
STRATEGIES = ("discount_offer", "value_reminder", "personal_check_in")
TONES = ("friendly", "professional", "urgent")
PLANS = ("free", "pro", "scale")
ROLES = ("owner", "admin", "member")


def utcnow() -> dt.datetime:
    """Naive UTC, as every timestamp column stores it."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


class BaseModel(peewee.Model):
    class Meta:
        database = database
        legacy_table_names = False


class ServerSetting(BaseModel):
    """Values every server process must share (e.g. the generated signing secret)."""

    key = peewee.CharField(primary_key=True, max_length=64)
    value = peewee.TextField()

    class Meta:
        table_name = "server_settings"


class User(BaseModel):
    id = peewee.CharField(primary_key=True, max_length=40, default=lambda: new_id("usr"))
    email = peewee.CharField(max_length=254, unique=True)  # stored lower-cased
    name = peewee.CharField(max_length=200, null=True)
    password_hash = peewee.CharField(max_length=100, null=True)  # null: Google-only account
    google_sub = peewee.CharField(max_length=255, null=True, unique=True)
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "users"


class Project(BaseModel):
    id = peewee.CharField(primary_key=True, max_length=40, default=lambda: new_id("prj"))
    slug = peewee.CharField(max_length=48, unique=True)
    name = peewee.CharField(max_length=200)
    plan = peewee.CharField(max_length=16, default="free")
    public_key = peewee.CharField(max_length=64, unique=True)
    settings = peewee.TextField(default="{}")  # JSON object; see store/projects.py
    created_at = peewee.DateTimeField(default=utcnow)
    updated_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "projects"


class ProjectKey(BaseModel):
    """Every key a project answers to. Secret keys are kept only as SHA-256 hashes; a rotated key
    keeps working until `expires_at` (null: current)."""

    project = peewee.ForeignKeyField(Project, backref="keys", on_delete="CASCADE")
    kind = peewee.CharField(max_length=8)  # secret | public
    lookup = peewee.CharField(max_length=128, unique=True)  # sha256 hex (secret) or the key (public)
    created_at = peewee.DateTimeField(default=utcnow)
    expires_at = peewee.DateTimeField(null=True)

    class Meta:
        table_name = "project_keys"


class Membership(BaseModel):
    project = peewee.ForeignKeyField(Project, backref="members", on_delete="CASCADE")
    user = peewee.ForeignKeyField(User, backref="memberships", on_delete="CASCADE")
    role = peewee.CharField(max_length=16)
    joined_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "memberships"
        indexes = ((("project", "user"), True),)


class ChurnEvent(BaseModel):
    id = peewee.CharField(primary_key=True, max_length=40, default=lambda: new_id("ce"))
    project = peewee.ForeignKeyField(Project, backref="churn_events", on_delete="CASCADE")
    customer_email = peewee.CharField(max_length=254, null=True)  # lower-cased
    customer_name = peewee.CharField(max_length=200, null=True)
    customer_id = peewee.CharField(max_length=200, null=True)
    plan = peewee.CharField(max_length=200, null=True)
    mrr_cents = peewee.BigIntegerField(default=0)
    currency = peewee.CharField(max_length=3, default="USD")
    cancel_reason = peewee.CharField(max_length=32, null=True)
    cancel_reason_detail = peewee.TextField(null=True)
    source = peewee.CharField(max_length=16, default="api")
    status = peewee.CharField(max_length=16, default="new")
    churned_at = peewee.DateTimeField(default=utcnow)
    recovered_at = peewee.DateTimeField(null=True)
    recovered_mrr_cents = peewee.BigIntegerField(null=True)
    recovered_by_variant_id = peewee.CharField(max_length=40, null=True)
    saved = peewee.BooleanField(default=False)
    metadata = peewee.TextField(default="{}")
    # The provider's own time of the last webhook applied to this event (ordering, SPEC 8).
    source_event_at = peewee.DateTimeField(null=True)
    created_at = peewee.DateTimeField(default=utcnow)
    updated_at = peewee.DateTimeField(default=utcnow)
    # The automatic win-back campaign the event joined (m0015; store/campaigns.py), null: none.
    campaign_group = peewee.CharField(max_length=10, null=True)  # holdout | treatment
    campaign_step = peewee.IntegerField(null=True)  # steps done (sent or skipped)
    campaign_next_send_at = peewee.DateTimeField(null=True)
    campaign_status = peewee.CharField(max_length=10, null=True)  # active | completed | ended
    campaign_ended_reason = peewee.CharField(max_length=32, null=True)

    class Meta:
        table_name = "churn_events"
        # Every list filter and sort, within a project. A sort column carries the id too, so a
        # page in (column, id) order is read straight off the index, never sorted.
        indexes = (
            (("project", "created_at", "id"), False),
            (("project", "updated_at", "id"), False),
            (("project", "churned_at", "id"), False),
            (("project", "recovered_at", "id"), False),
            (("project", "mrr_cents", "id"), False),
            (("project", "status", "id"), False),
            (("project", "customer_email", "id"), False),
            (("project", "source"), False),
            (("project", "cancel_reason"), False),
            (("project", "customer_id"), False),
        )


class PasswordResetToken(BaseModel):
    token_hash = peewee.CharField(primary_key=True, max_length=64)
    user = peewee.ForeignKeyField(User, on_delete="CASCADE")
    expires_at = peewee.DateTimeField()
    used_at = peewee.DateTimeField(null=True)

    class Meta:
        table_name = "password_reset_tokens"


class IdempotencyKey(BaseModel):
    scope = peewee.CharField(max_length=64)  # the credential: "project:<id>" or "user:<id>"
    key = peewee.CharField(max_length=255)
    method = peewee.CharField(max_length=8)
    path = peewee.CharField(max_length=500)
    body_hash = peewee.CharField(max_length=64)
    state = peewee.CharField(max_length=12, default="in_flight")  # in_flight | done
    response_status = peewee.IntegerField(null=True)
    response_body = peewee.TextField(null=True)
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "idempotency_keys"
        indexes = ((("scope", "key"), True), (("created_at",), False))


CORE_MODELS = [ServerSetting, User, Project, ProjectKey, Membership, ChurnEvent, PasswordResetToken, IdempotencyKey]
