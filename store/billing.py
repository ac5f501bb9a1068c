"""Billing actions: an offer carried out in the merchant's Stripe or Razorpay account.

An action row gets its id (`ba_...`) before the provider is called; that id is the provider's
idempotency key. Its state moves `pending -> applied | failed` only through the guarded UPDATEs
below (`WHERE status = 'pending'`), so a second process or a resumed crash finishes it once.

One offer per customer: while an action is pending, or applied less than the project's
`offer_cooldown_days` ago, it holds the customer's slot (`holds_customer` = the customer id, a
unique index per project). A second action for the customer is refused by that index even when
two processes race; a failed action, or one whose cooldown ended, lets go of the slot.
"""
from __future__ import annotations

import datetime as dt
import secrets

import peewee

from store import customers
from store.db import transaction
from store.errors import conflict
from store.models import BaseModel, Project, new_id, utcnow
from store.outbound import record_event
from store.projects import DEFAULT_OFFER_COOLDOWN_DAYS, project_settings
from store.serialize import dumps, iso, loads_object

ACTION_KINDS = ("discount", "pause", "downgrade", "reactivate", "checkout")
ACTION_STATUSES = ("pending", "applied", "failed")
CHANNELS = ("widget", "email")


class BillingAction(BaseModel):
    id = peewee.CharField(primary_key=True, max_length=40, default=lambda: new_id("ba"))
    project = peewee.ForeignKeyField(Project, on_delete="CASCADE", index=False)
    churn_event_id = peewee.CharField(max_length=40, null=True)
    variant_id = peewee.CharField(max_length=40, null=True)
    customer_id = peewee.CharField(max_length=200)
    provider = peewee.CharField(max_length=16)
    kind = peewee.CharField(max_length=16)
    channel = peewee.CharField(max_length=16)
    status = peewee.CharField(max_length=16, default="pending")
    offer = peewee.TextField(default="{}")  # the offer as configured when it was accepted
    subscription_id = peewee.CharField(max_length=200, null=True)  # as asked for; params has the one used
    provider_object_id = peewee.CharField(max_length=200, null=True)
    params = peewee.TextField(null=True)  # JSON: what is sent to the provider (never a secret)
    answer = peewee.TextField(default="{}")  # JSON: the customer's answer, to finish after a crash
    error = peewee.TextField(null=True)
    holds_customer = peewee.CharField(max_length=200, null=True)  # see the module docstring
    created_at = peewee.DateTimeField(default=utcnow)
    completed_at = peewee.DateTimeField(null=True)

    class Meta:
        table_name = "billing_actions"
        indexes = (
            (("project", "holds_customer"), True),
            (("project", "created_at"), False),
            (("project", "customer_id"), False),
            (("status", "created_at"), False),
        )


class BillingCoupon(BaseModel):
    """A provider coupon made for one offer of a project, reused by every later action."""

    project = peewee.ForeignKeyField(Project, on_delete="CASCADE", index=False)
    provider = peewee.CharField(max_length=16)
    offer_key = peewee.CharField(max_length=100)  # e.g. "discount:20:3"
    coupon_id = peewee.CharField(max_length=200)
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "billing_coupons"
        indexes = ((("project", "provider", "offer_key"), True),)


class ProjectIdentity(BaseModel):
    """The secret a merchant's server signs its customers' ids with (`auth_hash`), sealed like
    the billing credentials (services/billing/credentials.py): it must be read back to check a
    hash, so it cannot be stored as a hash."""

    project = peewee.ForeignKeyField(Project, primary_key=True, on_delete="CASCADE")
    sealed_secret = peewee.TextField()
    rotated_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "project_identities"


BILLING_MODELS = [BillingAction, BillingCoupon, ProjectIdentity]


# --- identity secret ----------------------------------------------------------------------

def new_identity_secret() -> str:
    return "isec_" + secrets.token_urlsafe(32)


def sealed_identity(project_id: str) -> str | None:
    row = ProjectIdentity.get_or_none(ProjectIdentity.project == project_id)
    return row.sealed_secret if row else None


