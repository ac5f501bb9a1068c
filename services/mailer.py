"""Sending email: SMTP through aiosmtplib, or `.eml` files in an outbox folder.

`make_mailer(settings)` picks the backend. `send` returns the Message-ID once the SMTP server (or
the disk) has accepted the message, and raises `DeliveryFailed` otherwise.
"""
from __future__ import annotations

import asyncio
import email.utils
import os
import secrets
from email.message import EmailMessage

import aiosmtplib

from config import Settings, SmtpSettings


class DeliveryFailed(Exception):
    pass


def build_message(sender: str, to: str, subject: str, text: str, html: str | None = None,
                  headers: dict[str, str] | None = None, domain: str = "windback.local",
                  policy=None, message_id: str | None = None) -> EmailMessage:
    message = EmailMessage(policy=policy) if policy is not None else EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = email.utils.formatdate(usegmt=True)
    # Short enough that the header is never folded (a folded id reads back with a leading space).
    # Scheduled emails pass their job id, so a repeat would carry the same Message-ID.
    message["Message-ID"] = f"<{message_id or secrets.token_hex(12)}@{domain}>"
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message


class SmtpMailer:
    def __init__(self, smtp: SmtpSettings, timeout: float = 15.0):
        self.smtp = smtp
        self.timeout = timeout

    async def send(self, message: EmailMessage) -> str:
        try:
            await aiosmtplib.send(
                message,
                hostname=self.smtp.host,
                port=self.smtp.port,
                username=self.smtp.username,
                password=self.smtp.password,
                use_tls=self.smtp.use_tls,
                start_tls=self.smtp.start_tls,
                timeout=self.timeout,
            )
        except (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError) as error:
            raise DeliveryFailed(_describe(error)) from None
        return message["Message-ID"]


class OutboxMailer:
    """Writes each message to `<outbox>/<time>-<id>.eml`: a place to read mail without a server."""

    def __init__(self, directory: str):
        self.directory = directory

    async def send(self, message: EmailMessage) -> str:
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(None, self._write, message)
        except OSError as error:
            raise DeliveryFailed(f"could not write to the outbox: {error.strerror}") from None
        return message["Message-ID"]

    def _write(self, message: EmailMessage) -> None:
        os.makedirs(self.directory, exist_ok=True)
        name = f"{email.utils.formatdate(usegmt=True)[5:25].replace(' ', '-').replace(':', '')}-{secrets.token_hex(4)}.eml"
        temp = os.path.join(self.directory, "." + name)
        with open(temp, "wb") as handle:
            handle.write(message.as_bytes())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, os.path.join(self.directory, name))


def _describe(error: BaseException) -> str:
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        return "the mail server refused the recipient"
    if isinstance(error, aiosmtplib.SMTPResponseException):
        return f"the mail server answered {error.code} {error.message}"
    if isinstance(error, (aiosmtplib.SMTPConnectError, OSError)):
        return "the mail server could not be reached"
    if isinstance(error, (aiosmtplib.SMTPTimeoutError, asyncio.TimeoutError)):
        return "the mail server did not answer in time"
    return "the mail server did not accept the message"


def make_mailer(settings: Settings):
    if settings.smtp:
        return SmtpMailer(settings.smtp)
    return OutboxMailer(settings.outbox_dir)
