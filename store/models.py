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
PLANS = ("free", "pro", "scale")
# Recovery emails: one variant per strategy x tone (store/variants.py).
STRATEGIES = ("discount_offer", "value_reminder", "personal_check_in")
TONES = ("friendly", "professional", "urgent")
VARIANT_STATUSES = ("draft", "edited", "sent", "failed")
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
    # The address was proven (verification link, reset link or Google): only then may a Google
    # identity join a password account (docs/roles.md).
    email_verified = peewee.BooleanField(default=False)
    # Carried as `gen` in every JWT; bumped by a password reset or a Google takeover, which ends
    # every JWT issued before it.
    token_generation = peewee.IntegerField(default=0)

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
    project = peewee.ForeignKeyField(Project, backref="members", on_delete="CASCADE", index=False)
    user = peewee.ForeignKeyField(User, backref="memberships", on_delete="CASCADE")
    role = peewee.CharField(max_length=16)
    joined_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "memberships"
        indexes = ((("project", "user"), True),)


class ChurnEvent(BaseModel):
    id = peewee.CharField(primary_key=True, max_length=40, default=lambda: new_id("ce"))
    # No index of its own: every index below starts with the project.
    project = peewee.ForeignKeyField(Project, backref="churn_events", on_delete="CASCADE", index=False)
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
    # The provider's own time of the last webhook applied to this event (ordering, docs/webhooks.md).
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
        # Only what a query plan uses (every insert maintains each index; the plans are in
        # docs/BENCHMARKS.md, "Indexes on churn_events", from bench/query_plans.py): the list's
        # default order, churned_at ranges (status filters, the lost sweep, cohorts and
        # forecasting), and a customer's events by email or id (repeated churns, webhooks, the
        # email filter and sort). Statistics use the covering indexes of m0008; a sort or filter
        # on another column reads the project's rows through one of these and sorts them.
        # (project, customer_id) is partial, for the events that have a customer id: created by
        # m0021, where peewee cannot declare it.
        indexes = (
            (("project", "created_at", "id"), False),
            (("project", "churned_at", "id"), False),
            (("project", "customer_email", "id"), False),
        )


class OneTimeToken(BaseModel):
    """The columns of an emailed single-use token, kept only as its SHA-256 (no table of its own)."""

    token_hash = peewee.CharField(primary_key=True, max_length=64)
    user = peewee.ForeignKeyField(User, on_delete="CASCADE")
    expires_at = peewee.DateTimeField()
    used_at = peewee.DateTimeField(null=True)


class PasswordResetToken(OneTimeToken):
    class Meta:
        table_name = "password_reset_tokens"


class EmailVerificationToken(OneTimeToken):
    class Meta:
        table_name = "email_verification_tokens"


class IdempotencyKey(BaseModel):
    scope = peewee.CharField(max_length=64)  # the credential: "project:<id>" or "user:<id>"
    key = peewee.CharField(max_length=255)
    method = peewee.CharField(max_length=8)
    path = peewee.CharField(max_length=500)
    body_hash = peewee.CharField(max_length=64)
    # in_flight | done | withheld (the answer carried a secret: nothing of it is kept)
    state = peewee.CharField(max_length=12, default="in_flight")
    response_status = peewee.IntegerField(null=True)
    response_body = peewee.TextField(null=True)
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "idempotency_keys"
        indexes = ((("scope", "key"), True), (("created_at",), False))


CORE_MODELS = [ServerSetting, User, Project, ProjectKey, Membership, ChurnEvent, PasswordResetToken, IdempotencyKey]
