"""Projects, their keys and their members."""
from __future__ import annotations

import datetime as dt
import re

import peewee

from store.campaign_settings import effective_campaign
from store.keys import constant_time_equal, is_masked, mask, new_public_key, new_secret_key, sha256_hex
from store.db import database, is_sqlite, transaction
from store.models import Membership, Project, ProjectKey, utcnow
from store import project_changes
from store.raw_sql import cached_sql, prepared
from store.serialize import dumps, iso, loads_object

ROLE_RANK = {"member": 1, "admin": 2, "owner": 3}
SECRET_SETTINGS = ("stripe_webhook_secret", "razorpay_webhook_secret", "custom_webhook_secret")
DEFAULT_OFFER_COOLDOWN_DAYS = 365
DEFAULT_SETTINGS = {"mail_from": None, "brand_name": None, "lost_after_days": 90}
# Failed-payment emails: one per step, `after_hours` after the payment failed (docs/dunning.md).
DEFAULT_DUNNING = {"enabled": True, "steps": [{"after_hours": 0}, {"after_hours": 72}, {"after_hours": 168}]}


class SlugTaken(Exception):
    pass


def billing_view(stored: dict, cooldown_days: int | None = None) -> dict:
    """`settings.billing` as the API shows it: credentials masked, never the sealed blob
    (services/billing/credentials.py writes it)."""
    default = DEFAULT_OFFER_COOLDOWN_DAYS if cooldown_days is None else cooldown_days
    view = {"provider": stored.get("provider"), "connected": bool(stored.get("credentials")),
            "connected_at": stored.get("connected_at"),
            "offer_cooldown_days": stored.get("offer_cooldown_days", default)}
    view.update(stored.get("display") or {})
    return view


def project_settings(project: Project) -> dict:
    settings = dict(DEFAULT_SETTINGS)
    settings.update(loads_object(project.settings))
    dunning = settings.get("dunning")
    settings["dunning"] = {**DEFAULT_DUNNING, **(dunning if isinstance(dunning, dict) else {})}
    settings["campaign"] = effective_campaign(settings.get("campaign"))
    return settings


def settings_of(project_id: str) -> dict:
    """`project_settings` of a project by id, for the write path (every new churn asks for its
    campaign and lost cutoff): one statement built once, not a peewee query per call."""
    sql = cached_sql(("project-settings",), lambda: Project.select(Project.settings).where(Project.id == "").sql()[0])
    row = database.obj.execute_sql(sql, (project_id,)).fetchone()
    if row is None:
        raise Project.DoesNotExist(f"project {project_id}")
    return project_settings(Project(id=project_id, settings=row[0]))


def project_json(project: Project, reveal: tuple[str, ...] = ()) -> dict:
    settings = project_settings(project)
    for name in SECRET_SETTINGS:
        if settings.get(name) and name not in reveal:
            settings[name] = mask(settings[name])
    if isinstance(settings.get("billing"), dict):
        settings["billing"] = billing_view(settings["billing"], settings.get("offer_cooldown_days"))
    return {
        "id": project.id,
        "slug": project.slug,
        "name": project.name,
        "plan": project.plan,
        "public_key": project.public_key,
        "created_at": iso(project.created_at),
        "settings": settings,
    }


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40].strip("-")
    return slug if len(slug) >= 3 else (slug + "-project").strip("-")


def create_project(user_id: str, name: str, slug: str | None) -> tuple[Project, str]:
    """Create a project owned by `user_id`; return it with its secret key (shown once)."""
    candidates = [slug] if slug else [slugify(name)] + [f"{slugify(name)}-{n}" for n in range(2, 200)]
    for candidate in candidates:
        secret_key, public_key = new_secret_key(), new_public_key()
        try:
            with transaction():
                project = Project.create(slug=candidate, name=name, public_key=public_key)
                ProjectKey.create(project=project, kind="secret", lookup=sha256_hex(secret_key))
                ProjectKey.create(project=project, kind="public", lookup=public_key)
                Membership.create(project=project, user=user_id, role="owner")
            return project, secret_key
        except peewee.IntegrityError:
            if Project.get_or_none(Project.slug == candidate) is None:
                raise
    raise SlugTaken(slug or name)


def project_by_slug(slug: str) -> Project | None:
    return Project.get_or_none(Project.slug == slug)


