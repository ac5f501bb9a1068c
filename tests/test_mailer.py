"""The mailer's two backends: SMTP (a real aiosmtpd server on loopback) and the file outbox."""
import email
import email.policy
import os

import pytest
from aiosmtpd.controller import Controller

from config import SmtpSettings
from services.mailer import DeliveryFailed, OutboxMailer, SmtpMailer, build_message
from tests.conftest import free_port


class Inbox:
    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 OK"


@pytest.mark.gen_test(timeout=20)
async def test_smtp_delivers_to_a_real_server():
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        mailer = SmtpMailer(SmtpSettings("127.0.0.1", port, None, None, use_tls=False, start_tls=None))
        message = build_message("Acme <hello@acme.test>", "pat@example.com", "We miss you", "Come back",
                                html="<p>Come back</p>")
        message_id = await mailer.send(message)
    finally:
        controller.stop()
    (envelope,) = inbox.envelopes
    assert envelope.mail_from == "hello@acme.test" and envelope.rcpt_tos == ["pat@example.com"]
    received = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert received["Message-ID"] == message_id and received["Subject"] == "We miss you"
    assert received.is_multipart()


@pytest.mark.gen_test(timeout=20)
async def test_smtp_failure_is_a_delivery_failure():
    mailer = SmtpMailer(SmtpSettings("127.0.0.1", free_port(), None, None, use_tls=False, start_tls=None), timeout=5)
    with pytest.raises(DeliveryFailed, match="could not be reached"):
        await mailer.send(build_message("a@acme.test", "b@example.com", "s", "t"))


@pytest.mark.gen_test
async def test_outbox_writes_one_eml_file_per_message(tmp_path):
    mailer = OutboxMailer(str(tmp_path / "outbox"))
    message_id = await mailer.send(build_message("a@acme.test", "b@example.com", "Hello", "Body text"))
    (name,) = os.listdir(tmp_path / "outbox")
    assert name.endswith(".eml")
    with open(tmp_path / "outbox" / name, "rb") as handle:
        stored = email.message_from_bytes(handle.read(), policy=email.policy.default)
    assert stored["Message-ID"] == message_id and stored.get_content().strip() == "Body text"


@pytest.mark.gen_test
async def test_outbox_failure_is_a_delivery_failure(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(DeliveryFailed):
        await OutboxMailer(str(blocker / "outbox")).send(build_message("a@acme.test", "b@example.com", "s", "t"))
