"""The OpenAPI 3.1 document, generated from the code: the route table (`handlers.all_routes()`),
each handler's `rules` (methods, credentials), its declared `body_schemas`/`query_schemas`
(`handlers/validation.py`, the same objects that validate requests) and `response_schemas`
(`handlers/responses.py`). A handler is described by declaring those attributes; nothing here
needs editing when a route is added.

`scripts/openapi.py` writes it to `docs/openapi.json` (kept in the repository; a test checks the
two agree), and `GET /api/v1/openapi.json` serves it as is (the document itself, not enveloped, so
that tools read it directly).
"""
from __future__ import annotations

import inspect
import json
import re

import tornado.web

from config import VERSION
from handlers.access import PUBLIC
from handlers.base import BaseHandler
from handlers.errors import STATUS_CODES
from handlers.responses import Returns

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
_GROUP = re.compile(r"\((\?P<(?P<name>\w+)>)?(?P<pattern>[^()]*)\)")
ERROR_CODES = sorted({*STATUS_CODES.values(), "INTERNAL_ERROR", "INVALID_SIGNATURE", "SUPPRESSED",
                      "CAMPAIGN_NOT_ACTIVE"})
ERROR_DESCRIPTIONS = {
    400: "Invalid input: malformed JSON, wrong types, unknown fields (`details` names each field)",
    401: "Missing, invalid or expired credential",
    403: "The credential may not do this",
    404: "No such resource here (or not visible to this credential)",
    409: "Conflicts with the resource's current state",
    413: "The body is larger than 1 MiB",
    429: "Rate limited; see Retry-After",
    500: "Something went wrong on the server (logged; no details leak)",
}
RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


def path_template(pattern: str) -> tuple[str, list[dict]]:
    """A Tornado route regex as an OpenAPI path with its path parameters."""
    parameters = []

    def replace(match: re.Match) -> str:
        regex = match.group("pattern")
        if not regex:  # an empty group, as in r"/app()/?"
            return ""
        name = match.group("name") or ("path" if regex in (".*", ".+") else f"param{len(parameters) + 1}")
        schema = {"type": "string", "minLength": 1}
        if re.fullmatch(r"[\w-]+(\|[\w-]+)+", regex):  # stripe|razorpay|custom
            schema = {"type": "string", "enum": regex.split("|")}
        elif regex not in (".*", ".+", "[^/]*"):
            schema["pattern"] = f"^(?:{regex})$"
        parameters.append({"name": name, "in": "path", "required": True, "schema": schema})
        return "{" + name + "}"

    path = _GROUP.sub(replace, pattern.lstrip("^").rstrip("$"))
    path = re.sub(r"/\?$", "", path).replace("\\", "")
    return path, parameters


def handler_methods(handler: type) -> list[str]:
    """The methods a route answers: its `rules`, or for a plain Tornado handler the methods it
    implements itself."""
    rules = getattr(handler, "rules", None)
    if issubclass(handler, BaseHandler):
        return [m for m in HTTP_METHODS if m in (rules or {})]
    return [m for m in HTTP_METHODS
            if getattr(handler, m.lower(), None) is not getattr(tornado.web.RequestHandler, m.lower())]


def _unpack(route) -> tuple[str, type]:
    """(regex, handler class) of a route given as a tuple or a `tornado.web.url`."""
    if isinstance(route, tornado.web.URLSpec):
        return route.regex.pattern, route.handler_class
    return route[0], route[1]


def routes_and_methods(routes) -> set[tuple[str, str]]:
    """{(OpenAPI path, method)} of a route table."""
    found = set()
    for route in routes:
        pattern, handler = _unpack(route)
        path, _ = path_template(pattern)
        found.update((path, method) for method in handler_methods(handler))
    return found


def _summary(handler: type, method: str) -> str:
    doc = inspect.getdoc(getattr(handler, method.lower(), None)) or inspect.getdoc(handler) or ""
    return doc.strip().split("\n")[0].rstrip(".")


