"""Automatic win-back campaigns: the campaign a churn event joined (store/campaigns.py)."""
from store.migrations import add_columns
from store.models import ChurnEvent


def up(db):
    add_columns(ChurnEvent, "campaign_group", "campaign_step", "campaign_next_send_at", "campaign_status",
                "campaign_ended_reason")
