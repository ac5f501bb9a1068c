"""Print the benchmark project's public key (BENCH_PUBLIC_KEY) for the widget-config workload."""
import json
import os
import sys
import urllib.request

request = urllib.request.Request(f"{sys.argv[1]}/api/v1/projects/{os.environ['BENCH_SLUG']}",
                                 headers={"X-API-Key": os.environ["BENCH_KEY"]})
with urllib.request.urlopen(request, timeout=30) as response:
    print(f"BENCH_PUBLIC_KEY={json.load(response)['data']['public_key']}")