def _security(rule) -> list[dict]:
    if rule is None or rule.public:
        return []
    options = []
    if rule.user:
        options.append({"bearerAuth": []})
    if rule.key:
        options.append({"apiKeyAuth": []})
    return options


def _error(status: int) -> dict:
    return {"$ref": f"#/components/responses/Error{status}"}


def _success(returns: Returns) -> dict:
    headers = {"X-Request-Id": {"$ref": "#/components/headers/X-Request-Id"}}
    headers.update({name: {"$ref": f"#/components/headers/{name}"} for name in RATE_HEADERS})
    headers.update({name: {"schema": {"type": "string"}, "required": True} for name in returns.headers})
    answer = {"description": returns.description or "Success", "headers": headers}
    if returns.data is None:
        return answer
    if returns.media_type != "application/json":
        answer["content"] = {media: {"schema": {"type": "object" if media.endswith("json") else "string"}}
                             for media in (returns.media_type, *returns.also_media)}
        return answer
    if not returns.enveloped:
        answer["content"] = {"application/json": {"schema": returns.data}}
        return answer
    envelope = {"type": "object", "properties": {"data": returns.data}, "required": ["data"],
                "additionalProperties": False}
    if returns.paged:
        envelope["properties"]["data"] = {"type": "array", "items": returns.data}
        envelope["properties"]["meta"] = {"$ref": "#/components/schemas/PageMeta"}
        envelope["required"].append("meta")
    else:
        envelope["properties"]["meta"] = {"$ref": "#/components/schemas/Meta"}
    answer["content"] = {"application/json": {"schema": envelope}}
    answer["content"].update({media: {"schema": {"type": "string"}} for media in returns.also_media})
    return answer


def operation(handler: type, method: str, path: str, path_parameters: list[dict]) -> dict:
    is_api = issubclass(handler, BaseHandler)
    rule = getattr(handler, "rules", {}).get(method) if is_api else PUBLIC
    body = getattr(handler, "body_schemas", {}).get(method)
    query = getattr(handler, "query_schemas", {}).get(method)
    returns = getattr(handler, "response_schemas", {}).get(method)
    if returns is None and not is_api:  # a page or file (the dashboard): not JSON
        returns = Returns(data=None) if method == "HEAD" else Returns(media_type="*/*")
    if returns is None:
        returns = Returns(data=None, status=204) if method in ("OPTIONS", "HEAD") else Returns()
    op = {
        "operationId": f"{handler.__module__.split('.')[-1]}.{handler.__name__}.{method.lower()}",
        "summary": _summary(handler, method),
        "tags": [handler.__module__.split(".")[-1]],
        "security": _security(rule),
    }
    parameters = list(path_parameters)
    if query is not None:
        schema = query.json_schema()
        for name, field_schema in schema["properties"].items():
            parameters.append({"name": name, "in": "query", "required": name in schema["required"],
                               "schema": field_schema})
    if parameters:
        op["parameters"] = parameters
    if body is not None:
        op["requestBody"] = {"required": method not in getattr(handler, "body_optional", ()),
                             "content": {"application/json": {"schema": body.json_schema()}}}
    responses = {str(status): _success(returns) for status in (returns.status, *returns.also)}
    if returns.not_modified:
        responses["304"] = {"description": "Not modified: the If-None-Match ETag is current"}
    if is_api:
        errors = [429, 500]
        if body is not None or query is not None:
            errors += [400]
        if body is not None or method in ("POST", "PUT", "PATCH"):
            errors += [413]
        if op["security"]:
            errors += [401, 403]
        if path_parameters:
            errors += [404]
        if method in ("POST", "PUT", "PATCH", "DELETE"):
            errors += [409]
        for status in sorted(set(errors)):
            responses.setdefault(str(status), _error(status))  # a page's own 404 etc. stays as declared
        responses["default"] = {"$ref": "#/components/responses/Error"}
    op["responses"] = responses
    return op


