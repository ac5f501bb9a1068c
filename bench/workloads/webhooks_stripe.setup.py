"""Set a Stripe webhook secret on the benchmark's project and write 60,000 signed deliveries,
each a churn (customer.subscription.deleted, not a failed invoice, which opens a payment
recovery instead) with its own event id, to BENCH_WEBHOOKS_FILE ("signature<TAB>body" per
line). Prints the shell assignments the workload reads (BENCH_PUBLIC_KEY, BENCH_WEBHOOKS_FILE)."""
import json
import os
import sys
import time
import urllib.request

import stripe

base = sys.argv[1]
SECRET = "whsec_bench_0123456789abcdef"
COUNT = int(os.environ.get("BENCH_WEBHOOK_COUNT", "60000"))


def call(method, path, body, headers):
    request = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json", **headers})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)["data"]


slug = os.environ["BENCH_SLUG"]
project = call("PATCH", f"/api/v1/projects/{slug}", {"settings": {"stripe_webhook_secret": SECRET}},
               {"Authorization": f"Bearer {os.environ['BENCH_TOKEN']}"})
path = os.path.join(os.environ.get("BENCH_WORK", "/tmp"), "webhooks_stripe.tsv")
run = os.environ.get("BENCH_RUN_ID", str(int(time.time())))
now = int(time.time())
with open(path, "w") as handle:
    for i in range(COUNT):
        body = json.dumps({
            "id": f"evt_bench_{run}_{i}", "object": "event", "type": "customer.subscription.deleted", "created": now,
            "data": {"object": {"id": f"sub_{run}_{i}", "object": "subscription", "customer": f"cus_bench_{i}",
                                "status": "canceled", "currency": "usd",
                                "metadata": {"email": f"payer-{i}@example.com"},
                                "cancellation_details": {"reason": "cancellation_requested",
                                                         "feedback": "too_expensive"},
                                "items": {"object": "list", "data": [{"id": f"si_{i}", "quantity": 1, "price": {
                                    "id": "price_pro", "nickname": "Pro", "unit_amount": 4900, "currency": "usd",
                                    "recurring": {"interval": "month", "interval_count": 1}}}]}}},
        }, separators=(",", ":"))
        signature = stripe.WebhookSignature.generate_signature_header(body, SECRET, timestamp=now)
        handle.write(f"{signature}\t{body}\n")
print(f"BENCH_PUBLIC_KEY={project['public_key']}")
print(f"BENCH_WEBHOOKS_FILE={path}")
