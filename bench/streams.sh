#!/usr/bin/env bash
# Streams benchmark: 1,000 concurrent SSE clients on one tenant while 50 webhook deliveries
# arrive at 10/s; then the same with 1,000 WebSocket clients. Prints, for each: whether every
# client got every event, p50/p99/max from the webhook's 200 to the client's receipt, and the
# daemon's peak RSS. Targets: p99 <= 50 ms, peak RSS <= 64 MiB.
#
#   bench/streams.sh [path/to/wabactl]    (default: a Release build in build-bench)
# Needs node and `npm ci --prefix tests/node` (the ws package).
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
cd "$root"
if [[ $# -ge 1 ]]; then
  bin=$(realpath "$1")
else
  build_release "${BUILD_DIR:-$root/build-bench}"
fi
CLIENTS=${CLIENTS:-1000}
DELIVERIES=${DELIVERIES:-50}
RATE=${RATE:-10}
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

bench_workdir
bench_tenant
secret=0f1e2d3c4b5a69788796a5b4c3d2e1f0
number=106540352242922
printf '%s' "$secret" >"$work/secret"
"$bin" config set --tenant bench --phone-number-id $number --app-secret-file "$work/secret" \
  --access-token-file "$work/token" --no-test >/dev/null
token=$("$bin" token create --tenant bench 2>/dev/null)

run() {
  local mode=$1 port ws_port
  port=$(free_port); ws_port=$(free_port)
  # --threads 125 allows 1,000 SSE streams (8 per thread); WebSocket needs no threads.
  "$bin" -q serve --listen 127.0.0.1:$port --ws-listen 127.0.0.1:$ws_port --threads 125 \
    2>"$work/serve-$mode.log" &
  pid=$!
  wait_healthy "$port" "$work/serve-$mode.log"
  result=$(node bench/streams_client.mjs "$mode" $port $ws_port "$token" $secret $number \
    "$CLIENTS" "$DELIVERIES" "$RATE")
  rss_kb=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)
  threads=$(awk '/Threads/ {print $2}' /proc/$pid/status)
  kill "$pid"; wait "$pid" || true; pid=""
  echo "$result" | python3 -c "
import json, sys
r = json.load(sys.stdin)
rss = $rss_kb / 1024
print(f\"{r['mode']:>3}: {r['clients']} clients x {r['deliveries']} deliveries at {r['rate']}/s: \"
      f\"{r['receipts']}/{r['expected']} receipts (missing {r['missing']}), \"
      f\"p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, max {r['max_ms']} ms, \"
      f\"daemon peak RSS {rss:.1f} MiB ($threads threads), all connected in {r['connect_all_ms']} ms\")
"
}

echo "wabactl $("$bin" --version | awk '{print $2}'), $(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%MZ)"
run sse
run ws
