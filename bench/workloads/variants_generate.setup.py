"""500 churn events to generate variants for, their ids one per line in BENCH_EVENTS_FILE."""
import json
import os
import sys
import urllib.request

path = os.path.join(os.environ.get("BENCH_WORK", "/tmp"), "variants_generate.events")
with open(path, "w") as handle:
    for i in range(500):
        request = urllib.request.Request(
            f"{sys.argv[1]}/api/v1/projects/{os.environ['BENCH_SLUG']}/churn-events", method="POST",
            data=json.dumps({"customer_email": f"generate-{i}@example.com", "customer_name": "Robin Bench",
                             "plan": "pro", "mrr_cents": 4900, "cancel_reason": "too_expensive"}).encode(),
            headers={"X-API-Key": os.environ["BENCH_KEY"], "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            handle.write(json.load(response)["data"]["id"] + "\n")
print(f"BENCH_EVENTS_FILE={path}")
