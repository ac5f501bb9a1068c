"""The calls Windback makes in a merchant's billing account, through the providers' own SDKs.

Every method here blocks (the SDKs are synchronous) and is run on the billing thread pool, never
on the IOLoop, with the HTTP timeout `WINDBACK_BILLING_TIMEOUT`. A refusal, an error or no answer
in time raises `BillingRefused` with words a person can read. What each offer becomes in each
provider is written down in docs/offers.md.
"""
from __future__ import annotations

import calendar
import datetime as dt

import razorpay
import requests
import stripe

from config import Settings


class BillingRefused(Exception):
    """The provider refused the call, failed, or did not answer in time."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def add_months(moment: dt.datetime, months: int) -> dt.datetime:
    month = moment.month - 1 + months
    year, month = moment.year + month // 12, month % 12 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))


def coupon_key(offer: dict) -> str:
    return f"discount:{offer['percent_off']}:{offer['months']}"


def _required(offer: dict, name: str, provider: str) -> str:
    value = offer.get(name)
    if not value:
        raise BillingRefused(f"The {offer['type']} offer has no {name}; add it to the offer in the cancel-flow "
                             f"settings to apply it in {provider}")
    return value


class StripeBilling:
    name = "Stripe"

    def __init__(self, credentials: dict, settings: Settings):
        self.timeout = settings.billing_timeout
        self.client = stripe.StripeClient(credentials["stripe_api_key"],
                                          base_addresses={"api": settings.stripe_api_base},
                                          max_network_retries=0,
                                          http_client=stripe.RequestsClient(timeout=settings.billing_timeout))

    def _call(self, fn, *args, tolerate: str | None = None, **kwargs):
        """`fn(...)`; with `tolerate` (an error code), that refusal answers None instead."""
        try:
            return fn(*args, **kwargs)
        except stripe.APIConnectionError:
            raise BillingRefused(f"Stripe did not answer within {self.timeout:g} s") from None
        except stripe.StripeError as error:
            if tolerate and error.code == tolerate:
                return None
            status = f" (HTTP {error.http_status})" if error.http_status else ""
            raise BillingRefused(f"Stripe refused{status}: {error.user_message or 'no reason given'}") from None

    def test_connection(self) -> str:
        balance = self._call(self.client.v1.balance.retrieve)
        return f"Connected to Stripe ({'live' if balance.livemode else 'test'} mode)"

    def subscription(self, customer_id: str, subscription_id: str | None):
        """The named subscription if that customer owns it, else the customer's active one."""
        if subscription_id:
            # Unknown to Stripe: fall back to the customer's active one.
            found = self._call(self.client.v1.subscriptions.retrieve, subscription_id, tolerate="resource_missing")
            ended = found is None or found.status in ("canceled", "incomplete_expired")
            if not ended and found.customer == customer_id:
                return found
        page = self._call(self.client.v1.subscriptions.list, {"customer": customer_id, "status": "active", "limit": 1})
        if not page.data:
            raise BillingRefused(f"The customer {customer_id} has no active subscription in Stripe")
        return page.data[0]

    def create_coupon(self, offer: dict) -> str:
        """One coupon per offer, with an id of its own so that a retry finds the same one."""
        coupon_id = f"windback_{offer['percent_off']}off_{offer['months']}m"
        params = {"id": coupon_id, "percent_off": offer["percent_off"], "duration": "repeating",
                  "duration_in_months": offer["months"],
                  "name": f"{offer['percent_off']}% off for {offer['months']} months"}
        self._call(self.client.v1.coupons.create, params, tolerate="resource_already_exists",
                   options={"idempotency_key": f"windback-coupon-{coupon_id}"})
        return coupon_id

    def winback_kind(self, customer_id: str) -> str:
        """`reactivate` while a subscription still runs (set to cancel or not), `checkout` once
        the last one ended."""
        page = self._call(self.client.v1.subscriptions.list, {"customer": customer_id, "status": "active", "limit": 1})
        if page.data:
            return "reactivate"
        if self._ended(customer_id) is None:
            raise BillingRefused(f"The customer {customer_id} has no subscription in Stripe to restart")
        return "checkout"

    def _ended(self, customer_id: str):
        page = self._call(self.client.v1.subscriptions.list,
                          {"customer": customer_id, "status": "canceled", "limit": 1})
        return page.data[0] if page.data else None

    def _checkout(self, action: dict, coupon_id: str) -> dict:
        ended = self._ended(action["customer_id"])
        if ended is None:
            raise BillingRefused(f"The customer {action['customer_id']} has no subscription in Stripe to restart")
        item = ended["items"].data[0]
        metadata = {"windback_variant_id": action["variant_id"], "windback_action_id": action["id"]}
        return {"checkout": {
            "mode": "subscription", "customer": action["customer_id"],
            "line_items": [{"price": item.price.id, "quantity": getattr(item, "quantity", None) or 1}],
            "discounts": [{"coupon": coupon_id}], "metadata": metadata,
            "subscription_data": {"metadata": metadata},
            "success_url": action["return_url"], "cancel_url": action["return_url"]}}

    def prepare(self, action: dict, coupon_id: str | None) -> dict:
        if action["kind"] == "checkout":
            return self._checkout(action, coupon_id)
        offer = action["offer"]
        found = self.subscription(action["customer_id"], action["subscription_id"])
        update: dict = {}
        if action["kind"] in ("discount", "reactivate"):
            update["discounts"] = [{"coupon": coupon_id}]
        elif action["kind"] == "pause":
            resumes = add_months(dt.datetime.now(dt.timezone.utc), offer["months"])
            update["pause_collection"] = {"behavior": "void", "resumes_at": int(resumes.timestamp())}
        elif action["kind"] == "downgrade":
            price = _required(offer, "stripe_price_id", "Stripe")
            update["items"] = [{"id": found["items"].data[0].id, "price": price}]
        if found.cancel_at_period_end:
            update["cancel_at_period_end"] = False  # the pending cancellation is undone in the same update
        return {"subscription_id": found.id, "update": update}

    def apply(self, action_id: str, params: dict, resumed: bool) -> str | dict:
        # The action id is the idempotency key: a resumed call is answered from Stripe's record.
        if "checkout" in params:
            session = self._call(self.client.v1.checkout.sessions.create, params["checkout"],
                                 options={"idempotency_key": action_id})
            return {"id": session.id, "url": session.url}
        updated = self._call(self.client.v1.subscriptions.update, params["subscription_id"], params["update"],
                             options={"idempotency_key": action_id})
        return updated.id


