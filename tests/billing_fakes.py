"""Loopback stand-ins for the Stripe and Razorpay endpoints Windback calls, speaking their
documented wire formats: Stripe's form-encoded bodies (`discounts[0][coupon]=...`), Bearer key,
`Idempotency-Key` (a repeat is answered from the first answer, as Stripe does); Razorpay's JSON
bodies and HTTP Basic auth. Each records every request it received, so tests assert exactly
what the real SDKs sent. `fail_next(status, body)`, `delay` and `on_request` script the
provider's bad days."""
from __future__ import annotations

import base64
import itertools
import json
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    method: str
    path: str
    query: dict
    form: dict  # Stripe: the form fields as sent (`discounts[0][coupon]`); Razorpay: the JSON body
    headers: dict
    replayed: bool = False


@dataclass
class FakeProvider:
    requests: list = field(default_factory=list)
    delay: float = 0.0  # seconds before answering (a slow or silent provider)
    on_request: object = None  # called with each Received before it is answered
    _failures: list = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def start(self) -> "FakeProvider":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _serve(self):
                url = urllib.parse.urlsplit(self.path)
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode("utf-8")
                received = Received(self.command, url.path, dict(urllib.parse.parse_qsl(url.query)),
                                    fake.parse_body(raw, self.headers.get("Content-Type", "")),
                                    {k.lower(): v for k, v in self.headers.items()})
                status, body = fake.handle(received)
                if fake.delay:
                    time.sleep(fake.delay)
                payload = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = do_PATCH = do_DELETE = _serve

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fail_next(self, status: int, body: dict, times: int = 1, path: str = "/v1/subscriptions/") -> None:
        """The next `times` changing requests (POST/PATCH) under `path` are answered with this error."""
        self._failures.extend([(path, status, body)] * times)

    def handle(self, received: Received) -> tuple[int, dict]:
        with self._lock:
            self.requests.append(received)
            if not self.authorized(received.headers.get("authorization", "")):
                return self.unauthorized()
            failure = next((f for f in self._failures if received.path.startswith(f[0])), None)
            if received.method != "GET" and failure:
                self._failures.remove(failure)
                return failure[1:]
            result = self.route(received)
        if self.on_request:
            self.on_request(received)
        return result

    def writes(self, path_prefix: str = "/v1/subscriptions/") -> list[Received]:
        return [r for r in self.requests if r.method in ("POST", "PATCH") and r.path.startswith(path_prefix)]

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids):06d}"


