"""Fill the durable scheduler with 10,000 waiting dunning emails the way production would: the
benchmark project's dunning sequence is one email 168 h after the failure, and 10,000 signed custom
`payment_failed` deliveries open 10,000 payment recoveries (each schedules its email). Waits until
all are applied. BENCH_WAITING_EMAILS changes the number."""
import base64
import concurrent.futures
import hashlib
import hmac
import json
import os
import sys
import time
import urllib.request

base = sys.argv[1]
SECRET = "whsec_" + base64.b64encode(b"bench-custom-secret-0123456789ab").decode()
COUNT = int(os.environ.get("BENCH_WAITING_EMAILS", "10000"))
slug, run = os.environ["BENCH_SLUG"], os.environ.get("BENCH_RUN_ID", str(int(time.time())))


def call(method, path, body=None, headers=None, raw=None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(base + path, method=method, data=data,
                                     headers={"Content-Type": "application/json", **(headers or {})})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


project = call("PATCH", f"/api/v1/projects/{slug}", {"settings": {
    "custom_webhook_secret": SECRET, "dunning": {"steps": [{"after_hours": 168}]}}},
    {"Authorization": f"Bearer {os.environ['BENCH_TOKEN']}"})["data"]
key = base64.b64decode(SECRET[len("whsec_"):])


def deliver(i: int) -> None:
    body = json.dumps({"type": "payment_failed", "customer_email": f"waiting-{run}-{i}@example.com",
                       "invoice_id": f"inv_wait_{run}_{i}", "amount_due_cents": 4900,
                       "update_payment_url": f"https://billing.example/pay/{i}"}).encode()
    msg_id, ts = f"msg_{run}_{i}", str(int(time.time()))
    sig = base64.b64encode(hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()).decode()
    call("POST", f"/api/v1/webhooks/custom/{project['public_key']}", raw=body,
         headers={"webhook-id": msg_id, "webhook-timestamp": ts, "webhook-signature": "v1," + sig})


with concurrent.futures.ThreadPoolExecutor(8) as pool:
    list(pool.map(deliver, range(COUNT)))
deadline = time.monotonic() + 300
while time.monotonic() < deadline:
    listed = call("GET", f"/api/v1/projects/{slug}/payment-recoveries?status=open&per_page=1",
                  headers={"X-API-Key": os.environ["BENCH_KEY"]})
    if listed["meta"]["total"] >= COUNT:
        break
    time.sleep(0.5)
print(f"# {listed['meta']['total']} open payment recoveries, one email each waiting", file=sys.stderr)
