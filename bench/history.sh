#!/bin/sh
# Reading speed on a large database: builds Release, fills a temporary database with
# 1,000,000 messages across 10,000 conversations of one tenant (half incoming, the newest
# 5,000 incoming unread), then times whole `wabactl` processes:
#   wabactl history --tenant bench --phone P --limit 50
#   wabactl unread --tenant bench
# with hyperfine when installed, else a loop. Target: < 5 ms each.
#   bench/history.sh [RUNS]
set -eu

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
runs=${1:-200}

need sqlite3 "sqlite3 is needed: apt-get install sqlite3"

build_release "${BUILD_DIR:-$root/build-bench}"
bench_workdir
bench_tenant

bench_million_messages

phone="+15550004242"
[ "$("$bin" history --tenant bench --phone "$phone" --limit 50 --json | wc -l)" -eq 50 ] ||
  { echo "history did not return 50 messages" >&2; exit 1; }
echo "unread: $("$bin" unread --tenant bench)" >&2

if command -v hyperfine >/dev/null; then
  hyperfine -N --warmup 20 --runs "$runs" \
    "$bin history --tenant bench --phone $phone --limit 50" \
    "$bin unread --tenant bench" \
    "$bin --version"
  exit 0
fi

# Mean and p95 wall time of RUNS whole-process runs (milliseconds).
measure() {
  label=$1
  shift
  i=0
  while [ $i -lt 20 ]; do "$@" >/dev/null; i=$((i + 1)); done
  time_runs "$runs" "$@"
  # The CPU time of the children of a subshell that runs only the command: a figure a busy
  # machine does not inflate the way it inflates wall time.
  cpu=$(
    i=0
    while [ $i -lt "$runs" ]; do
      "$@" >/dev/null
      i=$((i + 1))
    done
    # Not in a pipeline: there `times` would report a fresh subshell's zeros.
    times >"$work/cpu"
    tail -n 1 "$work/cpu"
  )
  sort -n "$work/times" | awk -v label="$label" -v cpu="$cpu" -v runs="$runs" '
    function secs(t,   m) { m = index(t, "m"); return substr(t, 1, m - 1) * 60 + substr(t, m + 1) + 0 }
    { v[NR] = $1; sum += $1 }
    END { split(cpu, c, " ")
          printf "  %-30s wall mean %.2f ms  p50 %.2f ms  p95 %.2f ms  cpu %.2f ms/run (%d runs)\n",
                 label, sum / NR / 1000, v[int(NR * 0.5)] / 1000, v[int(NR * 0.95)] / 1000,
                 (secs(c[1]) + secs(c[2])) * 1000 / runs, NR }'
}

echo "whole-process timings (hyperfine not installed; a shell loop, which adds fork+exec):"
measure "wabactl --version (baseline)" "$bin" --version
measure "history --phone P --limit 50" "$bin" history --tenant bench --phone "$phone" --limit 50
measure "unread" "$bin" unread --tenant bench
measure "unread --by-contact" "$bin" unread --tenant bench --by-contact
