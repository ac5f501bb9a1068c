"""Who may call a handler's method: each feature handler declares one `Rule` per method in
`rules`, and `BaseHandler` refuses anything a rule does not allow (deny by default; docs/roles.md)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    """Who may call one method of a handler. Anything not allowed is refused."""

    public: bool = False  # no credential needed
    user: bool = False  # a signed-in user (JWT)
    key: bool = False  # a project's secret key (X-API-Key), for its own project only
    role: str | None = None  # minimum project role of a user, for routes with a project slug


PUBLIC = Rule(public=True)
SIGNED_IN = Rule(user=True)
PROJECT_MEMBER = Rule(user=True, key=True, role="member")
PROJECT_ADMIN = Rule(user=True, role="admin")
PROJECT_OWNER = Rule(user=True, role="owner")
KEY_ONLY = Rule(key=True)
