#!/bin/sh
# Hostile and unlucky conditions (contract §12): a slow-head connection flood from one
# address while Meta's deliveries, some wrongly signed, arrive from another. Builds Release,
# starts the daemon at default flags on a temporary database and runs bench/flood.mjs (two
# processes): FLOOD (1500) slowloris connections from 127.0.0.1, and after 3 s GOOD (4000)
# signed deliveries with BAD (75) wrong signatures mixed in at RATE (400)/s from
# 127.0.0.2, /healthz every 20 ms.
# Prints good deliveries refused (target 0), webhook and /healthz p99 during the flood
# (target: under 1 s; beside the same run without a flood), the connections the daemon held,
# and its peak RSS. Then the same with --max-connections-per-address 2000, so that the
# whole flood is held.
#   bench/flood.sh
set -eu

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
flood=${FLOOD:-1500}
good=${GOOD:-4000}
bad=${BAD:-75}
rate=${RATE:-400}

need node "node is needed"
need curl "curl is needed"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

build_release "${BUILD_DIR:-$root/build-bench}"
bench_workdir
secret="bench-app-secret-0123456789abcdef"
number="100000000000001"
printf '%s' "$secret" >"$work/app-secret"

# run LABEL FLOOD [SERVE FLAGS...]
run() {
  label=$1
  n=$2
  shift 2
  rm -f "$work"/wabactl.db* "$work/master.key"
  bench_tenant
  "$bin" config set --tenant bench --phone-number-id "$number" \
    --app-secret-file "$work/app-secret" --access-token-file "$work/token" \
    --verify-token bench-verify --no-test >/dev/null
  port=$(free_port)
  "$bin" serve --listen "127.0.0.1:$port" -q "$@" 2>"$work/serve.log" &
  pid=$!
  wait_healthy "$port" "$work/serve.log"
  seconds=$(( (good + bad) / rate + 6 ))
  node "$root/bench/flood.mjs" flood "$port" "$n" "$seconds" >"$work/flood.json" &
  flooder=$!
  sleep 3
  result=$(node "$root/bench/flood.mjs" measure "$port" "$secret" "$number" "$good" "$bad" "$rate")
  held=$(curl -fs --interface 127.0.0.2 "http://127.0.0.1:$port/metrics" | awk '/^wabactl_http_connections/ {print $2}')
  wait "$flooder"
  hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")
  kill -TERM "$pid"
  wait "$pid" || true
  pid=""
  python3 -c 'import json, sys
r = json.loads(sys.argv[2])
f = json.loads(sys.argv[4])
print("{label}:".format(label=sys.argv[1]))
print("  flood            : {flood} slow connections wanted; open {open_after_3s} after 3 s, {open_at_end} at the end; {closed_or_refused} closed or refused by the daemon".format(**f))
print("  daemon held      : {} HTTP connections after the deliveries (wabactl_http_connections, this request included)".format(sys.argv[5]))
print("  deliveries       : {good} good + {bad} bad at {rate}/s: good refused {good_refused}, bad accepted {bad_accepted}, errors {errors}, statuses {statuses}".format(**r))
print("  webhook latency  : p50 {webhook_p50_ms} ms, p99 {webhook_p99_ms} ms, max {webhook_max_ms} ms (from due time)".format(**r))
print("  /healthz         : {healthz_probes} probes, {healthz_failed} failed, p99 {healthz_p99_ms} ms, max {healthz_max_ms} ms".format(**r))
print("  daemon peak RSS  : {:.1f} MiB".format(int(sys.argv[3]) / 1024))' "$label" "$result" "$hwm" \
    "$(cat "$work/flood.json")" "$held"
}

echo "wabactl $("$bin" --version | awk '{print $2}'), $(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%MZ)"
run "reference: no flood, default flags" 0
run "flood, default flags" "$flood"
run "flood, --max-connections-per-address 2000 (the whole flood held)" "$flood" \
  --max-connections-per-address 2000
