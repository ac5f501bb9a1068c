"""Sending variants through a real SMTP server (aiosmtpd on loopback), and unsubscribing."""
import asyncio
import email
import email.policy
import re

import pytest
from aiosmtpd.controller import Controller

from tests.conftest import free_port
from tests.helpers import is_address_check
from tests.test_variants import BASE, setup_event


class Sink:
    """An SMTP server's handler: keeps what it accepts, refuses the addresses in `refuse`."""

    def __init__(self):
        self.messages = []
        self.refuse = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        if not is_address_check(message):
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), message, envelope.content))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp(test_env):
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    test_env["WINDBACK_SMTP_URL"] = f"smtp://127.0.0.1:{controller.port}"
    test_env["WINDBACK_MAIL_FROM"] = "Windback <no-reply@windback.test>"
    yield sink
    controller.stop()


async def fetch(api, url, method="GET", body=None, headers=None):
    # Links in emails point at WINDBACK_PUBLIC_URL; the test server listens elsewhere.
    url = url.replace("http://windback.test", api.base)
    return await api.client.fetch(url, method=method, body=body, headers=headers or {}, raise_error=False)


@pytest.mark.gen_test
async def test_send_delivers_the_edited_variant_with_unsubscribe_headers(smtp, api):
    token, key, event = await setup_event(api)
    r = await api.patch("/projects/acme", {"settings": {"mail_from": "Acme <hello@acme.test>"}}, token=token)
    assert r.status == 200, r
    nine = (await api.post(f"{BASE}/{event['id']}/generate", key=key)).data
    variant = nine[4]
    r = await api.patch(f"{BASE}/{event['id']}/variants/{variant['id']}",
                        {"subject": "Ada, a note from Acme", "body_text": "Hi Ada,\n\nIt's been quiet without you.",
                         "body_html": "<html><body><p>Hi Ada, it&#x27;s been <em>quiet</em>.</p></body></html>"},
                        key=key)
    assert r.status == 200
    r = await api.post(f"{BASE}/{event['id']}/variants/{variant['id']}/send", key=key)
    assert r.status == 200, r
    assert r.data["status"] == "sent"

    [(mail_from, rcpt_tos, message, raw)] = smtp.messages
    assert mail_from == "hello@acme.test" and rcpt_tos == ["ada@example.com"]
    assert message["From"] == "Acme <hello@acme.test>"
    assert message["Subject"] == "Ada, a note from Acme"
    assert message["Message-ID"] == r.data["message_id"] and message["Message-ID"].endswith("@acme.test>")
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()
    html_part = message.get_body(("html",)).get_content()
    assert "It's been quiet without you." in text and "<em>quiet</em>" in html_part
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    header_url = re.fullmatch(r"<(\S+)>", message["List-Unsubscribe"]).group(1)
    assert header_url.startswith("http://windback.test/api/v1/unsubscribe?token=")
    assert b"=?utf-8?" not in raw.split(b"\r\n\r\n", 1)[0]  # the URL is not mangled into encoded words
    text_url = re.search(r"Unsubscribe: (\S+)", text).group(1)
    assert text_url == header_url and f'href="{header_url}"' in html_part  # visible in both parts

    # A second send of the same variant: 409, nothing more delivered.
    r = await api.post(f"{BASE}/{event['id']}/variants/{variant['id']}/send", key=key)
    assert r.status == 409 and len(smtp.messages) == 1

    # One-click unsubscribe (RFC 8058), as a mail client does it.
    response = await fetch(api, header_url, "POST", body="List-Unsubscribe=One-Click",
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.code == 200
    r = await api.post(f"{BASE}/{event['id']}/variants/{nine[0]['id']}/send", key=key)
    assert r.status == 409 and r.error["code"] == "SUPPRESSED"
    assert len(smtp.messages) == 1
    r = await api.get(f"{BASE}/{event['id']}/variants?status=draft", key=key)
    assert nine[0]["id"] in [v["id"] for v in r.data]  # still unsent, not failed


@pytest.mark.gen_test
async def test_the_visible_link_unsubscribes_and_forged_tokens_are_refused(smtp, api):
    token, key, event = await setup_event(api)
    nine = (await api.post(f"{BASE}/{event['id']}/generate", key=key)).data
    assert (await api.post(f"{BASE}/{event['id']}/variants/{nine[0]['id']}/send", key=key)).status == 200
    text = smtp.messages[0][2].get_body(("plain",)).get_content()
    url = re.search(r"Unsubscribe: (\S+)", text).group(1)

    forged = url[:-3] + ("AAA" if not url.endswith("AAA") else "BBB")
    for bad in (forged, url.split("?")[0], url.split("?")[0] + "?token=nonsense"):
        response = await fetch(api, bad)
        assert response.code == 400, bad
    r = await api.post(f"{BASE}/{event['id']}/variants/{nine[1]['id']}/send", key=key)
    assert r.status == 200  # nothing was suppressed by the bad links

    response = await fetch(api, url)
    assert response.code == 200 and response.headers["Content-Type"].startswith("text/html")
    assert "ada@example.com" in response.body.decode()
    response = await fetch(api, url, headers={"Accept": "application/json"})  # repeating is harmless
    assert response.code == 200 and b'"unsubscribed":true' in response.body
    r = await api.post(f"{BASE}/{event['id']}/variants/{nine[2]['id']}/send", key=key)
    assert r.status == 409 and r.error["code"] == "SUPPRESSED"

    # The suppression is per project: another project may still write to the address.
    _, other = await api.owner(slug="other")
    r = await api.post("/projects/other/churn-events", {"customer_email": "ada@example.com"}, key=other["secret_key"])
    other_nine = (await api.post(f"/projects/other/churn-events/{r.data['id']}/generate",
                                 key=other["secret_key"])).data
    r = await api.post(f"/projects/other/churn-events/{r.data['id']}/variants/{other_nine[0]['id']}/send",
                       key=other["secret_key"])
    assert r.status == 200


@pytest.mark.gen_test
async def test_refused_recipient_is_502_and_the_failed_variant_can_be_sent_later(smtp, api):
    _, key, event = await setup_event(api)
    nine = (await api.post(f"{BASE}/{event['id']}/generate", key=key)).data
    url = f"{BASE}/{event['id']}/variants/{nine[0]['id']}"
    smtp.refuse.add("ada@example.com")
    r = await api.post(url + "/send", key=key)
    assert r.status == 502 and r.error["code"] == "DELIVERY_FAILED"
    r = await api.get(f"{BASE}/{event['id']}/variants?status=failed", key=key)
    [failed] = r.data
    assert failed["id"] == nine[0]["id"] and failed["error"] and failed["sent_at"] is None
    assert failed["message_id"] is None
    r = await api.get(f"{BASE}/{event['id']}", key=key)
    assert r.data["status"] == "variants_ready"  # not contacted: nothing was accepted
    assert smtp.messages == []

    smtp.refuse.clear()
    r = await api.post(url + "/send", key=key)
    assert r.status == 200 and r.data["status"] == "sent" and r.data["error"] is None
    assert len(smtp.messages) == 1
    r = await api.get(f"{BASE}/{event['id']}", key=key)
    assert r.data["status"] == "contacted"


@pytest.fixture
def dead_smtp(test_env):
    test_env["WINDBACK_SMTP_URL"] = f"smtp://127.0.0.1:{free_port()}"  # nobody listens


@pytest.mark.gen_test
async def test_unreachable_mail_server_is_502(dead_smtp, api):
    _, key, event = await setup_event(api)
    nine = (await api.post(f"{BASE}/{event['id']}/generate", key=key)).data
    r = await api.post(f"{BASE}/{event['id']}/variants/{nine[0]['id']}/send", key=key)
    assert r.status == 502 and r.error["code"] == "DELIVERY_FAILED"
    assert "could not be reached" in r.error["message"]
    r = await api.get(f"{BASE}/{event['id']}/variants?status=failed", key=key)
    assert r.json["meta"]["total"] == 1


@pytest.mark.gen_test
async def test_two_concurrent_sends_of_one_variant_deliver_once(smtp, api):
    _, key, event = await setup_event(api)
    nine = (await api.post(f"{BASE}/{event['id']}/generate", key=key)).data
    url = f"{BASE}/{event['id']}/variants/{nine[3]['id']}/send"
    first, second = await asyncio.gather(api.post(url, key=key), api.post(url, key=key))
    assert sorted([first.status, second.status]) == [200, 409]
    assert len(smtp.messages) == 1


@pytest.mark.gen_test
async def test_a_retried_send_with_the_same_idempotency_key_is_answered_once(smtp, api):
    _, key, event = await setup_event(api)
    nine = (await api.post(f"{BASE}/{event['id']}/generate", key=key)).data
    url = f"{BASE}/{event['id']}/variants/{nine[2]['id']}/send"
    first = await api.post(url, key=key, headers={"Idempotency-Key": "send-1"})
    again = await api.post(url, key=key, headers={"Idempotency-Key": "send-1"})
    assert first.status == again.status == 200
    assert again.headers.get("Idempotent-Replayed") == "true" and again.data == first.data
    assert len(smtp.messages) == 1


@pytest.mark.gen_test
async def test_customer_supplied_markup_arrives_escaped(smtp, api):
    _, key, event = await setup_event(api, customer_name="<script>alert(1)</script>", plan="<b>Gold</b>")
    nine = (await api.post(f"{BASE}/{event['id']}/generate", key=key)).data
    assert all("<script>" not in v["body_html"] and "&lt;script&gt;" in v["body_html"] for v in nine)
    assert (await api.post(f"{BASE}/{event['id']}/variants/{nine[0]['id']}/send", key=key)).status == 200
    html_part = smtp.messages[0][2].get_body(("html",)).get_content()
    assert "<script>" not in html_part and "&lt;b&gt;Gold&lt;/b&gt;" in html_part
