"""Scheduled work that lives in the database (store/scheduled_jobs.py), and failed-payment
recoveries (store/payment_recoveries.py), whose dunning emails are its first jobs."""
from store.payment_recoveries import PaymentRecovery
from store.scheduled_jobs import ScheduledJob


def up(db):
    db.create_tables([ScheduledJob, PaymentRecovery], safe=True)
