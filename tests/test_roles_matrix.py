"""The role matrix of docs/roles.md, as one table: for each endpoint that changes
settings, keys, team or events, the status each caller gets.

Columns: the project's owner, an admin, a member, a signed-in user who is not a member, and the
project's secret key (X-API-Key). Every cell runs against a fresh project, so a cell that
changes something (removing a member, rotating keys) cannot affect another. Adding an endpoint
is one line in ROWS; its path may use {slug}, {event}, {invitation}, {target_member},
{target_admin} and {co_owner}.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass

import jwt
import pytest

from store.db import unit_of_work
from store.team import add_member

CALLERS = ("owner", "admin", "member", "non_member", "api_key")


@dataclass(frozen=True)
class Row:
    method: str
    path: str
    body: dict | None
    expected: dict[str, int]

    def __str__(self):
        return f"{self.method} {self.path}"


def row(method, path, body, owner, admin, member, non_member, api_key) -> Row:
    return Row(method, path, body, dict(zip(CALLERS, (owner, admin, member, non_member, api_key))))


ROWS = [
    # project settings and keys
    row("GET", "/projects/{slug}", None, 200, 200, 200, 404, 200),
    row("PATCH", "/projects/{slug}", {"name": "Renamed"}, 200, 200, 403, 404, 403),
    row("PATCH", "/projects/{slug}", {"settings": {"brand_name": "B"}}, 200, 200, 403, 404, 403),
    row("POST", "/projects/{slug}/rotate-keys", {}, 200, 200, 403, 404, 403),
    # churn events
    row("GET", "/projects/{slug}/churn-events", None, 200, 200, 200, 404, 200),
    row("POST", "/projects/{slug}/churn-events", {"customer_email": "new@customer.co"}, 201, 201, 201, 404, 201),
    row("POST", "/projects/{slug}/churn-events/{event}/recovered", {}, 200, 200, 200, 404, 200),
    row("PATCH", "/projects/{slug}/churn-events/{event}/cancel-reason", {"cancel_reason": "other"},
        200, 200, 200, 404, 200),
    # team
    row("GET", "/projects/{slug}/members", None, 200, 200, 200, 404, 403),
    row("POST", "/projects/{slug}/invitations", {"email": "new@team.co", "role": "member"}, 201, 201, 403, 404, 403),
    row("POST", "/projects/{slug}/invitations", {"email": "new@team.co", "role": "admin"}, 201, 201, 403, 404, 403),
    row("GET", "/projects/{slug}/invitations", None, 200, 200, 403, 404, 403),
    row("DELETE", "/projects/{slug}/invitations/{invitation}", None, 204, 204, 403, 404, 403),
    row("PATCH", "/projects/{slug}/members/{target_member}", {"role": "admin"}, 200, 403, 403, 404, 403),
    row("PATCH", "/projects/{slug}/members/{target_admin}", {"role": "member"}, 200, 403, 403, 404, 403),
    row("PATCH", "/projects/{slug}/members/{target_member}", {"role": "owner"}, 200, 403, 403, 404, 403),
    row("PATCH", "/projects/{slug}/members/{co_owner}", {"role": "member"}, 200, 403, 403, 404, 403),
    row("DELETE", "/projects/{slug}/members/{target_member}", None, 204, 204, 403, 404, 403),
    row("DELETE", "/projects/{slug}/members/{target_admin}", None, 204, 204, 403, 404, 403),
    row("DELETE", "/projects/{slug}/members/{co_owner}", None, 204, 403, 403, 404, 403),
]


def user_id_of(token: str) -> str:
    return jwt.decode(token, options={"verify_signature": False})["sub"]


class World:
    """The same people in a fresh project per cell: a cell that changes something (removing a
    member, rotating keys) cannot affect another, and the database is emptied only once."""

    TEAM = (("admin", "admin"), ("member", "member"), ("target_member", "member"),
            ("target_admin", "admin"), ("co_owner", "owner"))

    def __init__(self, api):
        self.api = api
        self.tokens: dict[str, str] = {}
        self.projects = 0

    async def sign_up_everyone(self) -> None:
        for name in ("owner", "non_member", *(name for name, _ in self.TEAM)):
            self.tokens[name] = await self.api.signup(email=f"{name}-{secrets.token_hex(3)}@example.com")

    async def new_project(self) -> tuple[dict, dict]:
        """A project with one person per role, an open churn event and a pending invitation:
        (credentials per caller, values for the path)."""
        self.projects += 1
        slug = f"matrix-{self.projects}"
        project = await self.api.new_project(self.tokens["owner"], name=f"Matrix {self.projects}", slug=slug)
        with unit_of_work():
            for name, role in self.TEAM:
                add_member(project["id"], user_id_of(self.tokens[name]), role)
        event = await self.api.post(f"/projects/{slug}/churn-events", {"customer_email": "old@customer.co"},
                                    key=project["secret_key"])
        invitation = await self.api.post(f"/projects/{slug}/invitations",
                                         {"email": "pending@team.co", "role": "member"}, token=self.tokens["owner"])
        assert event.status == 201 and invitation.status == 201
        credentials = {name: {"token": self.tokens[name]} for name in CALLERS if name != "api_key"}
        credentials["api_key"] = {"key": project["secret_key"]}
        path = {"slug": slug, "event": event.data["id"], "invitation": invitation.data["id"],
                **{name: user_id_of(self.tokens[name]) for name in ("target_member", "target_admin", "co_owner")}}
        return credentials, path


@pytest.mark.gen_test(timeout=300)
async def test_role_matrix(api):
    world = World(api)
    await world.sign_up_everyone()
    wrong = []
    for entry in ROWS:
        for caller in CALLERS:
            credentials, values = await world.new_project()
            response = await api.request(entry.method, entry.path.format(**values), entry.body, **credentials[caller])
            expected = entry.expected[caller]
            code_ok = response.status not in (403, 404) or response.error["code"] == (
                "FORBIDDEN" if response.status == 403 else "NOT_FOUND")
            if response.status != expected or not code_ok:
                wrong.append(f"{entry} {entry.body or ''} as {caller}: expected {expected}, got {response}")
    assert not wrong, "\n".join(wrong)
