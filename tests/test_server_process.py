"""`python server.py` as an operator runs it: config errors, HTTPS, the log, a graceful SIGTERM."""
import datetime as dt
import json
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest

from tests.conftest import ROOT
from tests.helpers import churn_events_write_lock


def call(url, method="GET", body=None, headers=None, context=None, timeout=30):
    request = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            return response.status, json.load(response), response.headers
    except urllib.error.HTTPError as error:
        return error.code, json.load(error), error.headers


def _accepts(base: str) -> bool:
    try:
        urllib.request.urlopen(base + "/health", timeout=2).close()
    except OSError:
        return False
    return True


def owner_key(base, context=None):
    status, body, _ = call(base + "/api/v1/auth/register", "POST",
                           {"email": "ops@example.com", "password": "correct horse"}, context=context)
    assert status == 201, body
    token = body["data"]["token"]
    status, body, _ = call(base + "/api/v1/projects", "POST", {"name": "Acme", "slug": "acme"},
                           {"Authorization": f"Bearer {token}"}, context=context)
    assert status == 201
    return body["data"]["secret_key"]


@pytest.mark.parametrize("name, value", [("WINDBACK_PORT", "http"), ("WINDBACK_RATE_LIMIT_SCALE", "-2"),
                                         ("WINDBACK_REQUIRE_HTTPS", "sometimes")])
def test_an_invalid_setting_is_a_clear_error_and_exit_2(name, value):
    env = {k: v for k, v in os.environ.items() if not k.startswith("WINDBACK_")}
    env[name] = value
    result = subprocess.run([sys.executable, os.path.join(ROOT, "server.py")], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert f"configuration error: {name}" in result.stderr
    assert "Traceback" not in result.stderr


def test_require_https_without_windback_secret_refuses_to_start(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("WINDBACK_")}
    env.update({"WINDBACK_REQUIRE_HTTPS": "true", "WINDBACK_DATABASE_URL": f"sqlite:///{tmp_path}/wb.db"})
    result = subprocess.run([sys.executable, os.path.join(ROOT, "server.py")], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "configuration error: WINDBACK_REQUIRE_HTTPS=true needs WINDBACK_SECRET" in result.stderr
    assert "stored in the database in clear" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "wb.db").exists()  # refused before anything was created


def test_sigterm_finishes_the_request_in_flight(live_server, migrated):
    server = live_server({"WINDBACK_ACTOR_TIMEOUT": "30"})
    key = owner_key(server.url)
    answers = []
    with churn_events_write_lock(migrated):
        worker = threading.Thread(target=lambda: answers.append(call(
            server.url + "/api/v1/projects/acme/churn-events", "POST", {"customer_email": "late@example.com"},
            {"X-API-Key": key})))
        worker.start()
        # The request has reached the project's actor (started by it), which waits on the lock.
        deadline = time.monotonic() + 20
        while call(server.url + "/health")[1]["data"]["actors"] != 1:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(0.2)
        server.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        while _accepts(server.url):  # until it stops accepting
            assert time.monotonic() < deadline, "still accepting after SIGTERM"
            time.sleep(0.05)
        assert server.process.poll() is None  # but still finishing the request in flight
    worker.join(30)
    assert server.process.wait(30) == 0
    (status, body, _), = answers
    assert status == 201 and body["data"]["customer_email"] == "late@example.com"
    log = server.read_log()
    assert "stopping" in log


def test_the_log_has_one_json_line_per_request(live_server):
    server = live_server({"WINDBACK_LOG_LEVEL": "info"})
    key = owner_key(server.url)
    call(server.url + "/api/v1/projects/acme", headers={"X-API-Key": key, "X-Request-Id": "trace-42"})
    call(server.url + "/api/v1/cancel-flow/config/pub_live_abcdefghijklmnop")
    server.stop()
    lines = [json.loads(line) for line in server.read_log().splitlines() if line.startswith("{")]
    mine = [line for line in lines if line.get("request_id") == "trace-42"]
    assert len(mine) == 1
    assert mine[0]["method"] == "GET" and mine[0]["path"] == "/api/v1/projects/acme" and mine[0]["status"] == 200
    assert any(line["path"] == "/api/v1/cancel-flow/config/pub_live_****" for line in lines)
    assert key not in server.read_log() and "abcdefghijklmnop" not in server.read_log()


def _self_signed(tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import ipaddress

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


def test_the_server_speaks_https_itself(live_server, tmp_path):
    cert, key = _self_signed(tmp_path)
    server = live_server({"WINDBACK_TLS_CERT": cert, "WINDBACK_TLS_KEY": key, "WINDBACK_REQUIRE_HTTPS": "true"})
    context = ssl.create_default_context(cafile=cert)  # verifies the certificate for real
    base, port = server.url, server.port
    assert base.startswith("https://")
    status, body, _ = call(base + "/health", context=context)
    assert status == 200 and body["data"]["status"] == "ok"
    assert owner_key(base, context=context).startswith("sk_live_")  # HTTPS satisfies REQUIRE_HTTPS
    with pytest.raises(OSError):  # plain HTTP on the TLS port gets no answer
        urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5)
    assert f"listening on https://127.0.0.1:{port}" in server.read_log()
