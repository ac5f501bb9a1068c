"""A project's outbound webhook endpoints: the declared input, and create/read/update/delete.

Who may call this (admins) is the handler's rule; whether the URL's host is public is checked by
`services/outbound_http.py` before `create_endpoint`/`update_endpoint` are called (it needs DNS).
"""
from __future__ import annotations

import base64
import json
import secrets

from store.db import transaction
from store.errors import not_found
from store.keys import mask
from store.models import utcnow
from store.outbound import EVENT_TYPES, KINDS, WebhookDelivery, WebhookEndpoint, delivery_json
from store.serialize import iso
from store.url_safety import MAX_URL_LENGTH
from store.validation import Boolean, Choice, Integer, ListOf, Schema, String

EVENT_CHOICES = ("*",) + EVENT_TYPES

ENDPOINT_FIELDS = {
    "url": String(min_length=1, max_length=MAX_URL_LENGTH, description="https:// URL that receives the events"),
    "events": ListOf(Choice(EVENT_CHOICES), min_items=1, max_items=len(EVENT_CHOICES),
                     description='event types, or ["*"] for all'),
    "kind": Choice(KINDS, description="standard (signed JSON) or slack (incoming-webhook text)"),
    "description": String(max_length=500, nullable=True),
    "min_mrr_cents": Integer(minimum=0, maximum=10**12, nullable=True,
                             description="only events about at least this much MRR (or amount due)"),
}
CREATE = Schema({**ENDPOINT_FIELDS,
                 "url": String(min_length=1, max_length=MAX_URL_LENGTH, required=True),
                 "kind": Choice(KINDS, default="standard"),
                 "events": ListOf(Choice(EVENT_CHOICES), min_items=1, max_items=len(EVENT_CHOICES), default=["*"])})
UPDATE = Schema({**ENDPOINT_FIELDS, "enabled": Boolean(description="false pauses deliveries; true re-enables")})


def new_secret() -> str:
    """`whsec_` + base64 of 24 random bytes, as Standard Webhooks expects."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode("ascii")


def endpoint_json(endpoint: WebhookEndpoint, reveal_secret: bool = False) -> dict:
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "kind": endpoint.kind,
        "events": endpoint.event_types,
        "description": endpoint.description,
        "min_mrr_cents": endpoint.min_mrr_cents,
        "enabled": bool(endpoint.enabled),
        "disabled_reason": endpoint.disabled_reason,
        "secret": endpoint.secret if reveal_secret else mask(endpoint.secret),
        "created_at": iso(endpoint.created_at),
        "updated_at": iso(endpoint.updated_at),
    }


def _events(types: list[str]) -> str:
    return json.dumps(["*"] if "*" in types else sorted(set(types)))


def create_endpoint(project_id: str, fields: dict) -> dict:
    """Answers the endpoint with its secret in clear: the only time it is shown."""
    now = utcnow()
    with transaction():
        endpoint = WebhookEndpoint.create(project=project_id, url=fields["url"], kind=fields.get("kind", "standard"),
                                          events=_events(fields.get("events") or ["*"]),
                                          description=fields.get("description"),
                                          min_mrr_cents=fields.get("min_mrr_cents"), secret=new_secret(),
                                          created_at=now, updated_at=now)
    return endpoint_json(endpoint, reveal_secret=True)


def get_endpoint(project_id: str, endpoint_id: str) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.get_or_none((WebhookEndpoint.id == endpoint_id) & (WebhookEndpoint.project == project_id))
    if endpoint is None:
        raise not_found("Webhook endpoint")
    return endpoint


def endpoint_by_id(endpoint_id: str) -> WebhookEndpoint | None:
    return WebhookEndpoint.get_or_none(WebhookEndpoint.id == endpoint_id)


def _newest_first(model, order: str) -> tuple:
    if order == "asc":
        return model.created_at.asc(), model.id.asc()
    return model.created_at.desc(), model.id.desc()


def list_endpoints(project_id: str, order: str, offset: int, limit: int) -> tuple[list[dict], int]:
    query = WebhookEndpoint.select().where(WebhookEndpoint.project == project_id)
    rows = query.order_by(*_newest_first(WebhookEndpoint, order)).offset(offset).limit(limit)
    return [endpoint_json(endpoint) for endpoint in rows], query.count()


def update_endpoint(project_id: str, endpoint_id: str, fields: dict) -> dict:
    with transaction():
        endpoint = get_endpoint(project_id, endpoint_id)
        for name in ("url", "kind", "description", "min_mrr_cents"):
            if name in fields:
                setattr(endpoint, name, fields[name])
        if "events" in fields:
            endpoint.events = _events(fields["events"])
        if "enabled" in fields:
            endpoint.enabled = fields["enabled"]
            if fields["enabled"]:  # re-enabled by a person: a fresh start
                endpoint.disabled_reason = None
                endpoint.failing_since = None
        endpoint.updated_at = utcnow()
        endpoint.save()
    return endpoint_json(endpoint)


def delete_endpoint(project_id: str, endpoint_id: str) -> None:
    """Deletes the endpoint and its deliveries; jobs still scheduled for them find nothing to send."""
    with transaction():
        endpoint = get_endpoint(project_id, endpoint_id)
        WebhookDelivery.delete().where(WebhookDelivery.endpoint == endpoint.id).execute()
        endpoint.delete_instance()


def list_deliveries(project_id: str, endpoint_id: str, status: str | None, order: str, offset: int,
                    limit: int) -> tuple[list[dict], int]:
    endpoint = get_endpoint(project_id, endpoint_id)
    query = WebhookDelivery.select().where(WebhookDelivery.endpoint == endpoint.id)
    if status:
        query = query.where(WebhookDelivery.status == status)
    rows = query.order_by(*_newest_first(WebhookDelivery, order)).offset(offset).limit(limit)
    return [delivery_json(delivery) for delivery in rows], query.count()