def save_identity(project_id: str, sealed: str, replace: bool) -> str:
    """Store a sealed identity secret; without `replace`, one already there wins (two processes
    making the first one agree). Returns the sealed secret now stored."""
    with transaction():
        if replace:
            ProjectIdentity.insert(project=project_id, sealed_secret=sealed).on_conflict(
                conflict_target=[ProjectIdentity.project],
                update={ProjectIdentity.sealed_secret: sealed, ProjectIdentity.rotated_at: utcnow()}).execute()
        else:
            ProjectIdentity.insert(project=project_id, sealed_secret=sealed).on_conflict_ignore().execute()
        return ProjectIdentity.get(ProjectIdentity.project == project_id).sealed_secret


# --- actions ------------------------------------------------------------------------------

def action_json(action: BillingAction) -> dict:
    return {
        "id": action.id,
        "churn_event_id": action.churn_event_id,
        "variant_id": action.variant_id,
        "customer_id": action.customer_id,
        "provider": action.provider,
        "kind": action.kind,
        "channel": action.channel,
        "status": action.status,
        "provider_object_id": action.provider_object_id,
        "params": loads_object(action.params),
        "error": action.error,
        "created_at": iso(action.created_at),
        "completed_at": iso(action.completed_at),
    }


def begin_action(project_id: str, *, customer_id: str, provider: str, kind: str, channel: str, offer: dict,
                 cooldown_days: int, churn_event_id: str | None = None, variant_id: str | None = None,
                 subscription_id: str | None = None, answer: dict | None = None) -> BillingAction:
    """A pending action holding the customer's offer slot; 409 while another holds it."""
    now = utcnow()
    with transaction():
        # An applied offer older than the cooldown lets go of the slot.
        (BillingAction.update(holds_customer=None)
         .where((BillingAction.project == project_id) & (BillingAction.holds_customer == customer_id)
                & (BillingAction.status == "applied")
                & (BillingAction.completed_at <= now - dt.timedelta(days=cooldown_days)))
         .execute())
        holder = BillingAction.get_or_none((BillingAction.project == project_id)
                                           & (BillingAction.holds_customer == customer_id))
        if holder is not None:
            raise _slot_taken(holder, cooldown_days)
        try:
            with transaction():  # a savepoint: the unique index refuses a racing second action
                return BillingAction.create(
                    project=project_id, customer_id=customer_id, provider=provider, kind=kind, channel=channel,
                    offer=dumps(offer), churn_event_id=churn_event_id, variant_id=variant_id,
                    subscription_id=subscription_id, answer=dumps(answer or {}), holds_customer=customer_id,
                    created_at=now)
        except peewee.IntegrityError:
            holder = BillingAction.get_or_none((BillingAction.project == project_id)
                                               & (BillingAction.holds_customer == customer_id))
            if holder is None:
                raise
            raise _slot_taken(holder, cooldown_days) from None


def _slot_taken(holder: BillingAction, cooldown_days: int):
    if holder.status == "pending":
        return conflict(f"An offer for this customer is being applied (since {iso(holder.created_at)})")
    until = holder.completed_at + dt.timedelta(days=cooldown_days)
    return conflict(f"An offer was already applied for this customer on {holder.completed_at.date().isoformat()}; "
                    f"the next one is possible from {until.date().isoformat()}")


def work_item(action: BillingAction) -> dict:
    """Everything needed to carry an action out (again, after a crash), as plain values."""
    return {"id": action.id, "project_id": action.project_id, "customer_id": action.customer_id,
            "provider": action.provider, "kind": action.kind, "channel": action.channel,
            "offer": loads_object(action.offer), "answer": loads_object(action.answer),
            "subscription_id": action.subscription_id, "variant_id": action.variant_id,
            "churn_event_id": action.churn_event_id,
            "params": loads_object(action.params) if action.params else None}


def attach_event(action_id: str, churn_event_id: str) -> None:
    BillingAction.update(churn_event_id=churn_event_id).where(BillingAction.id == action_id).execute()


