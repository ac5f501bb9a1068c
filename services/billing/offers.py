"""Carrying out an accepted offer in the merchant's billing account, exactly once.

1. The project actor records a pending action (its id is the provider's idempotency key) that
   holds the customer's offer slot (`begin_billing_action`).
2. Off the actor and off the IOLoop, on a small bounded thread pool: find the subscription,
   make or reuse the coupon, store the parameters, then send the one change.
3. The actor finishes the action: applied (the churn event saved) or failed.

An action a crash left pending is carried out again by `resume_stale_actions` with the same
idempotency key and parameters; the provider answers the repeat from its record, and the guarded
finish records it once. `action_finished` is the one place every finished action passes.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import functools
import hashlib
import hmac
import logging
from concurrent.futures import ThreadPoolExecutor

from services.billing.credentials import credential_box
from services.billing.providers import BillingRefused, billing_client, coupon_key
from store import billing as store
from store.cancel_flow import offer_for
from store.db import run_db
from store.errors import DomainError, Forbidden, UpstreamFailed, bad_request
from store.keys import constant_time_equal

log = logging.getLogger("windback.billing")


class BillingPool:
    """The threads the blocking SDK calls run on: bounded, so slow providers cannot take every core."""

    def __init__(self, workers: int):
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="billing")

    def stop(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)


async def in_pool(ctx, fn, *args):
    pool = ctx.service("billing_pool", lambda: BillingPool(ctx.settings.billing_workers))
    return await asyncio.get_running_loop().run_in_executor(pool.executor, functools.partial(fn, *args))


def expected_auth_hash(identity_secret: str, customer_id: str) -> str:
    return hmac.new(identity_secret.encode("utf-8"), customer_id.encode("utf-8"), hashlib.sha256).hexdigest()


def connected(billing: dict) -> bool:
    return bool(billing.get("provider") and billing.get("credentials"))


async def answer_with_offer(ctx, project_id: str, answer: dict) -> dict | None:
    """The cancel-flow answer when it carries `auth_hash`: checked (403 when wrong), and an
    accepted offer applied in the connected billing account. None: answer as without billing
    (no hash, no accepted offer, no billing connected). Takes `auth_hash` and
    `subscription_id` out of `answer`."""
    auth_hash = answer.pop("auth_hash", None)
    subscription_id = answer.pop("subscription_id", None)
    if auth_hash is None:
        return None
    customer_id = answer.get("customer_id")
    if not customer_id:
        raise bad_request("auth_hash signs customer_id, which is missing", "customer_id")
    sealed_identity, billing = await run_db(store.billing_profile, project_id)
    identity_secret = credential_box(ctx).open(sealed_identity)["secret"] if sealed_identity else ""
    if not identity_secret or not constant_time_equal(expected_auth_hash(identity_secret, customer_id),
                                                      auth_hash.strip().lower()):
        raise Forbidden("auth_hash does not match customer_id (HMAC-SHA256 of it with the project's identity secret)")
    if not answer.get("offer_accepted") or not connected(billing):
        return None
    offer = await run_db(offer_for, project_id, answer["reason"])
    if offer is None:
        return None  # the usual path refuses an accepted offer that is not configured
    action = await ctx.actors.project(project_id).begin_billing_action({
        "customer_id": customer_id, "provider": billing["provider"], "kind": offer["type"], "channel": "widget",
        "offer": offer, "cooldown_days": billing["offer_cooldown_days"], "subscription_id": subscription_id,
        "answer": answer})
    finished = await carry_out(ctx, action, billing)
    if finished["status"] != "applied":
        raise UpstreamFailed(finished["error"] or "The billing provider did not apply the offer", code="BILLING_FAILED")
    return {"churn_event_id": finished["churn_event_id"], "saved": True, "billing_action": finished}


async def carry_out(ctx, action: dict, billing: dict, resumed: bool = False) -> dict:
    """Send the action's change to the provider and finish it; returns the finished action."""
    action = {**action, "return_url": f"{ctx.settings.public_url}/offers/welcome"}  # Checkout's way back
    checkout_url = None
    try:
        client = billing_client(action["provider"], credential_box(ctx).open(billing["credentials"]), ctx.settings)
        params = action["params"]
        if params is None:
            params = await in_pool(ctx, client.prepare, action, await _coupon(ctx, client, action))
            await run_db(store.set_params, action["id"], params)
        object_id = await in_pool(ctx, client.apply, action["id"], params, resumed)
        if isinstance(object_id, dict):  # a Checkout Session: its page is where the customer goes next
            object_id, checkout_url = object_id["id"], object_id["url"]
        outcome = {"applied": True, "provider_object_id": object_id}
    except BillingRefused as refused:
        outcome = {"applied": False, "error": refused.message}
    except UpstreamFailed as failed:  # credentials that this server's key cannot open
        outcome = {"applied": False, "error": failed.message}
    finished = await finish(ctx, action, outcome)
    return {**finished, "checkout_url": checkout_url} if checkout_url else finished


