"""Turning stored values into the API's JSON values."""
from __future__ import annotations

import datetime as dt
import json


def iso(value: dt.datetime | None) -> str | None:
    """ISO 8601 UTC with `Z`, millisecond precision."""
    if value is None:
        return None
    if isinstance(value, str):  # SQLite may hand back text for computed columns
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value.isoformat(timespec="milliseconds") + "Z"


def loads_object(text: str | None) -> dict:
    if not text:
        return {}
    value = json.loads(text)
    return value if isinstance(value, dict) else {}


def dumps(value) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
