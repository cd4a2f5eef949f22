#!/usr/bin/env bash
# Streams benchmark at default flags: CLIENTS (1,000) concurrent SSE clients on one tenant
# while 50 webhook deliveries arrive at 10/s; then the same with WebSocket clients; then
# both at once (CLIENTS SSE + CLIENTS WebSocket on one daemon). Prints, for each: whether
# every client got every event, p50/p99/max from the webhook's 200 to the client's receipt,
# the daemon's peak RSS and threads, and the time to connect every SSE client beside the
# same clients connecting to a bare Node server (bench/floor_server.mjs) in the same run.
# Targets: p99 <= 50 ms, peak RSS <= 64 MiB for 1,000 + 1,000. CLIENTS=5000 shows how far
# the defaults go (the descriptor limit of both processes counts too).
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

report() {
  python3 -c "
import json, sys
r = json.load(sys.stdin)
rss = $rss_kb / 1024
print(f\"{r['mode']:>3}: {r['clients']} clients x {r['deliveries']} deliveries at {r['rate']}/s: \"
      f\"{r['receipts']}/{r['expected']} receipts (missing {r['missing']}), \"
      f\"p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, max {r['max_ms']} ms, \"
      f\"daemon peak RSS {rss:.1f} MiB ($threads threads), all connected in {r['connect_all_ms']} ms\")
"
}

# run MODE...: one daemon at default flags, one client process per MODE, all at once.
run() {
  local port ws_port mode
  port=$(free_port); ws_port=$(free_port)
  "$bin" -q serve --listen 127.0.0.1:$port --ws-listen 127.0.0.1:$ws_port \
    2>"$work/serve.log" &
  pid=$!
  wait_healthy "$port" "$work/serve.log"
  for mode in "$@"; do
    node bench/streams_client.mjs "$mode" $port $ws_port "$token" $secret $number \
      "$CLIENTS" "$DELIVERIES" "$RATE" >"$work/result-$mode.json" &
  done
  wait $(jobs -p | grep -v "^$pid\$")
  rss_kb=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)
  threads=$(awk '/Threads/ {print $2}' /proc/$pid/status)
  kill "$pid"; wait "$pid" || true; pid=""
  for mode in "$@"; do report <"$work/result-$mode.json"; done
}

floor_connect() {
  local fport
  node bench/floor_server.mjs >"$work/floor.port" &
  pid=$!
  until [[ -s "$work/floor.port" ]]; do sleep 0.05; done
  fport=$(cat "$work/floor.port")
  node bench/streams_client.mjs sse-connect "$fport" 0 x x x "$CLIENTS" 0 1 |
    python3 -c "import json, sys; r = json.load(sys.stdin); print(f\"floor: {r['clients']} SSE clients of a bare Node server all connected in {r['connect_all_ms']} ms\")"
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
}

echo "wabactl $("$bin" --version | awk '{print $2}'), $(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%MZ)"
floor_connect
run sse
run ws
echo "both at once:"
run sse ws
