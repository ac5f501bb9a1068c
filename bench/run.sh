#!/usr/bin/env bash
# Benchmarks: each workload in bench/workloads/*.lua is driven with wrk against Windback server
# (on SQLite, and on PostgreSQL when one is reachable) and against a bare Tornado app answering
# the same request shape (bench/baseline.py), and one table compares them. Add a workload by adding NAME.lua (it reads BENCH_SLUG / BENCH_KEY /
# BENCH_TOKEN with os.getenv) and, optionally, NAME.setup.py: run with the server's URL before the
# workload (same variables in its env); the BENCH_*=value lines it prints hold for that workload.
#
#   bench/run.sh [WORKLOAD ...]        (default: every workload)
#   BENCH_DURATION=10s BENCH_CONNECTIONS=32 BENCH_THREADS=2 bench/run.sh
#   BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench bench/run.sh   (that database only)
#   BENCH_PROCESSES=2 bench/run.sh     (python server.py --processes 2)
#   BENCH_PG_ADMIN_URL=postgresql://postgres@127.0.0.1:5432/postgres (default): where a temporary
#   database windback_bench_<random> is created for the PostgreSQL pass (and dropped); unreachable:
#   SQLite only. The bench/workloads/webhooks_stripe workload needs the stripe package.
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
wait_up "http://127.0.0.1:$BASE_PORT/health"

