"""Campaign commands of the project actor (the state changes themselves: store/campaigns.py)."""
from __future__ import annotations

from store import campaigns as store
from store.churn_event_reads import churn_json
from store.db import transaction, unit_of_work


class CampaignCommands:
    project_id: str

    def stop_campaign(self, event_id: str) -> dict:
        with unit_of_work():
            return churn_json(store.stop(self.project_id, event_id), self.lost_cutoff())

    def claim_campaign_send(self, event_id: str, variant_id: str, job_id: str, new_strategy: bool,
                            ttl_seconds: float) -> dict:
        with unit_of_work():
            return store.claim_step(self.project_id, event_id, variant_id, job_id, new_strategy, ttl_seconds)

    def campaign_step_skipped(self, event_id: str, step: int) -> None:
        with unit_of_work(), transaction():
            store.step_done(event_id, step)
