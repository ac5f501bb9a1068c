"""Windback configuration: read once at start into one typed `Settings` object.

Every variable of docs/configuration.md lives here. Nothing else in the code base reads the process
environment; the `Settings` object is passed down from `server.py`.
"""
from __future__ import annotations

import dataclasses
import os
import urllib.parse
from dataclasses import dataclass, field
from typing import Mapping

VERSION = "0.1.0"
GOOGLE_CERTS_URL = "https://www.googleapis.com/oauth2/v3/certs"


class ConfigError(ValueError):
    """An environment variable holds a value the server cannot use."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    username: str | None
    password: str | None
    use_tls: bool  # implicit TLS (smtps://)
    start_tls: bool | None  # None: upgrade only if offered


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    database_url: str = "sqlite:///windback.db"
    secret: str | None = None  # None: generated once and stored in the database
    public_url: str = ""
    smtp: SmtpSettings | None = None
    outbox_dir: str = "./outbox"
    mail_from: str = "Windback <no-reply@localhost>"
    openai_api_key: str | None = None
    openai_base_url: str | None = None
    openai_model: str = "gpt-4o-mini"
    openai_timeout: float = 20.0
    google_client_id: str | None = None
    google_jwks_url: str = GOOGLE_CERTS_URL
    rate_limit_scale: float = 1.0
    tls_cert: str | None = None
    tls_key: str | None = None
    require_https: bool = False
    trusted_proxies: frozenset[str] = field(default_factory=frozenset)
    bcrypt_rounds: int = 12
    log_level: str = "info"
    # Operators' tuning knobs beyond the basic table; documented in docs/configuration.md.
    actor_timeout: float = 10.0
    actor_idle_seconds: float = 300.0
    jwt_ttl_seconds: int = 24 * 3600
    db_workers: int = 8
    max_actors: int = 256  # live project actors before idle ones are stopped to make room
    actor_threads: int = 0  # threads that run every project's actor commands; 0: actor_pool_threads
    scheduler_poll_seconds: float = 1.0  # how often the durable scheduler looks for due jobs
    project_cache_size: int = 20_000  # projects whose keys and settings each process keeps in memory
    change_poll_seconds: float = 1.0  # how often a process reads the project change log
    sqlite_writer_cache_mb: int = 64  # SQLite page cache of the actor pool threads' connections
    random_seed: int | None = None  # seeds the campaign's Thompson sampling (tests); None: unpredictable
    # Billing (docs/offers.md): where provider calls go, how long one may take, and the key file
    # that encrypts billing credentials when WINDBACK_SECRET does not come from the environment.
    stripe_api_base: str = "https://api.stripe.com"
    razorpay_api_base: str = "https://api.razorpay.com"
    billing_timeout: float = 10.0
    billing_workers: int = 4
    billing_key_file: str = ""  # "": beside the data (see default_billing_key_file)
    webhook_retry_scale: float = 1.0  # multiplies outbound-webhook retry delays (tests: 0.001)
    allow_private_webhook_urls: bool = False  # outbound webhook URLs may be http:// and private

    @property
    def rate_limiting(self) -> bool:
        return self.rate_limit_scale > 0

    @property
    def mail_backend(self) -> str:
        if self.smtp:
            return f"smtp://{self.smtp.host}:{self.smtp.port}"
        return f"file outbox {self.outbox_dir}"

    @property
    def writer_backend(self) -> str:
        return f"openai:{self.openai_model}" if self.openai_api_key else "template"

    @property
    def on_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite:")

    @property
    def actor_pool_threads(self) -> int:
        """WINDBACK_ACTOR_THREADS, or by default 1 on SQLite (one writer at a time is all it
        allows: that thread shares each transaction among the projects ready) and 16 on
        PostgreSQL (commands of different projects run at once)."""
        return self.actor_threads or (1 if self.on_sqlite else 16)

    @property
    def shared_transaction_seconds(self) -> float | None:
        """How long the actor pool may keep one transaction open for the projects ready one after
        another (docs/actors.md): on SQLite only, where writers queue for one lock anyway."""
        return 0.02 if self.on_sqlite else None

    @property
    def database_connections(self) -> int:
        """PostgreSQL's pool size: one connection for each thread that can use the database at
        once (the actor pool, the read workers, and a few more for the group committers,
        start-up and housekeeping), so the pool is bounded and no thread waits for one."""
        return self.actor_pool_threads + self.db_workers + 8

    def replace(self, **changes) -> "Settings":
        return dataclasses.replace(self, **changes)


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_LOG_LEVELS = {"debug", "info", "warning", "error", "critical"}


def _bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name} must be true or false, not {raw!r}")


def _int(name: str, raw: str, low: int, high: int) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, not {value}")
    return value


def _float(name: str, raw: str, low: float) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, not {raw!r}") from None
    if value < low:
        raise ConfigError(f"{name} must be at least {low}, not {value}")
    return value


def parse_smtp_url(raw: str) -> SmtpSettings:
    url = urllib.parse.urlsplit(raw)
    if url.scheme not in ("smtp", "smtps") or not url.hostname:
        raise ConfigError(
            f"WINDBACK_SMTP_URL must look like smtp://user:pass@host:port or smtps://..., not {raw!r}"
        )
    query = urllib.parse.parse_qs(url.query)
    start_tls = None
    if "starttls" in query:
        start_tls = _bool("WINDBACK_SMTP_URL starttls", query["starttls"][0])
    use_tls = url.scheme == "smtps"
    try:
        port = url.port or (465 if use_tls else 25)
    except ValueError:
        raise ConfigError(f"WINDBACK_SMTP_URL has an invalid port: {raw!r}") from None
    return SmtpSettings(
        host=url.hostname,
        port=port,
        username=urllib.parse.unquote(url.username) if url.username else None,
        password=urllib.parse.unquote(url.password) if url.password else None,
        use_tls=use_tls,
        start_tls=False if use_tls else start_tls,
    )


def _database_url(raw: str) -> str:
    scheme = raw.split("://", 1)[0] if "://" in raw else ""
    if scheme not in ("sqlite", "postgres", "postgresql", "postgres+pool", "postgresql+pool"):
        raise ConfigError(
            "WINDBACK_DATABASE_URL must be sqlite:///path.db or postgresql://user:pw@host:5432/db, "
            f"not {raw!r}"
        )
    return raw


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build the settings from the environment (and an optional `.env` file; env wins)."""
    env = dict(_read_dotenv(".env")) if environ is None else {}
    env.update(os.environ if environ is None else environ)

    def get(name: str) -> str | None:
        value = env.get(name)
        return value if value not in (None, "") else None

    values: dict = {}
    if (v := get("WINDBACK_HOST")) is not None:
        values["host"] = v
    if (v := get("WINDBACK_PORT")) is not None:
        values["port"] = _int("WINDBACK_PORT", v, 0, 65535)
    if (v := get("WINDBACK_DATABASE_URL")) is not None:
        values["database_url"] = _database_url(v)
    if (v := get("WINDBACK_SECRET")) is not None:
        if len(v) < 32:
            raise ConfigError("WINDBACK_SECRET must be at least 32 characters long (HS256 wants 32 bytes of key)")
        values["secret"] = v
    if (v := get("WINDBACK_SMTP_URL")) is not None:
        values["smtp"] = parse_smtp_url(v)
    if (v := get("WINDBACK_OUTBOX_DIR")) is not None:
        values["outbox_dir"] = v
    if (v := get("WINDBACK_MAIL_FROM")) is not None:
        values["mail_from"] = v
    key = get("WINDBACK_OPENAI_API_KEY") or get("OPENAI_API_KEY")
    if key:
        values["openai_api_key"] = key
    if (v := get("WINDBACK_OPENAI_BASE_URL")) is not None:
        values["openai_base_url"] = v
    if (v := get("WINDBACK_OPENAI_MODEL")) is not None:
        values["openai_model"] = v
    if (v := get("WINDBACK_OPENAI_TIMEOUT")) is not None:
        values["openai_timeout"] = _float("WINDBACK_OPENAI_TIMEOUT", v, 0.1)
    if (v := get("WINDBACK_GOOGLE_CLIENT_ID")) is not None:
        values["google_client_id"] = v
    if (v := get("WINDBACK_GOOGLE_JWKS_URL")) is not None:
        values["google_jwks_url"] = v
    if (v := get("WINDBACK_RATE_LIMIT_SCALE")) is not None:
        values["rate_limit_scale"] = _float("WINDBACK_RATE_LIMIT_SCALE", v, 0)
    cert, keyfile = get("WINDBACK_TLS_CERT"), get("WINDBACK_TLS_KEY")
    if bool(cert) != bool(keyfile):
        raise ConfigError("WINDBACK_TLS_CERT and WINDBACK_TLS_KEY must be set together")
    for name, path in (("WINDBACK_TLS_CERT", cert), ("WINDBACK_TLS_KEY", keyfile)):
        if path and not os.path.isfile(path):
            raise ConfigError(f"{name} names a file that does not exist: {path}")
    values["tls_cert"], values["tls_key"] = cert, keyfile
    if (v := get("WINDBACK_REQUIRE_HTTPS")) is not None:
        values["require_https"] = _bool("WINDBACK_REQUIRE_HTTPS", v)
    if (v := get("WINDBACK_TRUSTED_PROXIES")) is not None:
        values["trusted_proxies"] = frozenset(p.strip() for p in v.split(",") if p.strip())
    if (v := get("WINDBACK_BCRYPT_ROUNDS")) is not None:
        values["bcrypt_rounds"] = _int("WINDBACK_BCRYPT_ROUNDS", v, 4, 31)
    if (v := get("WINDBACK_LOG_LEVEL")) is not None:
        if v.lower() not in _LOG_LEVELS:
            raise ConfigError(f"WINDBACK_LOG_LEVEL must be one of {sorted(_LOG_LEVELS)}, not {v!r}")
        values["log_level"] = v.lower()
    if (v := get("WINDBACK_ACTOR_TIMEOUT")) is not None:
        values["actor_timeout"] = _float("WINDBACK_ACTOR_TIMEOUT", v, 0.1)
    if (v := get("WINDBACK_ACTOR_IDLE_SECONDS")) is not None:
        values["actor_idle_seconds"] = _float("WINDBACK_ACTOR_IDLE_SECONDS", v, 1)
    if (v := get("WINDBACK_DB_WORKERS")) is not None:
        values["db_workers"] = _int("WINDBACK_DB_WORKERS", v, 1, 256)
    if (v := get("WINDBACK_JWT_TTL_SECONDS")) is not None:
        values["jwt_ttl_seconds"] = _int("WINDBACK_JWT_TTL_SECONDS", v, 60, 90 * 24 * 3600)
    if (v := get("WINDBACK_MAX_ACTORS")) is not None:
        values["max_actors"] = _int("WINDBACK_MAX_ACTORS", v, 1, 1_000_000)
    if (v := get("WINDBACK_ACTOR_THREADS")) is not None:
        values["actor_threads"] = _int("WINDBACK_ACTOR_THREADS", v, 1, 256)
    if (v := get("WINDBACK_PROJECT_CACHE_SIZE")) is not None:
        values["project_cache_size"] = _int("WINDBACK_PROJECT_CACHE_SIZE", v, 100, 10_000_000)
    if (v := get("WINDBACK_CHANGE_POLL_SECONDS")) is not None:
        values["change_poll_seconds"] = _float("WINDBACK_CHANGE_POLL_SECONDS", v, 0.05)
    if (v := get("WINDBACK_SQLITE_WRITER_CACHE_MB")) is not None:
        values["sqlite_writer_cache_mb"] = _int("WINDBACK_SQLITE_WRITER_CACHE_MB", v, 2, 65_536)
    if (v := get("WINDBACK_SCHEDULER_POLL_SECONDS")) is not None:
        values["scheduler_poll_seconds"] = _float("WINDBACK_SCHEDULER_POLL_SECONDS", v, 0.05)
    if (v := get("WINDBACK_RANDOM_SEED")) is not None:
        values["random_seed"] = _int("WINDBACK_RANDOM_SEED", v, 0, 2**63 - 1)

    for name, field_name in (("WINDBACK_STRIPE_API_BASE", "stripe_api_base"),
                             ("WINDBACK_RAZORPAY_API_BASE", "razorpay_api_base")):
        if (v := get(name)) is not None:
            if not v.startswith(("http://", "https://")):
                raise ConfigError(f"{name} must start with http:// or https://, not {v!r}")
            values[field_name] = v.rstrip("/")
    if (v := get("WINDBACK_BILLING_TIMEOUT")) is not None:
        values["billing_timeout"] = _float("WINDBACK_BILLING_TIMEOUT", v, 0.1)
    if (v := get("WINDBACK_BILLING_WORKERS")) is not None:
        values["billing_workers"] = _int("WINDBACK_BILLING_WORKERS", v, 1, 64)
    values["billing_key_file"] = get("WINDBACK_BILLING_KEY_FILE") or default_billing_key_file(
        values.get("database_url", Settings.database_url))
    if (v := get("WINDBACK_WEBHOOK_RETRY_SCALE")) is not None:
        values["webhook_retry_scale"] = _float("WINDBACK_WEBHOOK_RETRY_SCALE", v, 0)
    if (v := get("WINDBACK_ALLOW_PRIVATE_WEBHOOK_URLS")) is not None:
        values["allow_private_webhook_urls"] = _bool("WINDBACK_ALLOW_PRIVATE_WEBHOOK_URLS", v)

    settings = Settings(**values)
    if settings.require_https and not settings.secret:
        # The generated secret is kept in the database in clear: whoever reads a backup could
        # sign sessions for any user. A server that insists on HTTPS needs a real secret.
        raise ConfigError("WINDBACK_REQUIRE_HTTPS=true needs WINDBACK_SECRET in the environment (at least 32 "
                          "characters): the generated secret is stored in the database in clear "
                          "(docs/deploy.md)")
    public_url = get("WINDBACK_PUBLIC_URL")
    if public_url is None:
        scheme = "https" if settings.tls_cert else "http"
        public_url = f"{scheme}://{settings.host}:{settings.port}"
    elif not public_url.startswith(("http://", "https://")):
        raise ConfigError(f"WINDBACK_PUBLIC_URL must start with http:// or https://, not {public_url!r}")
    return settings.replace(public_url=public_url.rstrip("/"))


def default_billing_key_file(database_url: str) -> str:
    """Beside the data: next to the SQLite file, else in the working directory."""
    if database_url.startswith("sqlite:///"):
        path = database_url[len("sqlite:///"):] or "windback.db"
        return os.path.join(os.path.dirname(os.path.abspath(path)), "windback-billing.key")
    return os.path.abspath("windback-billing.key")


def _read_dotenv(path: str):
    """Plain KEY=VALUE lines; comments and blank lines ignored. Missing file: nothing."""
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except FileNotFoundError:
        return
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        yield key.strip(), value.strip().strip('"').strip("'")
