# shellcheck shell=sh
# Shared by the bench scripts (POSIX sh; sourced, not run): the Release build, a temporary
# folder cleaned up on exit, a bench tenant, and small helpers.
#   . "$(dirname "$0")/lib.sh"
# Sets $root (the source tree).

root=$(cd "$(dirname "$0")/.." && pwd)

# need COMMAND MESSAGE: stops with MESSAGE when COMMAND is not installed.
need() {
  command -v "$1" >/dev/null || { echo "$2" >&2; exit 1; }
}

# build_release BUILD_DIR [TARGET...]: builds the wabactl binary (and TARGETs) in Release into
# BUILD_DIR (ccache when installed) and sets $bin to it; the build log is shown only when the
# build fails.
build_release() {
  build=$1
  shift
  launcher=""
  command -v ccache >/dev/null && launcher="-DCMAKE_CXX_COMPILER_LAUNCHER=ccache"
  # Not a developer build: GCC 12 reports false -Wrestrict positives at -O2 that -Werror
  # would stop.
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DWABACTL_BUILD_TESTS=OFF \
    -DWABACTL_DEVELOPER=OFF $launcher >/dev/null
  cmake --build "$build" -j2 --target wabactl "$@" >"$build/bench-build.log" 2>&1 ||
    { cat "$build/bench-build.log" >&2; exit 1; }
  bin=$build/wabactl
}

# bench_workdir: creates the temporary folder $work, removed on exit together with the
# background process whose id is in $pid (when set).
bench_workdir() {
  work=$(mktemp -d)
  pid=""
  trap bench_cleanup EXIT INT TERM
}

bench_cleanup() {
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}

# bench_tenant: a database and master key in $work ($WABACTL_DB, $WABACTL_KEY_FILE
# exported), the tenant `bench`, and a made-up access token in $work/token for
# `config set --access-token-file`.
bench_tenant() {
  export WABACTL_DB="$work/wabactl.db" WABACTL_KEY_FILE="$work/master.key"
  printf 'EAAGbenchtoken0123456789' >"$work/token"
  "$bin" key init >/dev/null
  "$bin" tenant add bench >/dev/null
}

# bench_million_messages: fills $WABACTL_DB (after bench_tenant) with 1,000,000 messages across
# 10,000 conversations of the tenant `bench` (each keyed by its contact, as the store keys
# them), one every 30 s, half incoming (the newest 5,000
# incoming unread), each text "This is message number I of the benchmark conversation".
bench_million_messages() {
  start=$(date +%s)
  sqlite3 "$WABACTL_DB" >/dev/null <<'SQL'
PRAGMA journal_mode = WAL;
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 9999)
INSERT INTO contacts(tenant_id, phone_number, name, created_at, updated_at)
SELECT 'bench', printf('1555%07d', i), printf('Customer %d', i), '2026-01-01T00:00:00Z',
       '2026-01-01T00:00:00Z' FROM n;
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 999999),
     m AS (SELECT i, printf('1555%07d', i % 10000) AS phone,
                  strftime('%Y-%m-%dT%H:%M:%SZ', 1700000000 + i * 30, 'unixepoch') AS ts,
                  i % 2 = 0 AS incoming FROM n)
INSERT INTO whatsapp_messages(tenant_id, phone_number, conversation, message_id, direction,
                              status, status_rank, type, message_text, timestamp, created_at,
                              read_at, payload)
SELECT 'bench', phone,
       (SELECT CAST(id AS TEXT) FROM contacts WHERE tenant_id = 'bench' AND phone_number = phone),
       printf('wamid.BENCH%010d', i),
       CASE WHEN incoming THEN 'incoming' ELSE 'outgoing' END,
       CASE WHEN incoming THEN 'received' ELSE 'delivered' END,
       CASE WHEN incoming THEN 5 ELSE 2 END, 'text',
       printf('This is message number %d of the benchmark conversation', i), ts, ts,
       CASE WHEN incoming AND i < 990000 THEN ts END,
       printf('{"id":"wamid.BENCH%010d","type":"text","text":{"body":"message %d"}}', i, i)
FROM m;
COMMIT;
PRAGMA wal_checkpoint(TRUNCATE);
ANALYZE;
SQL
  echo "built a database of $(sqlite3 "$WABACTL_DB" 'SELECT count(*) FROM whatsapp_messages') messages" \
    "($(du -h "$WABACTL_DB" | cut -f1)) in $(($(date +%s) - start)) s" >&2
}

# time_runs RUNS COMMAND...: runs COMMAND (output discarded) RUNS times and writes the wall
# time of each run in microseconds, one a line, to $work/times.
time_runs() {
  n=$1
  shift
  k=0
  : >"$work/times"
  while [ $k -lt "$n" ]; do
    t0=$(date +%s%N)
    "$@" >/dev/null
    t1=$(date +%s%N)
    echo $(((t1 - t0) / 1000)) >>"$work/times"
    k=$((k + 1))
  done
}

# free_port: a loopback TCP port that is free right now.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_healthy PORT LOG: waits up to 10 s for the daemon's /healthz on PORT; stops with LOG
# when it does not answer.
wait_healthy() {
  tries=0
  until curl -fs "http://127.0.0.1:$1/healthz" >/dev/null 2>&1; do
    tries=$((tries + 1))
    [ $tries -gt 100 ] && { echo "the daemon did not start:" >&2; cat "$2" >&2; exit 1; }
    sleep 0.1
  done
}