def live_key(kind: str, lookup: str) -> ProjectKey | None:
    """A key that works now (current, or rotated and still in its grace period), with its project;
    `lookup` is the SHA-256 of a secret key or the public key itself. Every request whose key is
    not in the process's short cache asks this, so its statement is built once."""
    statement = prepared(("live-key",), lambda slot: (
        Project.select(Project, ProjectKey.lookup.alias("key_lookup"), ProjectKey.expires_at.alias("key_expires_at"))
        .join(ProjectKey, on=(ProjectKey.project == Project.id))
        .where((ProjectKey.lookup == slot("lookup")) & (ProjectKey.kind == slot("kind"))
               & (ProjectKey.expires_at.is_null() | (ProjectKey.expires_at > slot("now"))))
        .limit(1)), now=ProjectKey.expires_at)
    found = statement.rows(Project, lookup=lookup, kind=kind, now=utcnow())
    if not found or not constant_time_equal(found[0].key_lookup, lookup):
        return None
    project = found[0]
    return ProjectKey(project=project, kind=kind, lookup=project.key_lookup,
                      expires_at=ProjectKey.expires_at.python_value(project.key_expires_at))


def secret_key_owner(secret_key: str) -> tuple[Project, dt.datetime | None] | None:
    """The project of a live secret key and when that key stops working (None: never)."""
    key = live_key("secret", sha256_hex(secret_key))
    return (key.project, key.expires_at) if key else None


def membership(slug: str, user_id: str) -> tuple[Project, str] | None:
    row = (Membership.select(Membership.role, Project).join(Project)
           .where((Project.slug == slug) & (Membership.user == user_id)).first())
    return (row.project, row.role) if row else None


def list_projects(user_id: str, offset: int, limit: int) -> tuple[list[dict], int]:
    query = (Project.select(Project, Membership.role).join(Membership)
             .where(Membership.user == user_id))
    total = query.count()
    rows = query.order_by(Project.created_at.desc(), Project.id).offset(offset).limit(limit)
    out = []
    for project in rows:
        data = project_json(project)
        data["role"] = project.membership.role
        out.append(data)
    return out, total


def lock_project(project_id: str) -> None:
    """Serialize read-modify-write changes of one project across processes: a row lock on
    PostgreSQL; SQLite's IMMEDIATE write transactions already serialize every writer."""
    if not is_sqlite():
        Project.select(Project.id).where(Project.id == project_id).for_update().first()


def update_project(project_id: str, name: str | None, settings_patch: dict | None) -> tuple[Project, tuple]:
    """Merge `settings_patch` key by key. A masked secret sent back is ignored. Returns the project
    and the names of the secrets this call set (shown unmasked in its answer only)."""
    revealed = []
    with transaction():
        lock_project(project_id)
        project = Project.get_by_id(project_id)
        settings = loads_object(project.settings)
        for key, value in (settings_patch or {}).items():
            if key in SECRET_SETTINGS and isinstance(value, str) and is_masked(value):
                continue
            if key in SECRET_SETTINGS and value:
                revealed.append(key)
            if isinstance(value, dict) and isinstance(settings.get(key), dict) and key != "cancel_flow":
                settings[key] = {**settings[key], **value}
            else:
                settings[key] = value
        if name is not None:
            project.name = name
        project.settings = dumps(settings)
        project.updated_at = utcnow()
        project.save()
        project_changes.record(project_id)
    return project, tuple(revealed)


def rotate_keys(project_id: str, grace_seconds: int, rotate_public: bool) -> dict:
    now = utcnow()
    expires = now + dt.timedelta(seconds=grace_seconds)
    secret_key = new_secret_key()
    with transaction():
        project = Project.get_by_id(project_id)
        kinds = ["secret", "public"] if rotate_public else ["secret"]
        (ProjectKey.update(expires_at=expires)
         .where((ProjectKey.project == project_id) & (ProjectKey.kind.in_(kinds))
                & (ProjectKey.expires_at.is_null() | (ProjectKey.expires_at > expires)))
         .execute())
        ProjectKey.create(project=project, kind="secret", lookup=sha256_hex(secret_key))
        if rotate_public:
            project.public_key = new_public_key()
            ProjectKey.create(project=project, kind="public", lookup=project.public_key)
            project.updated_at = now
            project.save()
        project_changes.record(project_id)
    return {"secret_key": secret_key, "public_key": project.public_key,
            "previous_keys_expire_at": iso(expires)}
