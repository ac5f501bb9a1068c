"""Payment-recovery commands of the project actor: where a recovery changes state outside the
webhooks (which the actor applies in `drain_webhooks`). Sending a dunning email is split like a
variant's send: `begin_dunning_email` checks and reads, the mailer sends outside the actor
(services/dunning.py), `record_dunning_email_sent` commits."""
from __future__ import annotations

from store import payment_recoveries as store
from store.db import transaction, unit_of_work
from store.payment_recovery_views import recovery_json


class PaymentRecoveryCommands:
    project_id: str

    def stop_payment_recovery(self, recovery_id: str) -> dict:
        with unit_of_work(), transaction():
            return recovery_json(store.stop(self.project_id, recovery_id), with_emails=True)

    def stop_payment_recoveries_of(self, email: str) -> int:
        with unit_of_work(), transaction():
            return store.stop_for_email(self.project_id, email)

    def begin_dunning_email(self, recovery_id: str, job_id: str, claim: str) -> dict:
        with unit_of_work():
            return store.begin_email(self.project_id, recovery_id, job_id, claim)

    def record_dunning_email_sent(self, recovery_id: str, job_id: str, claim: str, message_id: str) -> bool:
        with unit_of_work():
            return store.email_sent(recovery_id, job_id, claim, message_id)
