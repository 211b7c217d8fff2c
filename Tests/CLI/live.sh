#!/usr/bin/env bash
# Reading a live store: while another strata process holds an LSM database
# (a bench writing) or a message store (the broker demo running), the
# read-only commands work on it and leave it alone, and a writing command
# is refused with one line. Usage: Tests/CLI/live.sh path/to/strata
set -uo pipefail
S=${1:-.build/debug/strata}
T=$(mktemp -d)
writer=""
cleanup() { [ -n "$writer" ] && kill "$writer" 2>/dev/null; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
failures=0
fail() { echo "cli live: FAILED: $*" >&2; failures=$((failures + 1)); }
# wait_for <file>: up to 60 s for the writer to create it.
wait_for() { for _ in $(seq 600); do [ -e "$1" ] && return 0; sleep 0.1; done; return 1; }

# 1. An engine database held by a writing bench.
"$S" bench --db="$T/live" --benchmarks=fillseq --num=20000 >/dev/null || fail "bench fillseq"
"$S" put --db "$T/live" --key hello --value world || fail "put"
# readwhilewriting: one thread overwrites keys for as long as the readers run.
"$S" bench --db="$T/live" --use_existing_db --benchmarks=readwhilewriting --num=20000 --reads=100000000 >/dev/null 2>&1 &
writer=$!
sleep 2
kill -0 "$writer" 2>/dev/null || fail "the writer finished before the reads"
[ "$("$S" get --db "$T/live" --key hello)" = world ] || fail "get on a live database"
[ "$("$S" scan --db "$T/live" --limit 5 | wc -l)" -eq 5 ] || fail "scan on a live database"
"$S" stats --db "$T/live" | grep -q "L0" || fail "stats on a live database"
"$S" verify --db "$T/live" -q | grep -q "^ok:" || fail "verify on a live database"
"$S" dump-manifest --db "$T/live" | grep -q "^column family 0" || fail "dump-manifest on a live database"
# stats --follow: one handle, caught up with the writer between rounds.
[ "$("$S" stats --db "$T/live" --follow --interval 0.3 --count 3 | grep -c '^--- ')" -eq 2 ] || fail "stats --follow on a live database"
"$S" put --db "$T/live" --key x --value y 2>"$T/err" && fail "put on a database another process holds succeeded"
[ "$(wc -l < "$T/err")" -eq 1 ] || fail "the refused put printed more than one line: $(cat "$T/err")"
grep -qi "busy\|lock" "$T/err" || fail "the refused put does not say the database is held: $(cat "$T/err")"
kill -0 "$writer" 2>/dev/null || fail "the writer died while read"
kill "$writer"; wait "$writer" 2>/dev/null; writer=""

# 2. Catching up: a read-only handle opened before another process writes a
#    key sees it (get --wait catches up with the writer between lookups).
"$S" get --db "$T/live" --key later --wait 60 --interval 0.05 >"$T/later" 2>"$T/wait.err" &
waiter=$!
for _ in $(seq 600); do grep -q "waiting for later" "$T/wait.err" && break; sleep 0.1; done
grep -q "waiting for later" "$T/wait.err" || fail "get --wait never started waiting: $(cat "$T/wait.err")"
"$S" put --db "$T/live" --key later --value arrived || fail "put while a read-only handle waits"
wait "$waiter" || fail "get --wait did not see the later write: $(cat "$T/wait.err")"
[ "$(cat "$T/later")" = arrived ] || fail "get --wait printed '$(cat "$T/later")', expected 'arrived'"
code=0; "$S" get --db "$T/live" --key never --wait 0.3 --interval 0.05 >/dev/null 2>&1 || code=$?
[ $code -eq 1 ] || fail "get --wait of a key nobody writes: exit $code, expected 1"

# 3. A message store held by the broker demo.
"$S" demo --db "$T/broker" --messages 200000 >/dev/null 2>&1 &
writer=$!
wait_for "$T/broker/LOCK" || fail "the demo never opened its store"
ok=0
for _ in $(seq 100); do
  # The families may not exist in the first moments; retry until the store is set up.
  if "$S" queues --db "$T/broker" > "$T/queues" 2>"$T/err" && grep -q "^orders:" "$T/queues"; then ok=1; break; fi
  kill -0 "$writer" 2>/dev/null || break
  sleep 0.1
done
[ $ok -eq 1 ] || fail "queues never read the live store: $(cat "$T/err")"
"$S" storage stats --db "$T/broker" | grep -q "^backend: lsm" || fail "storage stats on a live store"
"$S" health --db "$T/broker" > "$T/health" || fail "health of a live store is not healthy: $(cat "$T/health")"
"$S" snapshot list --db "$T/broker" >/dev/null || fail "snapshot list on a live store"
"$S" storage export --db "$T/broker" --to "$T/live.csv" -q | grep -q "^exported" || fail "storage export on a live store"
head -1 "$T/live.csv" | grep -q "^kind,id" || fail "the live export has no header"
if kill -0 "$writer" 2>/dev/null; then
  "$S" storage import --db "$T/broker" --from "$T/live.csv" -q 2>/dev/null && fail "import into a store another process holds succeeded"
else
  echo "cli live: note: the demo finished before the import check" >&2
fi
kill "$writer" 2>/dev/null; wait "$writer" 2>/dev/null; writer=""

# 4. Following a message store a broker writes: `storage stats --follow` and
#    `queues --follow` keep one read-only store open and print counts that
#    move (an LSM store catches up with the writer, a JSON store is read
#    again, SQLite and PostgreSQL are queried again); SIGINT ends them
#    between rounds with exit 0. No timing is asserted: each check waits,
#    up to a generous deadline, for two different counts.
# follow_check <label> <url> <messages> <pattern> <strata args...>
# A short demo sets the store up first, so the follower opens at once and
# prints its first round before the writer starts; a writer that ends
# before the follower saw a count move (a fast JSON demo takes about a
# second) is started again, so nothing depends on how fast either runs.
follow_check() {
  local label=$1 url=$2 messages=$3 pattern=$4; shift 4
  local out="$T/follow.out" err="$T/follow.err" follower="" distinct=0; writer=""
  "$S" demo --store "$url" --messages 100 >"$T/demo.out" 2>&1 || { fail "$label: setting the store up failed: $(tail -2 "$T/demo.out")"; return; }
  "$S" "$@" --store "$url" --follow --interval 0.2 >"$out" 2>"$err" &
  follower=$!
  for _ in $(seq 600); do
    grep -qE "$pattern" "$out" 2>/dev/null && break
    kill -0 "$follower" 2>/dev/null || break
    sleep 0.1
  done
  for _ in $(seq 1800); do
    kill -0 "$follower" 2>/dev/null || break
    if [ -z "$writer" ] || ! kill -0 "$writer" 2>/dev/null; then
      [ -n "$writer" ] && wait "$writer" 2>/dev/null
      STRATA_JSON_SAVE_INTERVAL_MS=50 "$S" demo --store "$url" --messages "$messages" >"$T/demo.out" 2>&1 &
      writer=$!
    fi
    distinct=$(grep -E "$pattern" "$out" 2>/dev/null | sort -u | wc -l)
    [ "$distinct" -ge 2 ] && break
    sleep 0.1
  done
  if [ "$distinct" -lt 2 ]; then
    fail "$label: no two different counts ($(grep -E "$pattern" "$out" | sort -u | head -3)): $(tail -2 "$err") $(tail -2 "$T/demo.out")"
  fi
  if kill -0 "$follower" 2>/dev/null; then
    kill -INT "$follower"
    local code=0; wait "$follower" || code=$?
    [ $code -eq 0 ] || fail "$label: SIGINT ended the follower with exit $code, expected 0: $(tail -2 "$err")"
    grep -q "^--- " "$out" || fail "$label: no round separator printed"
  else
    fail "$label: the follower ended by itself: $(tail -2 "$err")"
  fi
  kill "$writer" 2>/dev/null; wait "$writer" 2>/dev/null; writer=""
}
follow_check "storage stats --follow on lsm" "lsm:$T/f-lsm" 200000 '^total:' storage stats
follow_check "queues --follow on lsm" "lsm:$T/f-lsm2" 200000 '^orders:' queues
follow_check "storage stats --follow on sqlite" "sqlite:$T/f.sqlite" 50000 '^total:' storage stats
follow_check "queues --follow on json" "json:$T/f-json" 3000 '^orders:' queues
if [ -n "${STRATA_POSTGRES_URL:-}" ]; then
  pg="$STRATA_POSTGRES_URL"; case "$pg" in *\?*) pg="$pg&table_prefix=cli_follow_" ;; *) pg="$pg?table_prefix=cli_follow_" ;; esac
  follow_check "storage stats --follow on postgresql" "$pg" 20000 '^total:' storage stats
else
  echo "cli live: SKIPPING --follow on PostgreSQL: STRATA_POSTGRES_URL is not set" >&2
fi

if [ $failures -ne 0 ]; then echo "cli live: $failures failed" >&2; exit 1; fi
echo "cli live: read-only commands on live stores: passed"
