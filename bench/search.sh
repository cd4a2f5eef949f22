#!/bin/sh
# Search speed on a large database: builds Release, fills a temporary database with
# 1,000,000 messages (bench_million_messages: the store's triggers index each as it is
# inserted), then times whole processes side by side:
#   wabactl history --tenant bench --search WORDS --limit 50
#   sqlite3 running the same FTS5 query (the newest 50 matches of the tenant, as the plain
#   SQL anyone would write: the planner's choice of plan)
# for a word in one message, a prefix, two words, and a word in every message; then the
# export of every match of that last word (--all --format csv, time and peak memory) beside
# sqlite3 -csv of the same rows.
#   bench/search.sh [RUNS]
set -eu

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
runs=${1:-20}

need sqlite3 "sqlite3 is needed: apt-get install sqlite3"

build_release "${BUILD_DIR:-$root/build-bench}"
bench_workdir
bench_tenant
bench_million_messages

# wall_ms COMMAND...: the median wall time of $runs runs (milliseconds), after one warm-up.
wall_ms() {
  "$@" >/dev/null
  time_runs "$runs" "$@"
  sort -n "$work/times" | awk '{ v[NR] = $1 } END { printf "%.1f", v[int((NR + 1) / 2)] / 1000 }'
}

# fts_sql MATCH LIMIT: the query sqlite3 runs for a search.
fts_sql() {
  echo "SELECT m.id, m.timestamp, m.message_text FROM whatsapp_messages m
        WHERE m.tenant_id = 'bench' AND m.id IN
          (SELECT rowid FROM message_search WHERE message_search MATCH '$1')
        ORDER BY m.timestamp DESC, m.id DESC $2;"
}

printf '%-28s %10s %14s %14s\n' "search (newest 50)" matches "wabactl ms" "sqlite3 ms"
for pair in '4242|"4242"' 'numb*|"numb"*' 'message 4242|"message" "4242"' \
  'benchmark|"benchmark"'; do
  words=${pair%%|*}
  match=${pair#*|}
  got=$("$bin" history --tenant bench --search "$words" --json | wc -l)
  want=$(sqlite3 "$WABACTL_DB" "$(fts_sql "$match" "LIMIT 50")" | wc -l)
  [ "$got" -eq "$want" ] || { echo "'$words': wabactl printed $got, sqlite3 $want" >&2; exit 1; }
  matches=$(sqlite3 "$WABACTL_DB" \
    "SELECT count(*) FROM message_search WHERE message_search MATCH '$match'")
  printf '%-28s %10s %14s %14s\n' "$words" "$matches" \
    "$(wall_ms "$bin" history --tenant bench --search "$words")" \
    "$(wall_ms sqlite3 "$WABACTL_DB" "$(fts_sql "$match" "LIMIT 50")")"
done
printf '%-28s %10s %14s %14s\n' "(wabactl --version)" "" "$(wall_ms "$bin" --version)" \
  "$(wall_ms sqlite3 "$WABACTL_DB" "SELECT 1")"

echo
echo "export of every match of 'benchmark' (1,000,000 rows), one run each:"
/usr/bin/time -f "  wabactl history --all --format csv   %e s wall  %M KiB peak RSS" \
  "$bin" history --tenant bench --search benchmark --all --limit 1000 --format csv \
  >"$work/export.csv"
/usr/bin/time -f "  sqlite3 -csv (3 columns)            %e s wall  %M KiB peak RSS" \
  sqlite3 -csv "$WABACTL_DB" "$(fts_sql '"benchmark"' "")" >"$work/sqlite.csv"
echo "  rows: wabactl $(($(grep -c 'wamid.BENCH' "$work/export.csv"))), sqlite3 $(wc -l <"$work/sqlite.csv")"