# The databases: a temporary SQLite file, and a temporary PostgreSQL database when reachable.
PG_ADMIN=${BENCH_PG_ADMIN_URL:-postgresql://postgres@127.0.0.1:5432/postgres}
PG_DB=""
pg_admin() {  # create NAME | drop NAME
  "$PY" - "$PG_ADMIN" "$1" "$2" <<'PYEOF'
import sys, urllib.parse
import psycopg2
url, action, name = sys.argv[1:]
parts = urllib.parse.urlsplit(url)
conn = psycopg2.connect(host=parts.hostname, port=parts.port or 5432, user=parts.username,
                        password=parts.password, dbname=parts.path.lstrip("/") or "postgres", connect_timeout=3)
conn.autocommit = True
with conn.cursor() as cur:
    cur.execute(f'CREATE DATABASE "{name}"' if action == "create" else f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
print(urllib.parse.urlunsplit(parts._replace(path="/" + name)))
PYEOF
}
drop_pg() { if [ -n "$PG_DB" ]; then pg_admin drop "$PG_DB" >/dev/null 2>&1 || true; fi; }
trap 'cleanup; drop_pg' EXIT
if [ -n "${BENCH_DATABASE_URL:-}" ]; then
  DATABASES=("${BENCH_DATABASE_URL%%:*}|$BENCH_DATABASE_URL")
else
  DATABASES=("sqlite|sqlite:///$WORK/bench.db")
  name="windback_bench_$(date +%s)"
  if url=$(pg_admin create "$name" 2>"$WORK/pg.log"); then
    PG_DB=$name
    DATABASES+=("postgresql|$url")
  else
    echo "bench: PostgreSQL at $PG_ADMIN is not reachable; SQLite only ($(tail -1 "$WORK/pg.log"))" >&2
  fi
fi

if [ $# -gt 0 ]; then WORKLOADS=("$@"); else
  WORKLOADS=(); for f in bench/workloads/*.lua; do WORKLOADS+=("$(basename "$f" .lua)"); done
fi
export BENCH_THREADS=$THREADS BENCH_WORK=$WORK

cpu_ticks() {  # user + system clock ticks of a process and its children (server.py --processes)
  local total=0 pid stat
  for stat in /proc/[0-9]*/stat; do
    { read -r pid _ _ ppid _ < "$stat"; } 2>/dev/null || continue
    if [ "$pid" = "$1" ] || [ "$ppid" = "$1" ]; then
      total=$((total + $(awk '{print $14 + $15}' "$stat" 2>/dev/null || echo 0)))
    fi
  done
  echo "$total"
}
peaks() {  # PID: every 0.2 s, the most threads and resident memory (MB) seen (children summed)
  local max_threads=0 max_rss=0 threads rss files=("/proc/$1/status") child
  for child in $(cat /proc/"$1"/task/*/children 2>/dev/null); do files+=("/proc/$child/status"); done
  trap 'echo "PEAKS $max_threads $((max_rss / 1024))"; exit 0' TERM
  while true; do
    read -r threads rss < <(awk '/^Threads:/ { t += $2 } /^VmRSS:/ { r += $2 } END { print t + 0, r + 0 }' \
                             "${files[@]}" 2>/dev/null)
    ((threads > max_threads)) && max_threads=$threads
    ((rss > max_rss)) && max_rss=$rss
    sleep 0.2 & wait $!
  done
}
drive() {  # NAME PORT PID OUT: wrk's report, then the process's CPU ticks and peaks during the run
  local before after sampler
  before=$(cpu_ticks "$3")
  peaks "$3" >"$4.peaks" &
  sampler=$!
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "bench/workloads/$1.lua" \
      "http://127.0.0.1:$2" >"$4" 2>&1
  after=$(cpu_ticks "$3")
  kill -TERM "$sampler"; wait "$sampler" 2>/dev/null || true
  echo "CPU_TICKS $((after - before))" >>"$4"
  cat "$4.peaks" >>"$4"
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
    /^PEAKS/ { threads=$2; rss=$3 }
    END { printf "%s %s %s %s %.0f %s %s\n", rps, p50, p99, (bad==""?0:bad), (total>0 ? ticks/tick*1e6/total : 0), threads, rss }' "$1"
}

start_server() {  # DATABASE_URL LOG: the server on SERVER_PORT, its pid in SERVER_PID
  WINDBACK_DATABASE_URL=$1 \
  WINDBACK_PORT=$SERVER_PORT WINDBACK_HOST=127.0.0.1 \
  WINDBACK_RATE_LIMIT_SCALE=0 WINDBACK_BCRYPT_ROUNDS=4 WINDBACK_LOG_LEVEL=warning \
  WINDBACK_OUTBOX_DIR=$WORK/outbox \
    env ${BENCH_SERVER_ENV:-} "$PY" server.py ${BENCH_PROCESSES:+--processes "$BENCH_PROCESSES"} >"$2" 2>&1 &
  SERVER_PID=$!
  PIDS+=($SERVER_PID)
  wait_up "http://127.0.0.1:$SERVER_PORT/health"
}

ROWS=()
for database in "${DATABASES[@]}"; do
  label=${database%%|*} url=${database#*|}
  start_server "$url" "$WORK/server-$label.log"
  eval "$("$PY" bench/setup.py "http://127.0.0.1:$SERVER_PORT")"
  export BENCH_SLUG BENCH_KEY BENCH_TOKEN BENCH_RUN_ID=$(date +%s)
  for name in "${WORKLOADS[@]}"; do
    [ -f "bench/workloads/$name.lua" ] || { echo "bench: no workload $name" >&2; exit 1; }
    # A setup script may print BENCH_*=value lines: they hold for this workload only.
    saved_slug=$BENCH_SLUG saved_key=$BENCH_KEY
    if [ -f "bench/workloads/$name.setup.py" ]; then
      set -a
      eval "$("$PY" "bench/workloads/$name.setup.py" "http://127.0.0.1:$SERVER_PORT" | grep -E '^BENCH_[A-Z_]+=[A-Za-z0-9_.:/-]*$')"
      set +a
    fi
    drive "$name" "$BASE_PORT" "$BASE_PID" "$WORK/$name.$label.baseline.txt"
    drive "$name" "$SERVER_PORT" "$SERVER_PID" "$WORK/$name.$label.server.txt"
    read -r b_rps b_p50 b_p99 b_bad b_cpu _ _ < <(summarise "$WORK/$name.$label.baseline.txt")
    read -r s_rps s_p50 s_p99 s_bad s_cpu s_threads s_rss < <(summarise "$WORK/$name.$label.server.txt")
    BENCH_SLUG=$saved_slug BENCH_KEY=$saved_key
    ROWS+=("$label $name $s_rps $s_p50 $s_p99 $s_bad $s_cpu $s_threads $s_rss $b_rps $b_p50 $b_p99 $b_cpu")
  done
  kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
done

echo
echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION; server processes ${BENCH_PROCESSES:-1}; $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) cores, $(uname -m), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load average $(cut -d' ' -f1-3 /proc/loadavg); raw reports in $WORK"
echo "cpu = CPU time of the server process per request (us); threads / rss MB = the server's peaks during the run; ratio = server req/s / baseline req/s"
echo
echo "| database | workload | req/s | p50 ms | p99 ms | non-2xx | cpu us/req | threads | rss MB | baseline req/s | p50 ms | p99 ms | cpu us/req | ratio |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for row in "${ROWS[@]}"; do
  read -r label name s_rps s_p50 s_p99 s_bad s_cpu s_threads s_rss b_rps b_p50 b_p99 b_cpu <<<"$row"
  ratio=$(awk -v s="$s_rps" -v b="$b_rps" 'BEGIN { printf "%.0f%%", (b>0 ? 100*s/b : 0) }')
  printf '| %s | %s | %.0f | %.2f | %.2f | %s | %s | %s | %s | %.0f | %.2f | %.2f | %s | %s |\n' \
    "$label" "$name" "$s_rps" "$s_p50" "$s_p99" "$s_bad" "$s_cpu" "$s_threads" "$s_rss" "$b_rps" "$b_p50" "$b_p99" "$b_cpu" "$ratio"
done
