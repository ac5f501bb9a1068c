#!/usr/bin/env bash
# The first request after a server start, per analytics endpoint: a cold process, an empty answer
# cache, whatever the OS has cached of the database. The server is restarted before each request.
#
#   bench/analytics_first_request.sh DATABASE_URL SLUG SECRET_KEY [FROM TO]
#
# Seed first, e.g. `WINDBACK_DATABASE_URL=... scripts/seed_demo.py --events 1000000 --slug bench`
# (it prints the key; or scripts/rotate_keys.py SLUG). FROM/TO (ISO dates) add range requests.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
URL=$1 SLUG=$2 KEY=$3 FROM=${4:-} TO=${5:-}
PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
PATHS=("stats" "cohorts?months=12" "forecasting?horizon=3")
if [ -n "$FROM" ]; then
  PATHS+=("stats?from=$FROM&to=$TO" "cohorts?from=$FROM&to=$TO" "forecasting?from=$FROM&to=$TO")
fi
echo "$(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg); ${URL%%:*}"
for path in "${PATHS[@]}"; do
  WINDBACK_DATABASE_URL=$URL WINDBACK_PORT=$PORT WINDBACK_HOST=127.0.0.1 WINDBACK_RATE_LIMIT_SCALE=0 \
    WINDBACK_LOG_LEVEL=warning WINDBACK_SECRET=bench-secret-0123456789abcdef0123456789 \
    WINDBACK_OUTBOX_DIR=$(mktemp -d) "$PY" server.py >/tmp/windback-first-request.log 2>&1 &
  pid=$!
  for _ in $(seq 1 200); do curl -s -o /dev/null "http://127.0.0.1:$PORT/health" && break; sleep 0.1; done
  curl -s -o /tmp/windback-first-request.json -w "%{http_code} %{time_total} s  GET /$path\n" \
    -H "X-API-Key: $KEY" "http://127.0.0.1:$PORT/api/v1/projects/$SLUG/$path"
  kill "$pid"; wait "$pid" 2>/dev/null || true
done
