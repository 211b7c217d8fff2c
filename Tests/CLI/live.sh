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
[ "$("$S" stats --db "$T/live" --follow 0.3 --count 3 | grep -c '^--- ')" -eq 2 ] || fail "stats --follow on a live database"
"$S" put --db "$T/live" --key x --value y 2>"$T/err" && fail "put on a database another process holds succeeded"
[ "$(wc -l < "$T/err")" -eq 1 ] || fail "the refused put printed more than one line: $(cat "$T/err")"
grep -qi "busy\|lock" "$T/err" || fail "the refused put does not say the database is held: $(cat "$T/err")"
kill -0 "$writer" 2>/dev/null || fail "the writer died while read"
kill "$writer"; wait "$writer" 2>/dev/null; writer=""

# 2. Catching up: a read-only handle opened before another process writes a
#    key sees it (get --wait catches up with the writer between lookups).
"$S" get --db "$T/live" --key later --wait 60 --interval 50 >"$T/later" 2>"$T/wait.err" &
waiter=$!
for _ in $(seq 600); do grep -q "waiting for later" "$T/wait.err" && break; sleep 0.1; done
grep -q "waiting for later" "$T/wait.err" || fail "get --wait never started waiting: $(cat "$T/wait.err")"
"$S" put --db "$T/live" --key later --value arrived || fail "put while a read-only handle waits"
wait "$waiter" || fail "get --wait did not see the later write: $(cat "$T/wait.err")"
[ "$(cat "$T/later")" = arrived ] || fail "get --wait printed '$(cat "$T/later")', expected 'arrived'"
code=0; "$S" get --db "$T/live" --key never --wait 0.3 --interval 50 >/dev/null 2>&1 || code=$?
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

if [ $failures -ne 0 ]; then echo "cli live: $failures failed" >&2; exit 1; fi
echo "cli live: read-only commands on live stores: passed"
