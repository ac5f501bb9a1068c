"""Helpers of the dashboard's browser tests: a console watcher, a small API client for setting
things up the way an integration would, and a real SMTP server to receive what the app sends."""
from __future__ import annotations

import email
import email.policy
import glob
import os
import re
import threading
import time
import urllib.request

from aiosmtpd.controller import Controller

from tests.conftest import free_port
from tests.livehttp import call  # noqa: F401 - the dashboard tests import it from here

XSS_NAME = "<img src=x onerror=alert(1)>"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
_FAILED_RESOURCE = re.compile(r"^Failed to load resource: the server responded with a status of (\d{3})")


class PageWatch:
    """Every console error, uncaught exception and dialog of a page. `allowed_statuses` names HTTP
    statuses a test provokes on purpose (Chromium logs each failed fetch as a console error)."""

    def __init__(self, page, allowed_statuses: tuple[int, ...] = ()):
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.allowed = allowed_statuses
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))
        page.on("dialog", self._dialog)

    def _console(self, message) -> None:
        if message.type != "error":
            return
        match = _FAILED_RESOURCE.match(message.text)
        if match and int(match.group(1)) in self.allowed:
            return
        self.errors.append(f"console: {message.text} at {message.location}")

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def assert_clean(self) -> None:
        assert not self.dialogs, f"a dialog opened: {self.dialogs}"
        assert not self.errors, "errors in the page:\n" + "\n".join(self.errors)


def signed_in_page(browser, base: str, token: str, viewport=DESKTOP, allowed_statuses: tuple[int, ...] = (),
                   **context_options):
    """A fresh browser context already holding `token` (as the app keeps it after sign-in), and
    the watch on its page: (page, watch)."""
    context = browser.new_context(viewport=viewport, **context_options)
    context.set_default_timeout(15_000)
    page = context.new_page()
    watch = PageWatch(page, allowed_statuses)
    page.goto(base + "/app/sign-in")
    page.evaluate("t => sessionStorage.setItem('windback.token', t)", token)
    return page, watch


def signup(base: str, email_address: str, password: str = "correct horse", name: str = "Test User") -> str:
    status, body = call(base, "POST", "/auth/register", {"email": email_address, "password": password, "name": name})
    assert status == 201, body
    return body["data"]["token"]


def outbox_token(outbox_dir: str, to: str, timeout: float = 10.0, page: str | None = None) -> str:
    """The `token=` of the newest email to `to` in the file outbox: of a link to the dashboard's
    `page`, else of any link but the address verification that registering sends."""
    link = rf"/app/{page}\?" if page else r"/app/(?!verify-email\?)[\w-]+\?"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in sorted(glob.glob(os.path.join(outbox_dir, "**", "*.eml"), recursive=True), key=os.path.getmtime,
                           reverse=True):
            with open(path, "rb") as handle:
                message = email.message_from_binary_file(handle, policy=email.policy.default)
            if to.lower() not in str(message["To"]).lower():
                continue
            text = "".join(part.get_content() for part in message.walk() if part.get_content_type() == "text/plain")
            found = re.search(link + r"token=([A-Za-z0-9_\-.~%]+)", text)
            if found:
                return urllib.request.unquote(found.group(1))
        time.sleep(0.1)
    raise AssertionError(f"no email with a token to {to} in {outbox_dir}")


class SmtpSink:
    """A real SMTP server (aiosmtpd) on loopback that keeps every message it accepts."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self._lock = threading.Lock()
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._lock:
            self.messages.append(message)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"

    def wait_for(self, predicate, timeout: float = 15.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                for message in self.messages:
                    if predicate(message):
                        return message
            time.sleep(0.05)
        raise AssertionError(f"no matching email arrived; got {[m['Subject'] for m in self.messages]}")

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()


def register_in_browser(page, base: str, email_address: str, password: str = "correct horse", name: str = "Ada Lovelace"):
    page.goto(base + "/app/register")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Email").fill(email_address)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url("**/app/projects")


def sign_in(page, base: str, email_address: str, password: str = "correct horse", path: str = "/app/sign-in"):
    page.goto(base + path)
    page.get_by_label("Email").fill(email_address)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_function("() => !location.pathname.endsWith('/sign-in')")


def no_horizontal_scroll(page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")


_CONTRAST_JS = """() => {
  const parse = (c) => { const m = c.match(/rgba?\\(([^)]+)\\)/); if (!m) return null;
    const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number); return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; };
  const lum = ([r, g, b]) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const background = (el) => { for (let e = el; e; e = e.parentElement) { const c = parse(getComputedStyle(e).backgroundColor);
    if (c && c[3] > 0.5) return c; } return [255, 255, 255, 1]; };
  const bad = [];
  for (const el of document.querySelectorAll("body *")) {
    if (el.closest("svg, button:disabled, option, iframe")) continue;
    const text = [...el.childNodes].filter((n) => n.nodeType === 3).map((n) => n.textContent).join("").trim();
    if (!text || !el.getClientRects().length) continue;
    const style = getComputedStyle(el);
    if (style.visibility === "hidden" || style.clip === "rect(0px, 0px, 0px, 0px)") continue;
    const fg = parse(style.color), bg = background(el);
    const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    const large = parseFloat(style.fontSize) >= 24 || (parseFloat(style.fontSize) >= 18.66 && Number(style.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) bad.push(`${el.tagName}.${el.className}: "${text.slice(0, 30)}" ${ratio.toFixed(2)}`);
  }
  return bad;
}"""


def low_contrast_text(page) -> list[str]:
    """Text whose colour against its background is under WCAG AA (4.5:1, large text 3:1)."""
    return page.evaluate(_CONTRAST_JS)
