#!/bin/sh
# Webhook throughput of `wabactl serve`: builds Release, starts the daemon on a temporary
# database, replays signed deliveries with wrk (25% inbound text, 75% statuses, unique ids)
# over 8 connections for 10 s, and prints requests/s, p50/p99 latency and the daemon's
# peak RSS. Targets: >= 10,000 req/s, p99 <= 10 ms, RSS <= 64 MiB.
# Then the open-loop run (Meta's worst case): OPEN_RATE (3300) signed deliveries/s for
# OPEN_SECONDS (10) over OPEN_CONNECTIONS ("64 512": one run each) keep-alive connections,
# latency from each request's due time (bench/openloop.mjs), against a fresh daemon and
# against a bare Node server answering 200 at once (bench/floor_server.mjs) in the same
# run. Target: the daemon's p99 within 2x the floor's.
#   bench/webhook.sh [SECONDS] [CONNECTIONS]
set -eu

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
seconds=${1:-10}
connections=${2:-8}
threads=2
per_thread=${BODIES_PER_THREAD:-200000}

need wrk "wrk is needed: apt-get install wrk"
need python3 "python3 is needed to sign the bodies"
need node "node is needed for the open-loop run"
open_rate=${OPEN_RATE:-3300}
open_seconds=${OPEN_SECONDS:-10}
open_connections=${OPEN_CONNECTIONS:-64 512}

build_release "${BUILD_DIR:-$root/build-bench}"
bench_workdir
bench_tenant
secret="bench-app-secret-0123456789abcdef"
number="100000000000001"
printf '%s' "$secret" >"$work/app-secret"
"$bin" config set --tenant bench --phone-number-id "$number" --app-secret-file "$work/app-secret" \
  --access-token-file "$work/token" --verify-token bench-verify --no-test >/dev/null

python3 "$root/bench/bodies.py" "$work" "$secret" "$number" "$threads" "$per_thread"

port=$(free_port)
"$bin" serve --listen "127.0.0.1:$port" -q 2>"$work/serve.log" &
pid=$!
wait_healthy "$port" "$work/serve.log"

# CPU time (user + system, in clock ticks) of the daemon: a figure a busy machine does not
# inflate the way it inflates latency.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
cpu_before=$(cpu_ticks)
wrk -t "$threads" -c "$connections" -d "${seconds}s" --latency -s "$root/bench/webhook.lua" \
  "http://127.0.0.1:$port" -- "$work" >"$work/wrk.txt"
cat "$work/wrk.txt" >&2

rps=$(awk '/^Requests\/sec/ {print $2}' "$work/wrk.txt")
p50=$(awk '$1 == "50%" {print $2}' "$work/wrk.txt")
p99=$(awk '$1 == "99%" {print $2}' "$work/wrk.txt")
cpu_after=$(cpu_ticks)
total=$(awk '/requests in/ {print $1}' "$work/wrk.txt")
cpu_per_request=$(awk -v t=$((cpu_after - cpu_before)) -v hz="$(getconf CLK_TCK)" -v n="$total" \
  'BEGIN { printf "%.0f", t / hz * 1e6 / n }')
hwm=$(awk '/^VmHWM/ {print $2 " " $3}' "/proc/$pid/status")
stored=$(curl -fs "http://127.0.0.1:$port/metrics" | awk '/^wabactl_webhooks_stored_total/ {print $2}')
commits=$(curl -fs "http://127.0.0.1:$port/metrics" | awk '/^wabactl_commit_seconds_count/ {print $2}')
kill -TERM "$pid"
wait "$pid" || true
pid=""

echo "webhook bench: ${connections} connections, ${seconds} s"
echo "  requests/s : $rps"
echo "  latency p50: $p50"
echo "  latency p99: $p99"
echo "  daemon CPU : $cpu_per_request us per request (user + system)"
echo "  peak RSS   : $hwm (VmHWM)"
echo "  stored     : $stored deliveries in $commits group commits"

show() {
  python3 -c 'import json, sys
r = json.loads(sys.argv[2])
print("  {name:<11}: {answered}/{sent} answered ({non200} not 200, {errors} errors) at {achieved_rps} req/s: p50 {p50_ms} ms, p99 {p99_ms} ms, p99.9 {p999_ms} ms, max {max_ms} ms".format(name=sys.argv[1], **r))' "$1" "$2"
}

# open_loop CONNECTIONS: a fresh database (no duplicates of earlier runs), then the floor.
open_loop() {
  rm -f "$WABACTL_DB" "$WABACTL_DB-wal" "$WABACTL_DB-shm" "$WABACTL_KEY_FILE"
  bench_tenant
  "$bin" config set --tenant bench --phone-number-id "$number" \
    --app-secret-file "$work/app-secret" --access-token-file "$work/token" \
    --verify-token bench-verify --no-test >/dev/null
  port=$(free_port)
  "$bin" serve --listen "127.0.0.1:$port" -q 2>"$work/serve-open.log" &
  pid=$!
  wait_healthy "$port" "$work/serve-open.log"
  daemon_open=$(node "$root/bench/openloop.mjs" "$port" "$open_rate" "$open_seconds" "$1" \
    "$work"/bodies-*.txt)
  open_stored=$(curl -fs "http://127.0.0.1:$port/metrics" |
    awk '/^wabactl_webhooks_stored_total/ {print $2}')
  kill -TERM "$pid"
  wait "$pid" || true
  rm -f "$work/floor.port"
  node "$root/bench/floor_server.mjs" >"$work/floor.port" &
  pid=$!
  until [ -s "$work/floor.port" ]; do sleep 0.05; done
  floor_open=$(node "$root/bench/openloop.mjs" "$(cat "$work/floor.port")" "$open_rate" \
    "$open_seconds" "$1" "$work"/bodies-*.txt)
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  pid=""
  echo "open loop: $open_rate deliveries/s for $open_seconds s over $1 connections, latency from due time"
  show "wabactl" "$daemon_open"
  show "floor" "$floor_open"
  echo "  stored     : $open_stored deliveries (synchronous=FULL)"
}

for c in $open_connections; do open_loop "$c"; done
