"""Seed 1,000 churn events so the list workload pages over a realistic table."""
import json
import os
import sys
import urllib.request

base, slug, key = sys.argv[1], os.environ["BENCH_SLUG"], os.environ["BENCH_KEY"]
for i in range(1000):
    body = {"customer_email": f"seed-{i}@example.com", "mrr_cents": 1000 + i, "cancel_reason": "not_using"}
    request = urllib.request.Request(f"{base}/api/v1/projects/{slug}/churn-events", method="POST",
                                     data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json", "X-API-Key": key})
    urllib.request.urlopen(request, timeout=30).read()
