#!/usr/bin/env bash
# Streams benchmark: 1,000 concurrent SSE clients on one tenant while 50 webhook deliveries
# arrive at 10/s; then the same with 1,000 WebSocket clients. Prints, for each: whether every
# client got every event, p50/p99/max from the webhook's 200 to the client's receipt, and the
# daemon's peak RSS. Targets: p99 <= 50 ms, peak RSS <= 64 MiB.
#
#   bench/streams.sh [path/to/wabactl]    (default: build/wabactl)
# Needs node and `npm ci --prefix tests/node` (the ws package).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$(realpath "${1:-build/wabactl}")
CLIENTS=${CLIENTS:-1000}
DELIVERIES=${DELIVERIES:-50}
RATE=${RATE:-10}
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

work=$(mktemp -d)
daemon_pid=""
cleanup() {
  if [[ -n "$daemon_pid" ]]; then kill "$daemon_pid" 2>/dev/null || true; wait "$daemon_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

export WABACTL_DB=$work/wabactl.db WABACTL_KEY_FILE=$work/master.key
secret=0f1e2d3c4b5a69788796a5b4c3d2e1f0
number=106540352242922
printf '%s' "$secret" >"$work/secret"
printf 'EAAGbenchtoken0123456789' >"$work/token"
"$BIN" key init >/dev/null
"$BIN" tenant add bench >/dev/null
"$BIN" config set --tenant bench --phone-number-id $number --app-secret-file "$work/secret" \
  --access-token-file "$work/token" --no-test >/dev/null
token=$("$BIN" token create --tenant bench 2>/dev/null)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

run() {
  local mode=$1 port ws_port
  port=$(free_port); ws_port=$(free_port)
  # --threads 125 allows 1,000 SSE streams (8 per thread); WebSocket needs no threads.
  "$BIN" -q serve --listen 127.0.0.1:$port --ws-listen 127.0.0.1:$ws_port --threads 125 \
    2>"$work/serve-$mode.log" &
  daemon_pid=$!
  for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
    sleep 0.1
  done
  result=$(node bench/streams_client.mjs "$mode" $port $ws_port "$token" $secret $number \
    "$CLIENTS" "$DELIVERIES" "$RATE")
  rss_kb=$(awk '/VmHWM/ {print $2}' /proc/$daemon_pid/status)
  threads=$(awk '/Threads/ {print $2}' /proc/$daemon_pid/status)
  kill "$daemon_pid"; wait "$daemon_pid" || true; daemon_pid=""
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

echo "wabactl $("$BIN" --version | awk '{print $2}'), $(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%MZ)"
run sse
run ws
