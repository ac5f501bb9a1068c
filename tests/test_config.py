"""Settings: every variable read once, typed; invalid values are clear errors."""
import pytest

from config import ConfigError, load_settings


def test_defaults_work_on_a_bare_machine():
    s = load_settings({})
    assert (s.host, s.port, s.database_url) == ("127.0.0.1", 8080, "sqlite:///windback.db")
    assert s.public_url == "http://127.0.0.1:8080"
    assert s.smtp is None and s.outbox_dir == "./outbox" and s.mail_from == "Windback <no-reply@localhost>"
    assert s.openai_api_key is None and s.openai_model == "gpt-4o-mini" and s.writer_backend == "template"
    assert s.rate_limit_scale == 1 and s.bcrypt_rounds == 12 and s.log_level == "info"
    assert s.require_https is False and s.trusted_proxies == frozenset() and s.secret is None


def test_every_variable_is_read():
    s = load_settings({
        "WINDBACK_HOST": "0.0.0.0", "WINDBACK_PORT": "9000",
        "WINDBACK_DATABASE_URL": "postgresql://u:p@db:5432/windback",
        "WINDBACK_SECRET": "s" * 40, "WINDBACK_PUBLIC_URL": "https://wb.example.com/",
        "WINDBACK_SMTP_URL": "smtp://user%40x:p%3Ass@mail.example.com:587?starttls=true",
        "WINDBACK_OUTBOX_DIR": "/tmp/out", "WINDBACK_MAIL_FROM": "Acme <a@acme.test>",
        "OPENAI_API_KEY": "sk-fallback", "WINDBACK_OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
        "WINDBACK_OPENAI_MODEL": "gpt-x", "WINDBACK_GOOGLE_CLIENT_ID": "cid",
        "WINDBACK_GOOGLE_JWKS_URL": "http://127.0.0.1:9/certs", "WINDBACK_RATE_LIMIT_SCALE": "0",
        "WINDBACK_REQUIRE_HTTPS": "yes", "WINDBACK_TRUSTED_PROXIES": "10.0.0.1, 10.0.0.2",
        "WINDBACK_BCRYPT_ROUNDS": "4", "WINDBACK_LOG_LEVEL": "DEBUG", "WINDBACK_ACTOR_TIMEOUT": "2.5",
        "WINDBACK_ACTOR_IDLE_SECONDS": "60", "WINDBACK_JWT_TTL_SECONDS": "3600", "WINDBACK_DB_WORKERS": "3",
    })
    assert (s.host, s.port, s.secret) == ("0.0.0.0", 9000, "s" * 40)
    assert s.public_url == "https://wb.example.com"
    assert (s.smtp.host, s.smtp.port, s.smtp.username, s.smtp.password, s.smtp.start_tls, s.smtp.use_tls) == \
        ("mail.example.com", 587, "user@x", "p:ss", True, False)
    assert s.openai_api_key == "sk-fallback" and s.writer_backend == "openai:gpt-x"
    assert s.rate_limit_scale == 0 and not s.rate_limiting
    assert s.require_https and s.trusted_proxies == {"10.0.0.1", "10.0.0.2"}
    assert (s.bcrypt_rounds, s.log_level, s.actor_timeout, s.actor_idle_seconds, s.jwt_ttl_seconds, s.db_workers) == \
        (4, "debug", 2.5, 60, 3600, 3)
    assert load_settings({"WINDBACK_SMTP_URL": "smtps://mail.example.com"}).smtp.port == 465
    assert load_settings({"OPENAI_API_KEY": "a", "WINDBACK_OPENAI_API_KEY": "b"}).openai_api_key == "b"


def test_actor_threads_default_to_the_database_and_only_sqlite_shares_transactions():
    sqlite, postgres = load_settings({}), load_settings({"WINDBACK_DATABASE_URL": "postgresql://u@db:5432/w"})
    assert (sqlite.actor_pool_threads, sqlite.shared_transaction_seconds) == (1, 0.02)
    assert (postgres.actor_pool_threads, postgres.shared_transaction_seconds) == (16, None)
    assert postgres.database_connections == 16 + 8 + 8
    assert load_settings({"WINDBACK_ACTOR_THREADS": "4"}).actor_pool_threads == 4


def test_project_caches_and_the_change_log_poll_can_be_tuned():
    assert (load_settings({}).project_cache_size, load_settings({}).change_poll_seconds) == (20_000, 1.0)
    tuned = load_settings({"WINDBACK_PROJECT_CACHE_SIZE": "50000", "WINDBACK_CHANGE_POLL_SECONDS": "0.5"})
    assert (tuned.project_cache_size, tuned.change_poll_seconds) == (50_000, 0.5)


def test_the_sqlite_writers_page_cache_can_be_tuned():
    assert load_settings({}).sqlite_writer_cache_mb == 64
    assert load_settings({"WINDBACK_SQLITE_WRITER_CACHE_MB": "256"}).sqlite_writer_cache_mb == 256


@pytest.mark.parametrize("name, value, words", [
    ("WINDBACK_PORT", "eighty", "whole number"),
    ("WINDBACK_PORT", "70000", "between"),
    ("WINDBACK_DATABASE_URL", "mysql://x", "sqlite:///"),
    ("WINDBACK_SECRET", "short", "32 characters"),
    ("WINDBACK_SMTP_URL", "http://mail", "smtp://"),
    ("WINDBACK_RATE_LIMIT_SCALE", "-1", "at least 0"),
    ("WINDBACK_RATE_LIMIT_SCALE", "lots", "a number"),
    ("WINDBACK_REQUIRE_HTTPS", "maybe", "true or false"),
    ("WINDBACK_BCRYPT_ROUNDS", "3", "between 4"),
    ("WINDBACK_LOG_LEVEL", "loud", "one of"),
    ("WINDBACK_PUBLIC_URL", "wb.example.com", "http://"),
    ("WINDBACK_PROJECT_CACHE_SIZE", "10", "between 100"),
    ("WINDBACK_CHANGE_POLL_SECONDS", "0", "at least 0.05"),
    ("WINDBACK_SQLITE_WRITER_CACHE_MB", "1", "between 2"),
    ("WINDBACK_TLS_CERT", "/nonexistent/cert.pem", "set together"),
])
def test_invalid_values_name_the_variable(name, value, words):
    with pytest.raises(ConfigError) as error:
        load_settings({name: value})
    assert name in str(error.value) or "WINDBACK_TLS" in str(error.value)
    assert words in str(error.value)


def test_tls_files_must_exist(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings({"WINDBACK_TLS_CERT": str(tmp_path / "c.pem"), "WINDBACK_TLS_KEY": str(tmp_path / "k.pem")})


def test_dotenv_is_read_and_the_environment_wins(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("# local settings\nWINDBACK_PORT=9100\nWINDBACK_MAIL_FROM='Dot <d@env.test>'\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WINDBACK_PORT", "9200")
    s = load_settings()
    assert s.port == 9200 and s.mail_from == "Dot <d@env.test>"
