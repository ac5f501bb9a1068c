"""The OpenAPI document: generated from the code, kept in the repository, served by the API, and
true to what the server answers."""
from __future__ import annotations

import json
import os
import re

import jsonschema_rs
import pytest

from handlers import all_routes
from handlers.access import PROJECT_MEMBER
from handlers.base import BaseHandler
from handlers.openapi import build_document, render, routes_and_methods
from handlers.responses import STRING, Returns, obj
from store.validation import Integer, Schema, String
from tests.conftest import ROOT

COMMITTED = os.path.join(ROOT, "docs", "openapi.json")


def committed() -> dict:
    with open(COMMITTED, encoding="utf-8") as handle:
        return json.load(handle)


def described(document: dict) -> set[tuple[str, str]]:
    return {(path, method.upper()) for path, item in document["paths"].items() for method in item}


def test_committed_document_is_the_generated_one():
    with open(COMMITTED, encoding="utf-8") as handle:
        text = handle.read()
    assert text == render(build_document()), "docs/openapi.json is out of date: run python scripts/openapi.py"


def test_every_route_and_method_is_described_and_nothing_else():
    routes = routes_and_methods(all_routes())
    document = described(committed())
    assert routes - document == set(), "routes the document does not describe"
    assert document - routes == set(), "the document describes routes that do not exist"
    assert ("/api/v1/projects/{slug}/churn-events/{event_id}/recovered", "POST") in document


def _schemas(node):
    """Every JSON Schema inside the document (under `schema` keys and components.schemas)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "schema" and isinstance(value, dict):
                yield value
            yield from _schemas(value)
    elif isinstance(node, list):
        for item in node:
            yield from _schemas(item)


def test_document_is_openapi_3_1_with_valid_schemas_and_unique_operation_ids():
    document = committed()
    assert document["openapi"].startswith("3.1")
    schemas = list(_schemas(document)) + list(document["components"]["schemas"].values())
    assert len(schemas) > 50
    for schema in schemas:
        assert jsonschema_rs.meta.is_valid(schema), schema
    ids = [op["operationId"] for item in document["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))
    for path, item in document["paths"].items():
        for op in item.values():
            names = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert names == set(re.findall(r"{(\w+)}", path)), path
            assert op["responses"], path


def test_a_handler_is_described_by_the_schemas_it_declares():
    class WidgetsHandler(BaseHandler):
        """Widgets of a project."""

        rules = {"GET": PROJECT_MEMBER, "POST": PROJECT_MEMBER}
        query_schemas = {"GET": Schema({"colour": String(max_length=10), "page": Integer(minimum=1)})}
        body_schemas = {"POST": Schema({"name": String(required=True, min_length=1, max_length=50)})}
        response_schemas = {"GET": Returns(obj({"name": STRING}), paged=True),
                            "POST": Returns(obj({"name": STRING}), status=201)}

    document = build_document([(r"/api/v1/projects/(?P<slug>[^/]+)/widgets", WidgetsHandler)])
    item = document["paths"]["/api/v1/projects/{slug}/widgets"]
    assert set(item) == {"get", "post"}
    assert [p["name"] for p in item["get"]["parameters"]] == ["slug", "colour", "page"]
    assert item["post"]["requestBody"]["content"]["application/json"]["schema"]["required"] == ["name"]
    assert {"200", "400", "401", "403", "404", "429"} <= set(item["get"]["responses"])
    assert set(item["post"]["responses"]) >= {"201", "409", "413"}
    assert item["get"]["security"] == [{"bearerAuth": []}, {"apiKeyAuth": []}]
    page = item["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert page["required"] == ["data", "meta"] and page["properties"]["data"]["type"] == "array"


def test_plain_tornado_routes_are_described_as_pages():
    import tornado.web

    class Page(tornado.web.RequestHandler):
        """The dashboard."""

        def get(self, path=""):
            self.finish("<html></html>")

        def head(self, path=""):
            self.finish()

    routes = [(r"/app/assets/(.+)", tornado.web.StaticFileHandler, {"path": "/tmp"}),
              (r"/app()/?", Page), (r"/app/(.*)", Page)]
    document = build_document(routes)
    assert set(document["paths"]) == {"/app/assets/{path}", "/app", "/app/{path}"}
    assert set(document["paths"]["/app"]) == {"get", "head"}
    page = document["paths"]["/app/{path}"]["get"]
    assert page["security"] == [] and list(page["responses"]["200"]["content"]) == ["*/*"]
    assert routes_and_methods(routes) == described(document)


class Contract:
    """Validates real answers against the document's schema for (path, method, status)."""

    def __init__(self, document: dict):
        self.document = document

    def check(self, path: str, method: str, response) -> None:
        responses = self.document["paths"][path][method.lower()]["responses"]
        status = str(response.status)
        assert status in responses or "default" in responses, f"{method} {path} {status} is not documented"
        answer = responses.get(status) or responses["default"]
        pointer = None
        if "$ref" in answer:
            answer = self.document["components"]["responses"][answer["$ref"].rsplit("/", 1)[1]]
            pointer = "#/components/schemas/Error"
        if "content" not in answer:
            assert not response.text
            return
        assert response.headers["Content-Type"].startswith("application/json")
        schema = answer["content"]["application/json"]["schema"]
        root = {"components": self.document["components"], **({"$ref": pointer} if pointer else schema)}
        errors = [str(e) for e in jsonschema_rs.validator_for(root).iter_errors(response.json)]
        assert not errors, (method, path, status, errors, response.json)


