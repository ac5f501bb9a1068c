"""What the API accepts as text, an email address, a sender and a timestamp (docs/api.md, "Input
rules"): pure functions, used by the schemas of `store.validation` and by whatever reads text from
elsewhere (providers' webhooks, scripts), so that every door applies the same rule.
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Any

# Text rules (docs/api.md, "Input rules"). Every string refuses lone surrogates (they cannot be
# stored or sent as UTF-8), NUL and the other control characters; long texts (details, email
# bodies) may hold tabs and line breaks; every other string is one line, so U+2028 and U+2029,
# which some clients show as line breaks, are refused as well.
_NOT_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_NOT_IN_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_LONE_SURROGATE_OR_NUL = re.compile(r"[\x00\ud800-\udfff]")

# One address as an SMTP server takes it without extensions (RFC 5321, no SMTPUTF8): a dot-atom
# local part of ASCII characters (no quoted forms, no lists) and a domain of letter-digit-hyphen
# labels (an internationalised domain is given in its xn-- form).
_LOCAL_PART = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_DOMAIN = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
EMAIL_MESSAGE = "must be one valid email address (ASCII, like name@example.com)"
# `Name <address>`: the name is any one-line text without angle brackets.
_NAMED_ADDRESS = re.compile(r"(?P<name>[^<>]*?)\s*<(?P<address>[^<>]*)>")
_NEEDS_QUOTES = re.compile(r'[()<>\[\]:;@\\,."]')

YEARS = (1970, 9999)
TIMESTAMP_MESSAGE = "must be an ISO 8601 timestamp, e.g. 2026-01-31T12:00:00Z"
YEARS_MESSAGE = f"must be between the years {YEARS[0]} and {YEARS[1]} (UTC)"


def text_problem(value: str, multiline: bool = False) -> str | None:
    """Why `value` may not be stored as text (None: it may)."""
    found = (_NOT_IN_TEXT if multiline else _NOT_IN_LINE).search(value)
    if found is None:
        return None
    char = found.group()
    code = f"U+{ord(char):04X}"
    if "\ud800" <= char <= "\udfff":
        return f"must not contain a lone surrogate ({code}); send valid Unicode text"
    if char in "\r\n\u2028\u2029":
        return f"must be a single line (found a line break, {code})"
    if char == "\t":
        return "must be a single line of text (found a tab)"
    return f"must not contain control characters (found {code})"


def unsafe_text_paths(value: Any, path: str = "", long_text: bool = False) -> list[dict]:
    """Details for every string (keys included) in a parsed JSON value that holds a lone
    surrogate or NUL, the two that no database or mail server takes whatever the field; with
    `long_text`, every string that breaks the long-text rule (free-form objects: `metadata`)."""
    def problem(text: str) -> str | None:
        if long_text or _LONE_SURROGATE_OR_NUL.search(text):
            return text_problem(text, multiline=True)
        return None

    problems: list[dict] = []
    if isinstance(value, str):
        if found := problem(value):
            problems.append({"field": path or "body", "message": found})
    elif isinstance(value, dict):
        for key, item in value.items():
            if found := problem(key):
                problems.append({"field": path or "body", "message": "has a key that " + found})
            else:
                problems.extend(unsafe_text_paths(item, f"{path}.{key}" if path else key, long_text))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            problems.extend(unsafe_text_paths(item, f"{path}[{i}]" if path else f"body[{i}]", long_text))
    return problems


# JSON text written with ensure_ascii=False shows a string that breaks the long-text rule as a
# \u00XX, \b or \f escape, or as a raw C1 or surrogate character: only such a text needs a walk.
_MAYBE_NOT_LONG_TEXT = re.compile(r"\\u00|\\[bf]|[\x7f-\x9f\ud800-\udfff]")


def json_text_problems(value: Any, json_text: str, path: str) -> list[dict]:
    """`unsafe_text_paths(value, path, long_text=True)` for a value already written as JSON
    text (ensure_ascii=False), walking it only when the text shows a sign of trouble."""
    return unsafe_text_paths(value, path, long_text=True) if _MAYBE_NOT_LONG_TEXT.search(json_text) else []


def email_address(value: str) -> str | None:
    """The address lower-cased if it is one valid address (see `_LOCAL_PART`), else None."""
    if not isinstance(value, str) or len(value) > 254 or value.count("@") != 1:
        return None
    local, _, domain = value.partition("@")
    if len(local) > 64 or not _LOCAL_PART.fullmatch(local) or not _DOMAIN.fullmatch(domain):
        return None
    if any(len(label) > 63 for label in domain.split(".")):
        return None
    return value.lower()


def mail_from_header(value: str) -> str | None:
    """`Name <address>` or a bare address, as a From header that reads back the same (a name with
    commas or other specials is quoted); None when it is not one valid sender."""
    if text_problem(value) is not None:
        return None
    named = _NAMED_ADDRESS.fullmatch(value.strip())
    if named is None:
        return email_address(value.strip())
    address = email_address(named["address"].strip())
    name = named["name"].strip()
    if address is None:
        return None
    if name.startswith('"') and name.endswith('"') and len(name) >= 2:
        name = name[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    if not name:
        return address
    if _NEEDS_QUOTES.search(name):
        name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{name} <{address}>"


def read_timestamp(value: str) -> dt.datetime:
    """ISO 8601 as naive UTC, within `YEARS`; ValueError (its message for the client) otherwise."""
    text = value.strip()
    if not text or len(text) > 40:
        raise ValueError(TIMESTAMP_MESSAGE)
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(TIMESTAMP_MESSAGE) from None
    if parsed.tzinfo is not None:
        try:
            parsed = parsed.astimezone(dt.timezone.utc).replace(tzinfo=None)
        except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 is in year 0
            raise ValueError(YEARS_MESSAGE) from None
    if not YEARS[0] <= parsed.year <= YEARS[1]:
        raise ValueError(YEARS_MESSAGE)
    return parsed