def billing_profile(project_id: str) -> tuple[str | None, dict]:
    """(sealed identity secret, stored `settings.billing` with the cooldown filled in)."""
    settings = project_settings(Project.get_by_id(project_id))
    billing = settings.get("billing") if isinstance(settings.get("billing"), dict) else {}
    cooldown = billing.get("offer_cooldown_days", settings.get("offer_cooldown_days"))
    billing = {**billing, "offer_cooldown_days": DEFAULT_OFFER_COOLDOWN_DAYS if cooldown is None else cooldown}
    return sealed_identity(project_id), billing


def set_params(action_id: str, params: dict) -> None:
    """What will be sent, stored before it is sent (a resumed action sends the same)."""
    (BillingAction.update(params=dumps(params))
     .where((BillingAction.id == action_id) & (BillingAction.status == "pending")).execute())


def mark_applied(action_id: str, provider_object_id: str | None) -> bool:
    """pending -> applied; False when it was already finished (by another process)."""
    with transaction():
        changed = bool(BillingAction.update(status="applied", provider_object_id=provider_object_id,
                                            completed_at=utcnow(), error=None)
                       .where((BillingAction.id == action_id) & (BillingAction.status == "pending")).execute())
        if changed:
            _announce("billing_action.applied", action_id)
            action = BillingAction.get_by_id(action_id)
            # An applied offer is part of the customer's story (timeline, `billing_actions` per day).
            customers.touch(action.project_id, customer_id=action.customer_id, kind="billing", name=action.kind,
                            at=action.completed_at)
    return changed


def mark_failed(action_id: str, error: str) -> bool:
    """pending -> failed, giving the customer's slot back."""
    with transaction():
        changed = bool(BillingAction.update(status="failed", error=error[:2000], completed_at=utcnow(),
                                            holds_customer=None)
                       .where((BillingAction.id == action_id) & (BillingAction.status == "pending")).execute())
        if changed:
            _announce("billing_action.failed", action_id)
    return changed


def _announce(event_type: str, action_id: str) -> None:
    """Queue the outbound event in the transaction of the change (docs/outbound-webhooks.md)."""
    action = BillingAction.get_by_id(action_id)
    record_event(action.project_id, event_type, lambda: action_json(action))


def get_action(action_id: str) -> BillingAction:
    return BillingAction.get_by_id(action_id)


def stale_pending(older_than: dt.timedelta, limit: int = 100) -> list[BillingAction]:
    """Pending actions nobody is working on any more (their process stopped mid-call)."""
    return list(BillingAction.select()
                .where((BillingAction.status == "pending") & (BillingAction.created_at <= utcnow() - older_than))
                .order_by(BillingAction.created_at).limit(limit))


def list_actions(project_id: str, filters: dict, order: str, offset: int, limit: int) -> tuple[list[dict], int]:
    query = BillingAction.select().where(BillingAction.project == project_id)
    for name in ("churn_event_id", "customer_id", "status"):
        if filters.get(name) is not None:
            query = query.where(getattr(BillingAction, name) == filters[name])
    total = query.count()
    ordering = BillingAction.created_at.asc() if order == "asc" else BillingAction.created_at.desc()
    rows = query.order_by(ordering, BillingAction.id).offset(offset).limit(limit)
    return [action_json(row) for row in rows], total


# --- coupons ------------------------------------------------------------------------------

def coupon_for(project_id: str, provider: str, offer_key: str) -> str | None:
    row = BillingCoupon.get_or_none((BillingCoupon.project == project_id) & (BillingCoupon.provider == provider)
                                    & (BillingCoupon.offer_key == offer_key))
    return row.coupon_id if row else None


def save_coupon(project_id: str, provider: str, offer_key: str, coupon_id: str) -> None:
    (BillingCoupon.insert(project=project_id, provider=provider, offer_key=offer_key, coupon_id=coupon_id)
     .on_conflict_ignore().execute())
