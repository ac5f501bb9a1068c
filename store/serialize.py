"""Turning stored values into the API's JSON values."""
from __future__ import annotations

import datetime as dt
import json
import re


# How SQLite stores a naive UTC timestamp (peewee writes `isoformat(" ")`).
_SQLITE_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{3,6})?")


def iso(value: dt.datetime | None) -> str | None:
    """ISO 8601 UTC with `Z`, millisecond precision."""
    if value is None:
        return None
    if isinstance(value, str):  # SQLite hands back text for raw rows and computed columns
        if _SQLITE_TIMESTAMP.fullmatch(value):  # rewritten without parsing: the list's hot path
            return f"{value[:10]}T{value[11:19]}.{(value[20:23] if len(value) > 19 else '').ljust(3, '0')}Z"
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
