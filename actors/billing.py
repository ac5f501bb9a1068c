"""Billing-action commands of the project actor: the only place an action changes state.

`begin_billing_action` takes the customer's offer slot (pending); `finish_billing_action`
moves it to applied or failed and records what the offer did to the churn event. The provider
call happens between the two, outside the actor (services/billing/offers.py).
"""
from __future__ import annotations

from store import billing, offer_links
from store.cancel_flow import record_answer
from store.churn_events import mark_recovered
from store.db import transaction, unit_of_work
from store.errors import DomainError


class BillingCommands:
    project_id: str

    def begin_billing_action(self, spec: dict) -> dict:
        with unit_of_work():
            return billing.work_item(billing.begin_action(self.project_id, **spec))

    def finish_billing_action(self, action_id: str, outcome: dict) -> tuple[dict, bool]:
        """`outcome`: {"applied": True, "provider_object_id"} or {"applied": False, "error"}.
        Returns (the action as the API shows it, whether this call changed it); a second finish
        (a resumed action another process finished) changes nothing."""
        with unit_of_work(), transaction():
            action = billing.get_action(action_id)
            if outcome["applied"]:
                changed = billing.mark_applied(action_id, outcome.get("provider_object_id"))
            else:
                changed = billing.mark_failed(action_id, outcome["error"])
            if changed and action.channel == "widget":
                self._record_widget_answer(action, accepted=outcome["applied"])
            if changed and outcome["applied"] and action.kind == "reactivate":
                self._recovered_by_email(action)
            return billing.action_json(billing.get_action(action_id)), changed

    def attach_offer_links(self, event_id: str, offer: dict, links: list[dict]) -> list[str]:
        with unit_of_work():
            return offer_links.attach_links(self.project_id, event_id, offer, links)

    def _recovered_by_email(self, action) -> None:
        """A subscription set to cancel runs on with the discount: the email won it back."""
        try:
            with transaction():
                mark_recovered(self.project_id, action.churn_event_id, None, variant_id=action.variant_id)
        except DomainError:
            pass  # already recovered (e.g. by the provider's webhook): the action stands
    def _record_widget_answer(self, action, accepted: bool) -> None:
        answer = {**billing.work_item(action)["answer"], "offer_accepted": accepted}
        if not accepted and answer.get("offer_shown") is None:
            answer["offer_shown"] = True
        try:
            with transaction():  # a savepoint: the offer is applied even if the event moved on
                event, _ = record_answer(self.project_id, answer)
        except DomainError:
            return
        billing.attach_event(action.id, event.id)
