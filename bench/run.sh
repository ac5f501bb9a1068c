#!/usr/bin/env bash
# Benchmarks: each workload in bench/workloads/*.lua is driven with wrk against Windback server
# and against a bare Tornado app answering the same request shape (bench/baseline.py), and one
# table compares them. Add a workload by adding NAME.lua (it reads BENCH_SLUG / BENCH_KEY /
# BENCH_TOKEN with os.getenv) and, optionally, NAME.setup.py: run with the server's URL before the
# workload (same variables in its env); the BENCH_*=value lines it prints hold for that workload.
#
#   bench/run.sh [WORKLOAD ...]        (default: every workload)
#   BENCH_DURATION=10s BENCH_CONNECTIONS=32 BENCH_THREADS=2 bench/run.sh
#   BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench bench/run.sh   (default: temp SQLite)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PY=${PYTHON:-$ROOT/.venv/bin/python}
[ -x "$PY" ] || PY=$(command -v python3)
command -v wrk >/dev/null || { echo "bench: wrk is not installed (apt-get install wrk)" >&2; exit 1; }
DURATION=${BENCH_DURATION:-10s}
CONNECTIONS=${BENCH_CONNECTIONS:-32}
THREADS=${BENCH_THREADS:-2}
WORK=$(mktemp -d /tmp/windback-bench.XXXXXX)
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
SERVER_PORT=$(free_port)
BASE_PORT=$(free_port)
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

wait_up() {  # URL
  for _ in $(seq 1 100); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done
  echo "bench: $1 did not come up" >&2; exit 1
}

"$PY" bench/baseline.py "$BASE_PORT" >"$WORK/baseline.log" 2>&1 &
BASE_PID=$!
PIDS+=($BASE_PID)
WINDBACK_DATABASE_URL=${BENCH_DATABASE_URL:-sqlite:///$WORK/bench.db} \
WINDBACK_PORT=$SERVER_PORT WINDBACK_HOST=127.0.0.1 \
WINDBACK_RATE_LIMIT_SCALE=0 WINDBACK_BCRYPT_ROUNDS=4 WINDBACK_LOG_LEVEL=warning \
WINDBACK_OUTBOX_DIR=$WORK/outbox \
  "$PY" server.py >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
PIDS+=($SERVER_PID)
wait_up "http://127.0.0.1:$SERVER_PORT/health"
wait_up "http://127.0.0.1:$BASE_PORT/health"
eval "$("$PY" bench/setup.py "http://127.0.0.1:$SERVER_PORT")"
export BENCH_SLUG BENCH_KEY BENCH_TOKEN BENCH_RUN_ID=$(date +%s)

if [ $# -gt 0 ]; then WORKLOADS=("$@"); else
  WORKLOADS=(); for f in bench/workloads/*.lua; do WORKLOADS+=("$(basename "$f" .lua)"); done
fi

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }  # user + system, in clock ticks
drive() {  # NAME PORT PID OUT: wrk's report, then the process's CPU ticks spent during the run
  local before after
  before=$(cpu_ticks "$3")
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "bench/workloads/$1.lua" \
      "http://127.0.0.1:$2" >"$4" 2>&1
  after=$(cpu_ticks "$3")
  echo "CPU_TICKS $((after - before))" >>"$4"
}
# Requests/s, p50 and p99 (ms), non-2xx count and CPU microseconds per request from a report.
TICK=$(getconf CLK_TCK)
summarise() {
  awk -v tick="$TICK" '
    function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
    /Requests\/sec/ { rps=$2 }
    /requests in/ { total=$1 }
    /^ +50%/ { p50=ms($2) }
    /^ +99%/ { p99=ms($2) }
    /Non-2xx/ { bad=$NF }
    /^CPU_TICKS/ { ticks=$2 }
    END { printf "%s %s %s %s %.0f\n", rps, p50, p99, (bad==""?0:bad), (total>0 ? ticks/tick*1e6/total : 0) }' "$1"
}

ROWS=()
for name in "${WORKLOADS[@]}"; do
  [ -f "bench/workloads/$name.lua" ] || { echo "bench: no workload $name" >&2; exit 1; }
  # A setup script may print BENCH_*=value lines: they hold for this workload only.
  saved_slug=$BENCH_SLUG saved_key=$BENCH_KEY
  if [ -f "bench/workloads/$name.setup.py" ]; then
    eval "$("$PY" "bench/workloads/$name.setup.py" "http://127.0.0.1:$SERVER_PORT" | grep -E '^BENCH_[A-Z_]+=[A-Za-z0-9_.:/-]*$')"
    export BENCH_SLUG BENCH_KEY
  fi
  drive "$name" "$BASE_PORT" "$BASE_PID" "$WORK/$name.baseline.txt"
  drive "$name" "$SERVER_PORT" "$SERVER_PID" "$WORK/$name.server.txt"
  read -r b_rps b_p50 b_p99 b_bad b_cpu < <(summarise "$WORK/$name.baseline.txt")
  read -r s_rps s_p50 s_p99 s_bad s_cpu < <(summarise "$WORK/$name.server.txt")
  BENCH_SLUG=$saved_slug BENCH_KEY=$saved_key
  ROWS+=("$name $s_rps $s_p50 $s_p99 $s_bad $s_cpu $b_rps $b_p50 $b_p99 $b_cpu")
done

echo
echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION; database ${BENCH_DATABASE_URL:-SQLite (temp file)}; load average $(cut -d' ' -f1-3 /proc/loadavg); raw reports in $WORK"
echo "cpu = CPU time of the server process per request (us); ratio = server req/s / baseline req/s"
echo
echo "| workload | req/s | p50 ms | p99 ms | non-2xx | cpu us/req | baseline req/s | p50 ms | p99 ms | cpu us/req | ratio |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for row in "${ROWS[@]}"; do
  read -r name s_rps s_p50 s_p99 s_bad s_cpu b_rps b_p50 b_p99 b_cpu <<<"$row"
  ratio=$(awk -v s="$s_rps" -v b="$b_rps" 'BEGIN { printf "%.0f%%", (b>0 ? 100*s/b : 0) }')
  printf '| %s | %.0f | %.2f | %.2f | %s | %s | %.0f | %.2f | %.2f | %s | %s |\n' \
    "$name" "$s_rps" "$s_p50" "$s_p99" "$s_bad" "$s_cpu" "$b_rps" "$b_p50" "$b_p99" "$b_cpu" "$ratio"
done
