#!/bin/sh
# Forwarded events at Meta's worst case: HOOK_RATE (3300) signed inbound texts a second for
# HOOK_SECONDS (10), open loop over 64 connections (bench/openloop.mjs), from 10,000
# customers, into a daemon with (1) no hook, the reference, (2) one hook to a live receiver
# on loopback, (3) that hook and one to a receiver that never answers. Prints, side by side:
# webhook latency p50/p99 from each request's due time, events forwarded per second, and the
# delivery lag (a webhook's due time to the receiver's arrival) p50/p99/max.
# Targets: every event forwarded, and the webhook p99 with hooks (dead one included) within
# 2x the reference's.
#   bench/hooks.sh
set -eu

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
need node "node is needed for the load generator and the receivers"
need python3 "python3 is needed to sign the bodies"
rate=${HOOK_RATE:-3300}
seconds=${HOOK_SECONDS:-10}
connections=64
total=$((rate * seconds))

build_release "${BUILD_DIR:-$root/build-bench}"
bench_workdir
secret="bench-app-secret-0123456789abcdef"
number="100000000000001"
printf '%s' "$secret" >"$work/app-secret"
python3 "$root/bench/bodies.py" "$work" "$secret" "$number" 1 "$total" text

metric() {
  curl -fs "http://127.0.0.1:$port/metrics" | awk -v m="$1" '$1 == m {print $2}'
}

# run NAME HOOKS: a fresh database with HOOKS ("", "live" or "live dead"), the load, then
# waits (up to 120 s) until every event reached the live receiver.
run() {
  rm -f "$work"/wabactl.db* "$work/master.key" "$work"/*.port "$work/arrivals.txt"
  bench_tenant
  "$bin" config set --tenant bench --phone-number-id "$number" \
    --app-secret-file "$work/app-secret" --access-token-file "$work/token" \
    --verify-token bench-verify --no-test >/dev/null
  node "$root/bench/hook_receiver.mjs" "$work/live.port" "$work/dead.port" \
    "$work/arrivals.txt" &
  receiver=$!
  until [ -s "$work/live.port" ] && [ -s "$work/dead.port" ]; do sleep 0.05; done
  for h in $2; do
    "$bin" hook add --tenant bench --url "http://127.0.0.1:$(cat "$work/$h.port")/in" \
      --events message.received --allow-private >/dev/null
  done
  port=$(free_port)
  "$bin" serve --listen "127.0.0.1:$port" -q 2>"$work/serve-$1.log" &
  pid=$!
  wait_healthy "$port" "$work/serve-$1.log"
  sleep 1.5 # the forwarder loads new hooks every second
  result=$(OPENLOOP_T0_FILE="$work/t0" node "$root/bench/openloop.mjs" "$port" "$rate" \
    "$seconds" "$connections" "$work/bodies-0.txt")
  if [ -n "$2" ]; then
    tries=0
    until [ "$(metric 'wabactl_hook_deliveries_total{result="acknowledged"}')" -ge "$total" ]; do
      tries=$((tries + 1))
      [ $tries -gt 1200 ] && break
      sleep 0.1
    done
  fi
  pending=$(curl -fs "http://127.0.0.1:$port/metrics" |
    awk '/^wabactl_hook_pending/ {s += $2} END {print s + 0}')
  kill -TERM "$pid"
  wait "$pid" || true
  pid=""
  kill -TERM "$receiver"
  wait "$receiver" || true
  python3 - "$1" "$result" "$work/t0" "$work/arrivals.txt" "$rate" "$total" "$pending" <<'EOF'
import json, sys
name, result, t0_file, arrivals_file, rate, total, pending = sys.argv[1:]
r = json.loads(result)
rate, total = float(rate), int(total)
t0 = float(open(t0_file).read())
lags, last, seen = [], 0.0, set()
for line in open(arrivals_file):
    if not line.strip():
        continue
    n, at = line.split()
    n, at = int(n), float(at)
    seen.add(n)
    lags.append(at - (t0 + n * 1000 / rate))
    last = max(last, at)
print(f"  {name:<10} webhooks {r['answered']}/{r['sent']} answered ({r['non200']} not 200) "
      f"at {r['achieved_rps']}/s: p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, max {r['max_ms']} ms")
if lags:
    lags.sort()
    pct = lambda p: lags[min(len(lags) - 1, int(p * len(lags)))]
    span = (last - t0) / 1000
    print(f"  {'':<10} forwarded {len(seen)}/{total} distinct ({len(lags)} deliveries) "
          f"at {len(lags) / span:.0f}/s; lag p50 {pct(0.5):.1f} ms, p99 {pct(0.99):.1f} ms, "
          f"max {lags[-1]:.1f} ms; pending at the end: {pending}")
EOF
}

echo "forwarding bench: $rate webhooks/s for $seconds s over $connections connections, 10,000 customers"
run "no hook" ""
run "live hook" "live"
run "live+dead" "live dead"
