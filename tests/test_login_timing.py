"""Login costs the same bcrypt work whether or not the email has an account, so its time does
not tell which emails are registered (figures at cost 12: bench/login_timing.py, docs/BENCHMARKS.md)."""
import bcrypt
import pytest


@pytest.fixture
def bcrypt_calls(monkeypatch):
    """Counts the real bcrypt calls the server makes (each still runs)."""
    calls = []
    for name in ("hashpw", "checkpw"):
        real = getattr(bcrypt, name)

        def counted(*args, _real=real, _name=name):
            calls.append(_name)
            return _real(*args)

        monkeypatch.setattr(bcrypt, name, counted)
    return calls


@pytest.mark.gen_test
async def test_unknown_email_costs_one_check_like_a_known_one(api, bcrypt_calls):
    await api.signup(email="known@example.com", password="correct horse")
    per_login = {}
    for label, email in (("known", "known@example.com"), ("unknown", "nobody@example.com"),
                         ("unknown again", "someone-else@example.com")):
        bcrypt_calls.clear()
        r = await api.post("/auth/login", {"email": email, "password": "wrong password"})
        assert r.status == 401 and r.error["message"] == "Wrong email or password"
        per_login[label] = list(bcrypt_calls)
    # One checkpw each; no hashpw on the unknown path (it used to hash a dummy on every call).
    assert per_login == {"known": ["checkpw"], "unknown": ["checkpw"], "unknown again": ["checkpw"]}
