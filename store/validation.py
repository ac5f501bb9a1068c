"""Declared input schemas.

Each resource declares its body and query shape once as a `Schema` of fields; handlers call
`self.parse_body(SCHEMA)` or `self.parse_query(SCHEMA)`. A schema collects every problem as a
`{"field", "message"}` detail and raises one 400 `VALIDATION_ERROR`. `Schema.json_schema()`
gives the same declaration as JSON Schema for the OpenAPI document.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any, Callable

from store.errors import Invalid
from store.input_rules import (EMAIL_MESSAGE, email_address, mail_from_header, read_timestamp, text_problem,
                               unsafe_text_paths)

MISSING = object()

class FieldError(Exception):
    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class Field:
    type_name = "value"

    def __init__(self, required: bool = False, nullable: bool = False, default: Any = MISSING,
                 description: str = ""):
        self.required = required
        self.nullable = nullable
        self.default = default
        self.description = description

    def clean(self, value: Any, path: str, from_query: bool = False) -> Any:
        if value is None:
            if self.nullable:
                return None
            raise FieldError("must not be null")
        return self.convert(value, path, from_query)

    def convert(self, value: Any, path: str, from_query: bool) -> Any:
        return value

    def json_schema(self) -> dict:
        schema = self._schema()
        if self.nullable:
            schema = {"anyOf": [schema, {"type": "null"}]}
        if self.description:
            schema["description"] = self.description
        return schema

    def _schema(self) -> dict:
        return {}


class String(Field):
    type_name = "string"

    def __init__(self, min_length: int = 0, max_length: int = 1000, pattern: str | None = None,
                 pattern_message: str | None = None, strip: bool = True, multiline: bool = False, **kw):
        super().__init__(**kw)
        self.min_length, self.max_length, self.strip = min_length, max_length, strip
        self.multiline = multiline  # a long text (details, bodies): tabs and line breaks allowed
        self.pattern = re.compile(pattern) if pattern else None
        self.pattern_message = pattern_message

    def convert(self, value, path, from_query):
        if not isinstance(value, str):
            raise FieldError("must be a string")
        problem = text_problem(value, self.multiline)
        if problem:
            raise FieldError(problem)
        if self.strip:
            value = value.strip()
        if len(value) < self.min_length:
            raise FieldError("This field is required" if self.min_length == 1 and not value
                             else f"must be at least {self.min_length} characters")
        if len(value) > self.max_length:
            raise FieldError(f"must be at most {self.max_length} characters")
        if self.pattern and not self.pattern.fullmatch(value):
            raise FieldError(self.pattern_message or f"must match {self.pattern.pattern}")
        return value

    def _schema(self):
        schema = {"type": "string", "maxLength": self.max_length}
        if self.min_length:
            schema["minLength"] = self.min_length
        if self.pattern:  # validated with fullmatch; a JSON Schema pattern matches anywhere
            schema["pattern"] = f"^(?:{self.pattern.pattern})$"
        return schema


class Email(String):
    """One address (`email_address`), lower-cased. With `invalid_as_null`, an address that is not
    valid becomes None instead of an error (what a provider's webhook says is stored, its bad
    email left out)."""

    def __init__(self, invalid_as_null: bool = False, **kw):
        super().__init__(min_length=3, max_length=254, **kw)
        self.invalid_as_null = invalid_as_null

    def convert(self, value, path, from_query):
        try:
            address = email_address(super().convert(value, path, from_query))
            if address is None:
                raise FieldError(EMAIL_MESSAGE)
        except FieldError:
            if self.invalid_as_null:
                return None
            raise
        return address

    def _schema(self):
        return {"type": "string", "format": "email", "maxLength": 254}


class MailFrom(String):
    """A sender: `Name <address>` or a bare address, one line; stored as a From header that
    reads back as that one address (a name with commas is quoted)."""

    def __init__(self, **kw):
        super().__init__(max_length=300, **kw)

    def convert(self, value, path, from_query):
        header = mail_from_header(super().convert(value, path, from_query))
        if header is None:
            raise FieldError("must be one email address, optionally with a name: Brand <hello@example.com>")
        return header


class Integer(Field):
    type_name = "integer"

    def __init__(self, minimum: int | None = None, maximum: int | None = None, **kw):
        super().__init__(**kw)
        self.minimum, self.maximum = minimum, maximum

    def convert(self, value, path, from_query):
        if from_query and isinstance(value, str):
            if not re.fullmatch(r"-?\d{1,18}", value.strip()):
                raise FieldError("must be a whole number")
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise FieldError("must be a whole number")
        if self.minimum is not None and value < self.minimum:
            raise FieldError(f"must be at least {self.minimum}")
        if self.maximum is not None and value > self.maximum:
            raise FieldError(f"must be at most {self.maximum}")
        return value

    def _schema(self):
        schema = {"type": "integer"}
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        return schema


class Boolean(Field):
    type_name = "boolean"

    def convert(self, value, path, from_query):
        if from_query and isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
            return value.lower() in ("true", "1")
        if not isinstance(value, bool):
            raise FieldError("must be true or false")
        return value

    def _schema(self):
        return {"type": "boolean"}


class Choice(Field):
    type_name = "string"

    def __init__(self, choices, **kw):
        super().__init__(**kw)
        self.choices = tuple(choices)

    def convert(self, value, path, from_query):
        if not isinstance(value, str) or value not in self.choices:
            raise FieldError(f"must be one of: {', '.join(self.choices)}")
        return value

    def _schema(self):
        return {"type": "string", "enum": list(self.choices)}


class Timestamp(Field):
    """ISO 8601; stored as naive UTC. A date alone means its midnight UTC."""

    type_name = "string"

    def __init__(self, past_only: bool = False, **kw):
        super().__init__(**kw)
        self.past_only = past_only

    def convert(self, value, path, from_query):
        if not isinstance(value, str):
            raise FieldError("must be an ISO 8601 timestamp")
        try:
            parsed = read_timestamp(value)
        except ValueError as error:
            raise FieldError(str(error)) from None
        if self.past_only and parsed > dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) + dt.timedelta(seconds=60):
            raise FieldError("must not be in the future")
        return parsed

    def _schema(self):
        return {"type": "string", "format": "date-time"}


class JsonObject(Field):
    """A free-form JSON object, bounded in encoded size."""

    type_name = "object"

    def __init__(self, max_bytes: int = 16384, **kw):
        super().__init__(**kw)
        self.max_bytes = max_bytes

    def convert(self, value, path, from_query):
        if not isinstance(value, dict):
            raise FieldError("must be a JSON object")
        unsafe = unsafe_text_paths(value, path, long_text=True)
        if unsafe:
            raise ValidationFailed(unsafe)
        if len(json.dumps(value, separators=(",", ":")).encode()) > self.max_bytes:
            raise FieldError(f"must be at most {self.max_bytes} bytes as JSON")
        return value

    def _schema(self):
        return {"type": "object"}


class Nested(Field):
    """A JSON object with its own schema."""

    type_name = "object"

    def __init__(self, schema: "Schema", **kw):
        super().__init__(**kw)
        self.schema = schema

    def convert(self, value, path, from_query):
        return self.schema.clean(value, prefix=path)

    def _schema(self):
        return self.schema.json_schema()


class ListOf(Field):
    type_name = "array"

    def __init__(self, item: Field, min_items: int = 0, max_items: int = 100, **kw):
        super().__init__(**kw)
        self.item, self.min_items, self.max_items = item, min_items, max_items

    def convert(self, value, path, from_query):
        if not isinstance(value, list):
            raise FieldError("must be a list")
        if len(value) < self.min_items:
            raise FieldError(f"must have at least {self.min_items} items")
        if len(value) > self.max_items:
            raise FieldError(f"must have at most {self.max_items} items")
        problems: list[dict] = []
        out = [clean_into(problems, self.item, item, f"{path}[{i}]", from_query) for i, item in enumerate(value)]
        if problems:
            raise ValidationFailed(problems)
        return out

    def _schema(self):
        return {"type": "array", "items": self.item.json_schema(), "maxItems": self.max_items}


class ValidationFailed(Exception):
    def __init__(self, details: list[dict]):
        super().__init__(details)
        self.details = details


class Schema:
    """Named fields; `clean` returns only the fields present (plus defaults)."""

    def __init__(self, fields: dict[str, Field], allow_unknown: bool = False,
                 check: Callable[[dict], list[dict]] | None = None):
        self.fields = fields
        self.allow_unknown = allow_unknown
        self.check = check  # cross-field rule: returns extra details

    def clean(self, data: Any, prefix: str = "", from_query: bool = False, partial: bool = False) -> dict:
        def name(key):
            return f"{prefix}.{key}" if prefix else key

        if not isinstance(data, dict):
            raise ValidationFailed([{"field": prefix or "body", "message": "must be a JSON object"}])
        out, problems = {}, []
        for key, field in self.fields.items():
            if key not in data:
                if field.required and not partial:
                    problems.append({"field": name(key), "message": "This field is required"})
                elif field.default is not MISSING and not partial:
                    out[key] = field.default() if callable(field.default) else field.default
                continue
            out[key] = clean_into(problems, field, data[key], name(key), from_query)
        if not self.allow_unknown:
            for key in data:
                if key not in self.fields:
                    problems.append({"field": name(key), "message": "Unknown field"})
        if not problems and self.check:
            problems.extend(self.check(out))
        if problems:
            raise ValidationFailed(problems)
        return out

    def validate(self, data: Any, **kw) -> dict:
        """`clean`, raising the API's 400 envelope."""
        try:
            return self.clean(data, **kw)
        except ValidationFailed as failed:
            raise validation_error(failed.details) from None

    def json_schema(self) -> dict:
        return {
            "type": "object",
            "properties": {k: f.json_schema() for k, f in self.fields.items()},
            "required": [k for k, f in self.fields.items() if f.required],
            "additionalProperties": self.allow_unknown,
        }


def clean_into(problems: list[dict], field: Field, value: Any, path: str, from_query: bool = False) -> Any:
    """`field.clean(value)`; a problem is added to `problems` (the result is then None), so that
    one answer can name every bad field."""
    try:
        return field.clean(value, path, from_query)
    except ValidationFailed as failed:
        problems.extend(failed.details)
    except FieldError as err:
        problems.append({"field": err.field or path, "message": err.message})
    return None


def validation_error(details: list[dict]) -> Invalid:
    first = details[0]
    message = f"{first['field']}: {first['message']}" if len(details) == 1 else f"{len(details)} fields are invalid"
    return Invalid(message, details)


def parse_timestamp(value: str) -> dt.datetime | None:
    """`read_timestamp`, or None when `value` is not a timestamp in range."""
    try:
        return read_timestamp(value)
    except ValueError:
        return None