def build_document(routes=None) -> dict:
    if routes is None:
        from handlers import all_routes

        routes = all_routes()
    paths: dict[str, dict] = {}
    used: set[str] = set()
    for route in routes:
        pattern, handler = _unpack(route)
        path, parameters = path_template(pattern)
        for method in handler_methods(handler):
            op = operation(handler, method, path, parameters)
            base, n = op["operationId"], 2
            while op["operationId"] in used:  # one handler class on several routes
                op["operationId"], n = f"{base}{n}", n + 1
            used.add(op["operationId"])
            paths.setdefault(path, {})[method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Windback API",
            "version": VERSION,
            "description": "Churn recovery: churn events, win-back emails, webhooks, cancel flow, analytics. "
                           "Every JSON answer is an envelope: `{\"data\", \"meta\"}` or `{\"error\"}`.",
        },
        "paths": dict(sorted(paths.items())),
        "components": _components(),
    }


def _components() -> dict:
    error = {
        "type": "object",
        "properties": {"error": {
            "type": "object",
            "properties": {
                "code": {"type": "string", "enum": ERROR_CODES},
                "message": {"type": "string"},
                "details": {"type": "array", "items": {
                    "type": "object",
                    "properties": {"field": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                                   "message": {"type": "string"}},
                    "required": ["field", "message"]}},
            },
            "required": ["code", "message", "details"],
            "additionalProperties": False,
        }},
        "required": ["error"],
        "additionalProperties": False,
    }
    error_headers = {"X-Request-Id": {"$ref": "#/components/headers/X-Request-Id"}}
    error_headers.update({name: {"$ref": f"#/components/headers/{name}"} for name in RATE_HEADERS})
    responses = {f"Error{status}": {"description": text, "headers": error_headers,
                                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
                 for status, text in ERROR_DESCRIPTIONS.items()}
    responses["Error429"]["headers"] = {**error_headers, "Retry-After": {"schema": {"type": "string"}, "required": True}}
    responses["Error"] = {"description": "Any other error, in the same envelope", "headers": error_headers,
                          "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    headers = {"X-Request-Id": {"description": "Echoed from the request, else generated", "required": True,
                                "schema": {"type": "string"}}}
    headers.update({name: {"description": "Present while rate limiting is on", "schema": {"type": "string"}}
                    for name in RATE_HEADERS})
    return {
        "securitySchemes": {
            "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                           "description": "A user's token from /auth/register, /auth/login or /auth/google"},
            "apiKeyAuth": {"type": "apiKey", "in": "header", "name": "X-API-Key",
                           "description": "A project's secret key (sk_live_...), for that project only"},
        },
        "schemas": {
            "Error": error,
            "Meta": {"type": "object", "properties": {"warnings": {"type": "array", "items": {"type": "string"}}}},
            "PageMeta": {"type": "object", "properties": {
                "page": {"type": "integer", "minimum": 1}, "per_page": {"type": "integer", "minimum": 1},
                "total": {"type": "integer", "minimum": 0},
                "warnings": {"type": "array", "items": {"type": "string"}}},
                "required": ["page", "per_page", "total"]},
        },
        "responses": responses,
        "headers": headers,
    }


_DOCUMENT: bytes | None = None


class OpenApiHandler(BaseHandler):
    rules = {"GET": PUBLIC}
    response_schemas = {"GET": Returns({"type": "object", "required": ["openapi", "paths"]}, enveloped=False,
                                       description="This document (not enveloped)")}

    async def get(self):
        """This OpenAPI 3.1 document."""
        global _DOCUMENT
        if _DOCUMENT is None:  # the route table does not change while the process runs
            _DOCUMENT = json.dumps(build_document(), separators=(",", ":")).encode()
        self.set_header("Cache-Control", "public, max-age=300")
        self.finish(_DOCUMENT)


default_handlers = [(r"/api/v1/openapi\.json", OpenApiHandler)]


def render(document: dict) -> str:
    """The document as the repository keeps it (stable, readable diffs)."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
