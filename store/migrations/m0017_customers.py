"""Customers and their daily activity (docs/customers.md), filled from what is already stored:
tracked events, churn events and the emails sent for them."""
from store import customers
from store.customers import Customer, CustomerActivity


def up(db):
    db.create_tables([Customer, CustomerActivity], safe=True)
    customers.backfill()
