"""What a handler answers, declared next to it for the OpenAPI document (`handlers/openapi.py`).

A handler lists, per method, a `Returns` in `response_schemas`:

    response_schemas = {"GET": Returns(CHURN_EVENT_OUT, paged=True),
                        "POST": Returns(CHURN_EVENT_OUT, status=201, also=(200,))}

`data` is the JSON Schema of the envelope's `data`; the envelope, the error answers and the
rate-limit headers are added by the document builder. The `*_OUT` schemas below describe what the
store's `*_json` functions return; keep the two together when either changes.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from store.models import CANCEL_REASONS, CHURN_STATUSES, SOURCES


@dataclass(frozen=True)
class Returns:
    data: dict | None = field(default_factory=dict)  # JSON Schema of `data`; None: no body (204)
    status: int = 200
    also: tuple[int, ...] = ()  # other success statuses with the same body (e.g. 200 for an update)
    paged: bool = False  # a list with meta {page, per_page, total}
    media_type: str = "application/json"  # another type (a script, a page) is not enveloped
    enveloped: bool = True  # False: `data` describes the whole JSON body (the OpenAPI document)
    headers: tuple[str, ...] = ()  # extra response headers it always sends (documented as strings)
    also_media: tuple[str, ...] = ()  # other content types of the same answer (e.g. an HTML page)
    not_modified: bool = False  # may answer 304 (no body) to a matching If-None-Match
    description: str = ""


class OneOf:
    """A request body that is one of several schemas (documentation only: the handler decides
    which one it got, as `/track` does for one event or a batch)."""

    def __init__(self, *schemas):
        self.schemas = schemas

    def json_schema(self) -> dict:
        return {"oneOf": [schema.json_schema() for schema in self.schemas]}


class Documented:
    """A request body described by a plain JSON Schema (documentation only: the handler checks
    it otherwise, e.g. a webhook's body against its signature)."""

    def __init__(self, schema: dict):
        self.schema = schema

    def json_schema(self) -> dict:
        return self.schema


# --- building blocks ----------------------------------------------------------------------------

STRING = {"type": "string"}
INTEGER = {"type": "integer"}
BOOLEAN = {"type": "boolean"}
TIMESTAMP = {"type": "string", "format": "date-time"}
ANY_OBJECT = {"type": "object"}


def nullable(schema: dict) -> dict:
    return {"anyOf": [schema, {"type": "null"}]}


def obj(properties: dict, required: tuple[str, ...] | str = "all", extra: bool = False) -> dict:
    """An object schema; every property is required unless `required` names fewer."""
    names = list(properties) if required == "all" else list(required)
    return {"type": "object", "properties": properties, "required": names, "additionalProperties": extra}


def list_of(item: dict) -> dict:
    return {"type": "array", "items": item}


def enum(values) -> dict:
    return {"type": "string", "enum": list(values)}


# --- resources of the foundation ----------------------------------------------------------------

ROLE = enum(("owner", "admin", "member"))
USER_OUT = obj({"id": STRING, "email": STRING, "name": nullable(STRING), "created_at": TIMESTAMP})
SESSION_OUT = obj({"token": STRING, "user": USER_OUT})
ME_OUT = obj({**USER_OUT["properties"], "email_verified": BOOLEAN,
              "projects": list_of(obj({"slug": STRING, "name": STRING, "role": ROLE}))})
PROJECT_OUT = obj({"id": STRING, "slug": STRING, "name": STRING, "plan": enum(("free", "pro", "scale")),
                   "public_key": STRING, "created_at": TIMESTAMP, "settings": ANY_OBJECT})
# One project as its page shows it: plus the addresses to give providers and customers' pages.
PROJECT_DETAIL_OUT = obj({**PROJECT_OUT["properties"],
                          "webhook_urls": obj({"stripe": STRING, "razorpay": STRING, "custom": STRING}),
                          "widget_url": STRING})
PROJECT_WITH_ROLE_OUT = obj({**PROJECT_OUT["properties"], "role": ROLE})
CREATED_PROJECT_OUT = obj({**PROJECT_OUT["properties"], "role": ROLE, "secret_key": STRING})
ROTATED_KEYS_OUT = obj({"secret_key": STRING, "public_key": STRING, "previous_keys_expire_at": nullable(TIMESTAMP)})
ACTOR_STATS_OUT = obj({
    "live": INTEGER, "busy": INTEGER, "max": INTEGER, "threads": INTEGER,
    "started": INTEGER, "evicted": INTEGER, "stopped_idle": INTEGER, "crashed": INTEGER,
})
HEALTH_OUT = obj({"status": STRING, "database": STRING, "actors": INTEGER, "version": STRING,
                  "actor_stats": ACTOR_STATS_OUT})
CHURN_EVENT_OUT = obj({
    "id": STRING, "customer_email": nullable(STRING), "customer_name": nullable(STRING),
    "customer_id": nullable(STRING), "plan": nullable(STRING), "mrr_cents": INTEGER, "currency": STRING,
    "cancel_reason": nullable(enum(CANCEL_REASONS)), "cancel_reason_detail": nullable(STRING),
    "source": enum(SOURCES), "status": enum(CHURN_STATUSES), "churned_at": TIMESTAMP,
    "recovered_at": nullable(TIMESTAMP), "recovered_mrr_cents": nullable(INTEGER),
    "recovered_by_variant_id": nullable(STRING), "saved": BOOLEAN, "metadata": ANY_OBJECT,
    "created_at": TIMESTAMP, "updated_at": TIMESTAMP,
})
