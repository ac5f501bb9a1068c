"""Cancel-flow submissions (the denominator of save_rate)."""
from store.cancel_flow import CancelFlowSubmission


def up(db):
    db.create_tables([CancelFlowSubmission], safe=True)