async def _coupon(ctx, client, action: dict) -> str | None:
    """Stripe discounts: the project's coupon for this offer, made once and reused."""
    if action["provider"] != "stripe" or action["offer"].get("type") != "discount":
        return None
    key = coupon_key(action["offer"])
    coupon_id = await run_db(store.coupon_for, action["project_id"], "stripe", key)
    if coupon_id is None:
        coupon_id = await in_pool(ctx, client.create_coupon, action["offer"])
        await run_db(store.save_coupon, action["project_id"], "stripe", key, coupon_id)
    return coupon_id


async def finish(ctx, action: dict, outcome: dict) -> dict:
    """Record the outcome through the project's actor; returns the finished action."""
    finished, changed = await ctx.actors.project(action["project_id"]).finish_billing_action(action["id"], outcome)
    if changed:
        action_finished(ctx, finished)
    return finished


def action_finished(ctx, action: dict) -> None:
    """Every action passes here once, right after it became `applied` or `failed` (committed; its
    outbound event `billing_action.applied` / `billing_action.failed` was queued in that
    transaction by `store.billing.mark_applied` / `mark_failed`)."""
    log.info("billing action %s %s (%s %s)", action["id"], action["status"], action["provider"], action["kind"])


def stale_after(ctx) -> dt.timedelta:
    """How long a live process may still be working on an action: its calls (lookups, coupon,
    the change) each end within the billing timeout."""
    return dt.timedelta(seconds=4 * ctx.settings.billing_timeout + 2)


async def resume_stale_actions(ctx) -> int:
    """Finish the actions a stopped process left pending; returns how many were finished."""
    finished = 0
    for row in await run_db(store.stale_pending, stale_after(ctx)):
        action = store.work_item(row)
        try:
            _, billing = await run_db(store.billing_profile, action["project_id"])
            if not connected(billing):
                await finish(ctx, action, {"applied": False,
                                           "error": "Billing was disconnected before the action finished"})
            else:
                log.warning("billing action %s was left pending; sending it again with its idempotency key",
                            action["id"])
                await carry_out(ctx, action, billing, resumed=True)
            finished += 1
        except DomainError:
            log.exception("billing action %s could not be resumed", action["id"])
    return finished


async def test_connection(ctx, project_id: str) -> dict:
    """One harmless read in the connected account: {ok, provider, message}."""
    _, billing = await run_db(store.billing_profile, project_id)
    if not connected(billing):
        raise bad_request("No billing account is connected: set settings.billing first", "settings.billing")
    try:
        client = billing_client(billing["provider"], credential_box(ctx).open(billing["credentials"]), ctx.settings)
        message = await in_pool(ctx, client.test_connection)
        ok = True
    except (BillingRefused, UpstreamFailed) as error:
        ok, message = False, error.message
    return {"ok": ok, "provider": billing["provider"], "message": message}
