"""Variant commands of the project actor. Writing and sending are slow, so each is split into a
claim and a commit (store/variants.py); the slow part runs outside the actor
(services/recovery.py) and a slow model never holds up other events of the project."""
from __future__ import annotations

from store import variants as store
from store.db import unit_of_work


class VariantCommands:
    project_id: str

    def claim_generation(self, event_id: str, ttl_seconds: float) -> tuple[str, dict]:
        with unit_of_work():
            return store.claim_generation(self.project_id, event_id, ttl_seconds)

    def commit_generation(self, event_id: str, claim: str, drafts: list, generator: str) -> list[dict]:
        with unit_of_work():
            return store.commit_generation(self.project_id, event_id, claim, drafts, generator)

    def release_generation(self, event_id: str, claim: str) -> None:
        with unit_of_work():
            store.release_generation(event_id, claim)

    def edit_variant(self, event_id: str, variant_id: str, changes: dict) -> dict:
        with unit_of_work():
            return store.edit_variant(self.project_id, event_id, variant_id, changes)

    def claim_send(self, event_id: str, variant_id: str, ttl_seconds: float) -> dict:
        with unit_of_work():
            return store.claim_send(self.project_id, event_id, variant_id, ttl_seconds)

    def mark_variant_sent(self, event_id: str, variant_id: str, claim: str, message_id: str,
                          campaign_step: int | None = None) -> dict:
        with unit_of_work():
            return store.mark_sent(self.project_id, event_id, variant_id, claim, message_id, campaign_step)

    def mark_variant_failed(self, event_id: str, variant_id: str, claim: str, error: str) -> dict:
        with unit_of_work():
            return store.mark_failed(self.project_id, event_id, variant_id, claim, error)
