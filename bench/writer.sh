#!/bin/sh
# The webhook writer alone: builds Release (and bench/writer.cpp), writes the deliveries of
# bench/webhook.sh (25 % inbound text, 75 % statuses) and stores them through the daemon's
# group commit in groups of GROUP (the webhook bench sees about 3) on a temporary database,
# without HTTP, RUNS times. Prints CPU and wall time per delivery and WAL pages per commit:
# a steadier figure than requests/s for changes to the store path.
#   bench/writer.sh [DELIVERIES] [GROUP] [RUNS]      (defaults 30000, 3, 3)
set -eu

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
count=${1:-30000}
group=${2:-3}
runs=${3:-3}

need python3 "python3 is needed to write the bodies"

build_release "${BUILD_DIR:-$root/build-bench}" bench_writer
bench_workdir
python3 "$root/bench/bodies.py" "$work" "bench-app-secret-0123456789abcdef" "100000000000001" 1 \
  "$count"
for run in $(seq "$runs"); do
  rm -f "$work"/run.db*
  echo "run $run:"
  "$build/bench_writer" "$work/run.db" "$work/bodies-0.txt" "$count" "$group"
done
