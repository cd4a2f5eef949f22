#!/bin/sh
# Send throughput of `wabactl send` against a fake Graph API on loopback (bench/fake_graph.cpp,
# cpp-httplib with tcp_nodelay, answering like Meta). Builds Release, then prints:
#   1. a 5,000-row batch with --rate 1000 --concurrency 32: messages/s (target >= 1,000/s;
#      the limiter lets the first 1,000 go at once, and each send holds its place until a
#      second after its answer), then the same rows at --rate 10000, where the limiter is not the bound: what
#      the send pipeline itself can do over 32 connections;
#   2. a batch with --rate 80: the achieved rate and the most messages the server saw in any
#      one-second window (target: within 5 % of 80, never above 80);
#   3. the template check (CONTRACT.md §8): the same 5,000-row batch checked against the
#      synced catalogue and with --no-template-check, wall and CPU side by side (target: the
#      check costs under 5 % of the batch's wall time);
#   4. `wabactl send --text` as a whole process: wall time (target < 15 ms).
#   bench/send.sh [ROWS] [ROWS_AT_80]        (defaults 5000 and 1000)
set -eu

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
rows=${1:-5000}
rows80=${2:-1000}

need python3 "python3 is needed for timing"

build_release "${BUILD_DIR:-$root/build-snd-bench}"
bench_workdir

# shellcheck disable=SC2046
c++ -O2 -std=c++20 -o "$work/fake_graph" "$root/bench/fake_graph.cpp" \
  $(pkg-config --cflags --libs cpp-httplib) -lpthread
"$work/fake_graph" >"$work/port" &
pid=$!
while [ ! -s "$work/port" ]; do sleep 0.05; done
port=$(cat "$work/port")
graph="http://127.0.0.1:$port"

bench_tenant
"$bin" config set --tenant bench --phone-number-id 100000000000001 \
  --access-token-file "$work/token" --graph-url "$graph" --business-account-id 100000000000009 \
  --no-test >/dev/null

# Unique recipients, so per-recipient spacing (6 s) never holds a row back.
make_csv() { # FILE ROWS OFFSET
  python3 - "$1" "$2" "$3" <<'PY'
import sys
path, n, off = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open(path, "w") as out:
    out.write("to,template,lang,body1,body2,idempotency_key\n")
    for i in range(n):
        k = off + i
        out.write(f"+1555{k:07d},invoice_ready,en_US,Customer {k},${k % 1000}.00,inv-{k}\n")
PY
}

timed() { # prints wall seconds of "$@" (stdout to /dev/null)
  python3 - "$@" <<'PY'
import subprocess, sys, time
t = time.perf_counter()
r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(f"{time.perf_counter() - t:.3f} {r.returncode}")
PY
}

stats() { python3 -c "import json,urllib.request;print(json.load(urllib.request.urlopen('$graph/stats')))" ; }
reset() { python3 -c "import urllib.request;urllib.request.urlopen(urllib.request.Request('$graph/reset', data=b''))"; }

# fast_batch FILE OFFSET RATE: sends $rows rows at RATE over 32 connections and prints the
# wall and server-side rates.
fast_batch() {
  make_csv "$1" "$rows" "$2"
  # shellcheck disable=SC2046 # timed prints two words: seconds and exit code.
  set -- $(timed "$bin" send --tenant bench --batch "$1" --rate "$3" --concurrency 32)
  python3 - "$1" "$2" "$rows" "$(stats)" <<'PY'
import ast, sys
secs, rc, rows, s = float(sys.argv[1]), sys.argv[2], int(sys.argv[3]), ast.literal_eval(sys.argv[4])
print(f"exit {rc}; {rows} messages in {secs:.2f} s wall = {rows / secs:.0f} messages/s "
      f"(server: {s['rate']:.0f}/s between first and last, max {s['max_in_any_1s_window']} in any 1 s)")
PY
}

echo "== batch: $rows rows, --rate 1000 --concurrency 32"
fast_batch "$work/fast.csv" 0 1000

echo "== batch: $rows rows, --rate 10000 --concurrency 32 (the pipeline, not the limiter)"
reset
fast_batch "$work/capacity.csv" 2000000 10000

echo "== batch: $rows80 rows, --rate 80 --concurrency 8"
reset
make_csv "$work/slow.csv" "$rows80" 1000000
# shellcheck disable=SC2046 # timed prints two words: seconds and exit code.
set -- $(timed "$bin" send --tenant bench --batch "$work/slow.csv" --rate 80 --concurrency 8)
python3 - "$1" "$2" "$(stats)" <<'PY'
import ast, sys
secs, rc, s = float(sys.argv[1]), sys.argv[2], ast.literal_eval(sys.argv[3])
verdict = "OK" if s["max_in_any_1s_window"] <= 80 and s["rate"] >= 76 else "MISSED"
print(f"exit {rc}; achieved {s['rate']:.2f} messages/s at the server over {s['seconds']:.1f} s; "
      f"max {s['max_in_any_1s_window']} in any 1-s window ({verdict}: within 5 % of 80, never above)")
PY

echo "== the template check: $rows rows at --rate 10000, checked and unchecked, 3 runs each"
"$bin" template sync --tenant bench >/dev/null
python3 - "$bin" "$rows" "$work" <<'PY'
import os, resource, statistics, subprocess, sys, time
bin, rows, work = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def run(tag, extra, offset):
    path = os.path.join(work, f"check-{tag}-{offset}.csv")
    with open(path, "w") as out:
        out.write("to,template,lang,body1,body2,idempotency_key\n")
        for i in range(rows):
            k = offset + i
            out.write(f"+1777{k:07d},invoice_ready,en_US,Customer {k},${k % 1000}.00,chk-{tag}-{k}\n")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    r = subprocess.run([bin, "send", "--tenant", "bench", "--batch", path, "--rate", "10000",
                        "--concurrency", "32"] + extra,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0 or "warning" in r.stderr:
        sys.exit(f"batch failed (exit {r.returncode}): {r.stderr[:300]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
checked, unchecked = [], []
for n in range(3):
    checked.append(run("on", [], 3000000 + 2 * n * rows))
    unchecked.append(run("off", ["--no-template-check"], 3000000 + (2 * n + 1) * rows))
cw = statistics.median(w for w, _ in checked); uw = statistics.median(w for w, _ in unchecked)
cc = statistics.median(c for _, c in checked); uc = statistics.median(c for _, c in unchecked)
print(f"checked:   {cw:.3f} s wall, {cc:.3f} s CPU (median)")
print(f"unchecked: {uw:.3f} s wall, {uc:.3f} s CPU (median)")
share = (cw - uw) / cw * 100
verdict = "OK" if share < 5 else "MISSED"
print(f"the check: {share:+.1f} % of the batch's wall time, {(cc - uc) / cc * 100:+.1f} % of its "
      f"CPU ({verdict}: under 5 % of wall time)")
PY

echo "== single process: wabactl send --text (20 runs)"
python3 - "$bin" <<'PY'
import statistics, subprocess, sys, time
bin = sys.argv[1]
times = []
for i in range(20):
    t = time.perf_counter()
    r = subprocess.run([bin, "send", "--tenant", "bench", "--to", f"+1666{i:07d}", "--text",
                        "Your invoice is ready", "--outside-window"], stdout=subprocess.DEVNULL)
    times.append((time.perf_counter() - t) * 1000)
    if r.returncode != 0:
        sys.exit(f"send failed with exit {r.returncode}")
print(f"median {statistics.median(times):.1f} ms, min {min(times):.1f} ms, "
      f"max {max(times):.1f} ms (target < 15 ms)")
PY
