#!/bin/sh
# A burst of inbound photos (CONTRACT.md §7): COUNT (1000) signed image deliveries sent
# open-loop at RATE (500) per second over 64 connections to `wabactl serve`, whose media
# worker fetches each one from a loopback stand-in for Meta (bench/media_graph.mjs: media
# info, then MEDIA_BYTES of bytes after DOWNLOAD_DELAY_MS). The reference, in the same run,
# is the same burst of text messages to a fresh daemon. Prints, side by side, the webhook
# latency (p50/p99 from each request's due time) and the daemon's peak RSS, then how long
# until every photo was stored and what the media folder holds.
# Targets: the photos' webhook p99 within 2x the texts'; peak RSS under 64 MiB more than the
# texts' (bytes are streamed to disk, never held whole); every photo stored.
#   bench/media.sh [COUNT] [RATE]
set -eu

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
count=${1:-1000}
rate=${2:-500}
workers=${MEDIA_WORKERS:-4}
connections=64

need node "node is needed for the load generator and the media server"
need python3 "python3 is needed to sign the bodies"

build_release "${BUILD_DIR:-$root/build-bench}"
bench_workdir
secret="bench-app-secret-0123456789abcdef"
number="100000000000001"
printf '%s' "$secret" >"$work/app-secret"
node "$root/bench/media_graph.mjs" >"$work/graph.port" &
graph_pid=$!
trap 'kill $graph_pid 2>/dev/null || true; bench_cleanup' EXIT INT TERM
until [ -s "$work/graph.port" ]; do sleep 0.05; done
graph="http://127.0.0.1:$(cat "$work/graph.port")"

metric() {
  curl -fs "http://127.0.0.1:$port/metrics" | awk -v m="$1" '$1 == m {print $2}'
}

# burst KIND: a fresh database and daemon, COUNT deliveries of KIND; sets $result (the load
# generator's JSON), $hwm and, for photos, $stored_after (seconds from the first delivery
# until the queue was empty).
burst() {
  rm -rf "$work/db"
  mkdir "$work/db"
  export WABACTL_DB="$work/db/wabactl.db" WABACTL_KEY_FILE="$work/db/master.key"
  printf 'EAAGbenchtoken0123456789' >"$work/token"
  "$bin" key init >/dev/null
  "$bin" tenant add bench >/dev/null
  "$bin" config set --tenant bench --phone-number-id "$number" \
    --app-secret-file "$work/app-secret" --access-token-file "$work/token" \
    --verify-token bench-verify --graph-url "$graph" --no-test >/dev/null
  rm -f "$work"/bodies-*.txt
  python3 "$root/bench/bodies.py" "$work" "$secret" "$number" 1 "$count" "$1"
  port=$(free_port)
  "$bin" serve --listen "127.0.0.1:$port" --ws-listen 127.0.0.1:0 --media-workers "$workers" -q 2>"$work/serve-$1.log" &
  pid=$!
  wait_healthy "$port" "$work/serve-$1.log"
  start=$(date +%s.%N)
  result=$(node "$root/bench/openloop.mjs" "$port" "$rate" \
    "$(awk -v c="$count" -v r="$rate" 'BEGIN { print c / r }')" "$connections" "$work"/bodies-0.txt)
  stored_after=""
  if [ "$1" = image ]; then
    tries=0
    while [ "$(metric 'wabactl_media_downloads_total{result="stored"}')" -lt "$count" ]; do
      tries=$((tries + 1))
      [ $tries -gt 6000 ] && { echo "not every photo was stored in 10 minutes:" >&2; \
        curl -fs "http://127.0.0.1:$port/metrics" | grep media >&2; exit 1; }
      sleep 0.1
    done
    stored_after=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
    failed=$(metric 'wabactl_media_downloads_total{result="failed"}')
    retried=$(metric 'wabactl_media_downloads_total{result="retry"}')
  fi
  hwm=$(awk '/^VmHWM/ {print $2 " " $3}' "/proc/$pid/status")
  kill -TERM "$pid"
  wait "$pid" || true
  pid=""
}

show() {
  python3 -c 'import json, sys
r = json.loads(sys.argv[2])
print("  {name:<7}: {answered}/{sent} answered ({non200} not 200, {errors} errors): p50 {p50_ms} ms, p99 {p99_ms} ms, max {max_ms} ms; peak RSS {hwm}".format(name=sys.argv[1], hwm=sys.argv[3], **r))' "$1" "$2" "$3"
}

burst text
text_result=$result
text_hwm=$hwm
burst image
echo "media burst: $count deliveries at $rate/s over $connections connections, $workers media workers, $(($(printf '%s' "${MEDIA_BYTES:-307200}") / 1024)) KiB per photo, download delay ${DOWNLOAD_DELAY_MS:-100} ms"
show "texts" "$text_result" "$text_hwm"
show "photos" "$result" "$hwm"
files=$(find "$work/db/media" -type f | wc -l)
bytes=$(du -sk "$work/db/media" | awk '{print $1}')
echo "  stored : $count photos in ${stored_after} s from the first delivery ($retried retries, $failed failed); media folder: $files files, $bytes KiB"