class FakeStripe(FakeProvider):
    def __init__(self, api_key: str = "sk_test_windback_0000004f2a"):
        super().__init__()
        self.api_key = api_key
        self.subscriptions: dict[str, dict] = {}
        self.coupons: dict[str, dict] = {}
        self.sessions: dict[str, dict] = {}
        self.idempotent: dict[str, tuple[int, dict]] = {}
        self.applied_updates = 0  # subscription updates that changed something (repeats excluded)

    @staticmethod
    def parse_body(raw: str, content_type: str) -> dict:
        return dict(urllib.parse.parse_qsl(raw, keep_blank_values=True))

    def authorized(self, header: str) -> bool:
        return header == f"Bearer {self.api_key}"

    def unauthorized(self):
        return 401, {"error": {"type": "invalid_request_error", "message": "Invalid API Key provided: sk_****"}}

    def add_subscription(self, customer: str, price: str = "price_pro", status: str = "active",
                         cancel_at_period_end: bool = False) -> dict:
        sub_id = self.new_id("sub")
        self.subscriptions[sub_id] = {
            "id": sub_id, "object": "subscription", "customer": customer, "status": status,
            "cancel_at_period_end": cancel_at_period_end, "discounts": [], "pause_collection": None,
            "items": {"object": "list", "data": [{"id": self.new_id("si"), "object": "subscription_item",
                                                  "price": {"id": price, "object": "price", "unit_amount": 4900}}]},
        }
        return self.subscriptions[sub_id]

    def route(self, r: Received) -> tuple[int, dict]:
        key = r.headers.get("idempotency-key")
        if r.method == "POST" and key and key in self.idempotent:
            r.replayed = True
            return self.idempotent[key]
        result = self._route(r)
        if r.method == "POST" and key and result[0] < 500:
            self.idempotent[key] = result
        return result

    def _route(self, r: Received) -> tuple[int, dict]:
        parts = r.path.strip("/").split("/")
        if r.path == "/v1/balance":
            return 200, {"object": "balance", "livemode": False, "available": [{"amount": 0, "currency": "usd"}],
                         "pending": []}
        if parts[:2] == ["v1", "subscriptions"] and len(parts) == 2 and r.method == "GET":
            found = [s for s in self.subscriptions.values()
                     if s["customer"] == r.query.get("customer") and s["status"] == r.query.get("status", s["status"])]
            return 200, {"object": "list", "data": found[:int(r.query.get("limit", 10))], "has_more": False,
                         "url": "/v1/subscriptions"}
        if parts[:2] == ["v1", "subscriptions"] and len(parts) == 3:
            sub = self.subscriptions.get(parts[2])
            if sub is None:
                return 404, {"error": {"type": "invalid_request_error", "code": "resource_missing",
                                       "message": f"No such subscription: '{parts[2]}'"}}
            if r.method == "POST":
                self._update(sub, r.form)
            return 200, sub
        if r.path == "/v1/coupons" and r.method == "POST":
            coupon_id = r.form.get("id") or self.new_id("coupon")
            if coupon_id in self.coupons:
                return 400, {"error": {"type": "invalid_request_error", "code": "resource_already_exists",
                                       "message": "Coupon already exists."}}
            self.coupons[coupon_id] = {"id": coupon_id, "object": "coupon", "percent_off": float(r.form["percent_off"]),
                                       "duration": r.form["duration"],
                                       "duration_in_months": int(r.form["duration_in_months"])}
            return 200, self.coupons[coupon_id]
        if r.path == "/v1/checkout/sessions" and r.method == "POST":
            session_id = self.new_id("cs_test")
            self.sessions[session_id] = {"id": session_id, "object": "checkout.session", "mode": r.form.get("mode"),
                                         "url": f"https://checkout.stripe.test/c/pay/{session_id}"}
            return 200, self.sessions[session_id]
        return 404, {"error": {"type": "invalid_request_error", "message": f"Unrecognized request URL ({r.path})"}}

    def _update(self, sub: dict, form: dict) -> None:
        self.applied_updates += 1
        if "discounts[0][coupon]" in form:
            coupon = self.coupons[form["discounts[0][coupon]"]]
            sub["discounts"] = [{"object": "discount", "coupon": coupon}]
        if "pause_collection[behavior]" in form:
            sub["pause_collection"] = {"behavior": form["pause_collection[behavior]"],
                                       "resumes_at": int(form["pause_collection[resumes_at]"])}
        if "items[0][price]" in form:
            item = sub["items"]["data"][0]
            assert form["items[0][id]"] == item["id"]
            item["price"] = {"id": form["items[0][price]"], "object": "price"}
        if form.get("cancel_at_period_end") == "false":
            sub["cancel_at_period_end"] = False


class FakeRazorpay(FakeProvider):
    def __init__(self, key_id: str = "rzp_test_windback01", key_secret: str = "razorpay-secret-0001"):
        super().__init__()
        self.key_id, self.key_secret = key_id, key_secret
        self.subscriptions: dict[str, dict] = {}

    @staticmethod
    def parse_body(raw: str, content_type: str) -> dict:
        return json.loads(raw) if raw else {}

    def authorized(self, header: str) -> bool:
        expected = base64.b64encode(f"{self.key_id}:{self.key_secret}".encode()).decode()
        return header == f"Basic {expected}"

    def unauthorized(self):
        return 401, {"error": {"code": "BAD_REQUEST_ERROR", "description": "Authentication failed"}}

    def add_subscription(self, customer: str, plan: str = "plan_pro", status: str = "active") -> dict:
        sub_id = self.new_id("sub")
        self.subscriptions[sub_id] = {"id": sub_id, "entity": "subscription", "customer_id": customer,
                                      "plan_id": plan, "status": status, "offer_id": None}
        return self.subscriptions[sub_id]

    def route(self, r: Received) -> tuple[int, dict]:
        parts = r.path.strip("/").split("/")
        if parts[:2] != ["v1", "subscriptions"]:
            return 404, {"error": {"code": "BAD_REQUEST_ERROR", "description": "The requested URL was not found"}}
        if len(parts) == 2:
            items = list(self.subscriptions.values())[:int(r.query.get("count", 10))]
            return 200, {"entity": "collection", "count": len(items), "items": items}
        sub = self.subscriptions.get(parts[2])
        if sub is None:
            return 400, {"error": {"code": "BAD_REQUEST_ERROR", "description": "The id provided does not exist"}}
        if len(parts) == 4 and parts[3] == "pause" and r.method == "POST":
            if sub["status"] == "paused":
                return 400, {"error": {"code": "BAD_REQUEST_ERROR", "description": "Subscription is already paused"}}
            sub["status"] = "paused"
        elif r.method == "PATCH":
            for name in ("plan_id", "offer_id"):
                if name in r.form:
                    sub[name] = r.form[name]
        return 200, sub
