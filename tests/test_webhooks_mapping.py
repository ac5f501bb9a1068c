"""The mapping from provider payloads to churn and recovery: amounts per month, customers, reasons."""
import pytest

from store.webhook_mapping import MappingError, normalize


def stripe(event_type, obj, **extra):
    return {"id": "evt_1", "type": event_type, "created": 1767225600, "data": {"object": obj, **extra}}


def item(amount, interval="month", count=1, quantity=1, currency="usd"):
    return {"quantity": quantity, "price": {"id": "price_x", "unit_amount": amount, "currency": currency,
                                            "recurring": {"interval": interval, "interval_count": count}}}


@pytest.mark.parametrize("items, expected", [
    ([item(1000, "week")], 4333),  # weekly x 52 / 12
    ([item(36000, "year")], 3000),  # yearly / 12
    ([item(9000, "month", count=3)], 3000),  # every 3 months
    ([item(100, "day")], 3042),  # daily x 365 / 12
    ([item(2900, quantity=3), item(500)], 9200),  # several items, quantities
])
def test_stripe_subscription_mrr_is_normalised_to_a_month(items, expected):
    obj = {"id": "sub_1", "customer": "cus_1", "items": {"data": items}}
    action = normalize("stripe", stripe("customer.subscription.deleted", obj))
    assert (action.kind, action.mrr_cents, action.currency) == ("churn", expected, "USD")


def test_stripe_legacy_plan_and_expanded_customer():
    obj = {"id": "sub_1", "customer": {"id": "cus_9", "email": "Zoe@Example.com", "name": "Zoe"},
           "plan": {"id": "gold", "nickname": "Gold", "amount": 12000, "interval": "year", "currency": "eur"},
           "quantity": 1, "cancellation_details": {"reason": "payment_failed"}}
    action = normalize("stripe", stripe("customer.subscription.deleted", obj))
    assert (action.customer_id, action.customer_email, action.customer_name) == ("cus_9", "zoe@example.com", "Zoe")
    assert (action.mrr_cents, action.currency, action.plan, action.cancel_reason) == (1000, "EUR", "Gold",
                                                                                    "payment_failed")


def test_stripe_failed_invoice_is_a_payment_recovery_not_a_churn():
    obj = {"id": "in_1", "customer": "cus_1", "customer_email": "a@b.co", "currency": "usd", "amount_due": 1234,
           "amount_paid": 0, "attempt_count": 2, "subscription": "sub_1",
           "hosted_invoice_url": "https://invoice.stripe.com/i/acct_1/test_1",
           "lines": {"data": [{"amount": 1234, "price": {"id": "price_once", "unit_amount": 1234}}]}}
    action = normalize("stripe", stripe("invoice.payment_failed", obj))
    assert (action.kind, action.cancel_reason, action.customer_email) == ("payment_failed", None, "a@b.co")
    assert action.payment == {"invoice_id": "in_1", "subscription_id": "sub_1", "amount_due_cents": 1234,
                              "currency": "USD", "attempt_count": 2,
                              "update_payment_url": "https://invoice.stripe.com/i/acct_1/test_1"}


def test_events_that_close_payment_recoveries():
    paid = {"id": "in_1", "customer": "cus_1", "currency": "usd", "amount_paid": 1234}
    action = normalize("stripe", stripe("invoice.paid", paid))
    assert (action.kind, action.closes_payment, action.payment) == ("recovery", "recovered",
                                                                    {"invoice_id": "in_1", "amount_cents": 1234})
    gave_up = {"id": "sub_1", "customer": "cus_1", "cancellation_details": {"reason": "payment_failed"}}
    action = normalize("stripe", stripe("customer.subscription.deleted", gave_up))
    assert (action.kind, action.cancel_reason, action.closes_payment) == ("churn", "payment_failed", "failed")
    asked = {"id": "sub_1", "customer": "cus_1", "cancellation_details": {"reason": "cancellation_requested"}}
    assert normalize("stripe", stripe("customer.subscription.deleted", asked)).closes_payment is None


def test_stripe_subscription_update_direction_comes_from_previous_attributes():
    on = {"id": "sub_1", "customer": "cus_1", "cancel_at_period_end": True}
    assert normalize("stripe", stripe("customer.subscription.updated", on,
                                      previous_attributes={"cancel_at_period_end": False})).kind == "churn"
    off = {**on, "cancel_at_period_end": False}
    assert normalize("stripe", stripe("customer.subscription.updated", off,
                                      previous_attributes={"cancel_at_period_end": True})).kind == "recovery"
    assert normalize("stripe", stripe("customer.subscription.updated", on,
                                      previous_attributes={"items": {}})).kind == "ignored"


def test_razorpay_empty_notes_list_and_payment_email():
    payload = {"event": "subscription.charged", "created_at": 1767225600, "payload": {
        "subscription": {"entity": {"id": "sub_1", "customer_id": "cust_1", "notes": []}},
        "payment": {"entity": {"amount": 99900, "currency": "inr", "email": "Ravi@Example.in"}}}}
    action = normalize("razorpay", payload)
    assert (action.kind, action.customer_email, action.mrr_cents, action.currency) == \
        ("recovery", "ravi@example.in", 99900, "INR")


def test_a_handled_event_that_names_no_customer_is_an_error():
    with pytest.raises(MappingError):
        normalize("stripe", stripe("customer.subscription.deleted", {"id": "sub_1"}))