class RazorpayBilling:
    name = "Razorpay"

    def __init__(self, credentials: dict, settings: Settings):
        self.timeout = settings.billing_timeout
        self.client = razorpay.Client(auth=(credentials["razorpay_key_id"], credentials["razorpay_key_secret"]),
                                      base_url=settings.razorpay_api_base)

    def _call(self, fn, *args):
        try:
            return fn(*args, timeout=self.timeout)
        except requests.exceptions.Timeout:
            raise BillingRefused(f"Razorpay did not answer within {self.timeout:g} s") from None
        except requests.exceptions.RequestException as error:
            raise BillingRefused(f"Razorpay could not be reached: {type(error).__name__}") from None
        except razorpay.errors.BadRequestError as error:
            raise BillingRefused(f"Razorpay refused: {error}") from None
        except (razorpay.errors.ServerError, razorpay.errors.GatewayError) as error:
            raise BillingRefused(f"Razorpay failed: {error or 'no reason given'}") from None

    def test_connection(self) -> str:
        self._call(self.client.subscription.all, {"count": 1})
        return "Connected to Razorpay"

    def winback_kind(self, customer_id: str) -> str:
        self.subscription(customer_id, None)  # a running one gets the offer; an ended one cannot restart here
        return "reactivate"

    def subscription(self, customer_id: str, subscription_id: str | None) -> dict:
        if subscription_id:
            try:
                found = self._call(self.client.subscription.fetch, subscription_id)
            except BillingRefused:
                found = None
            if found and found.get("customer_id") == customer_id and found.get("status") in ("active", "authenticated"):
                return found
        # Razorpay's list has no customer filter: look through the most recent ones.
        page = self._call(self.client.subscription.all, {"count": 100})
        for item in page.get("items", []):
            if item.get("customer_id") == customer_id and item.get("status") == "active":
                return item
        raise BillingRefused(f"The customer {customer_id} has no active subscription in Razorpay")

    def prepare(self, action: dict, coupon_id: str | None) -> dict:
        offer = action["offer"]
        found = self.subscription(action["customer_id"], action["subscription_id"])
        if action["kind"] == "pause":
            return {"subscription_id": found["id"], "operation": "pause", "body": {"pause_at": "now"}}
        if action["kind"] == "downgrade":
            body = {"plan_id": _required(offer, "razorpay_plan_id", "Razorpay"), "schedule_change_at": "now"}
        else:
            body = {"offer_id": _required(offer, "razorpay_offer_id", "Razorpay")}
        return {"subscription_id": found["id"], "operation": "update", "body": body}

    def apply(self, action_id: str, params: dict, resumed: bool) -> str:
        # Razorpay takes no idempotency key. An update sets values (repeating it changes nothing);
        # a resumed pause first looks whether the first attempt already paused it.
        subscription_id = params["subscription_id"]
        if params["operation"] == "pause":
            if resumed and self._call(self.client.subscription.fetch, subscription_id).get("status") == "paused":
                return subscription_id
            return self._call(self.client.subscription.pause, subscription_id, params["body"])["id"]
        return self._call(self.client.subscription.edit, subscription_id, params["body"])["id"]


def billing_client(provider: str, credentials: dict, settings: Settings):
    return (StripeBilling if provider == "stripe" else RazorpayBilling)(credentials, settings)