@pytest.mark.gen_test(timeout=60)
async def test_real_answers_match_the_document(api):
    contract = Contract(committed())
    served = await api.get("/openapi.json")
    assert served.status == 200 and served.json == build_document()

    p = "/api/v1"
    register = await api.post("/auth/register", {"email": "c@example.com", "password": "correct horse"})
    contract.check(p + "/auth/register", "POST", register)
    token = register.data["token"]
    contract.check(p + "/auth/register", "POST", await api.post("/auth/register", {"email": "c@example.com",
                                                                                  "password": "correct horse"}))
    contract.check(p + "/auth/login", "POST", await api.post("/auth/login", {"email": "c@example.com", "password": "x"}))
    contract.check(p + "/auth/me", "GET", await api.get("/auth/me", token=token))
    contract.check(p + "/auth/me", "GET", await api.get("/auth/me", token="forged"))
    created = await api.post("/projects", {"name": "Acme", "slug": "acme"}, token=token)
    contract.check(p + "/projects", "POST", created)
    key = created.data["secret_key"]
    contract.check(p + "/projects", "GET", await api.get("/projects", token=token))
    contract.check(p + "/projects", "GET", await api.get("/projects?per_page=500", token=token))
    contract.check(p + "/projects/{slug}", "PATCH",
                   await api.patch("/projects/acme", {"settings": {"stripe_webhook_secret": "whsec_abcdefgh"}}, token=token))
    contract.check(p + "/projects/{slug}", "GET", await api.get("/projects/acme", key=key))
    contract.check(p + "/projects/{slug}", "PATCH", await api.patch("/projects/acme", {"name": "X"}, key=key))
    events = p + "/projects/{slug}/churn-events"
    event = await api.post("/projects/acme/churn-events", {"customer_email": "a@b.co", "mrr_cents": 100}, key=key)
    contract.check(events, "POST", event)
    contract.check(events, "POST", await api.post("/projects/acme/churn-events", {"customer_email": "a@b.co"}, key=key))
    contract.check(events, "POST", await api.post("/projects/acme/churn-events", {"customer_email": 5}, key=key))
    contract.check(events, "GET", await api.get("/projects/acme/churn-events?status=new&sort=mrr_cents", key=key))
    one = events + "/{event_id}"
    contract.check(one, "GET", await api.get(f"/projects/acme/churn-events/{event.data['id']}", key=key))
    contract.check(one, "GET", await api.get("/projects/acme/churn-events/nope", key=key))
    contract.check(one + "/recovered", "POST",
                   await api.post(f"/projects/acme/churn-events/{event.data['id']}/recovered", key=key))
    contract.check(one + "/recovered", "POST",
                   await api.post(f"/projects/acme/churn-events/{event.data['id']}/recovered", key=key))
    contract.check(one + "/cancel-reason", "PATCH",
                   await api.patch(f"/projects/acme/churn-events/{event.data['id']}/cancel-reason",
                                   {"cancel_reason": "other"}, key=key))
    contract.check(p + "/projects/{slug}/rotate-keys", "POST",
                   await api.post("/projects/acme/rotate-keys", token=token))
    contract.check("/health", "GET", await api.get("/health"))
