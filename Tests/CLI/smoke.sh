#!/usr/bin/env bash
# End-to-end check of the `strata` command: every command runs, exit codes
# and outputs are what a user expects. Usage: Tests/CLI/smoke.sh path/to/strata
set -euo pipefail
S=${1:-.build/debug/strata}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "cli smoke: FAILED: $*" >&2; exit 1; }

"$S" bench --db="$T/db" --benchmarks=fillseq --num=2000 >/dev/null
"$S" put --db="$T/db" --key=hello --value=world
[ "$("$S" get --db="$T/db" --key=hello)" = world ] || fail "get after put"
"$S" delete --db="$T/db" --key=hello
if "$S" get --db="$T/db" --key=hello 2>/dev/null; then fail "get of a deleted key succeeded"; fi
"$S" put --db="$T/db" --key=a --value=1
"$S" put --db="$T/db" --key=b --value=2
[ "$("$S" scan --db="$T/db" --from=a --to=c)" = "$(printf 'a => 1\nb => 2')" ] || fail "scan"
"$S" compact --db="$T/db" | grep -q "files per level" || fail "compact"
"$S" verify --db="$T/db" | grep -q "^ok:" || fail "verify"
"$S" stats --db="$T/db" | grep -q "L0" || fail "stats"
"$S" checkpoint --db="$T/db" --to="$T/ckpt" >/dev/null
[ "$("$S" get --db="$T/ckpt" --key=b)" = 2 ] || fail "checkpoint content"
"$S" backup create --db="$T/db" --dir="$T/bk" >/dev/null 2>&1
"$S" backup create --db="$T/db" --dir="$T/bk2" -q >/dev/null 2>"$T/err"; [ ! -s "$T/err" ] || fail "backup create -q printed progress: $(cat "$T/err")"
"$S" put --db="$T/db" --key=c --value=3
"$S" backup create --db="$T/db" --dir="$T/bk" >/dev/null 2>&1
[ "$("$S" backup list --dir="$T/bk" | wc -l)" -eq 2 ] || fail "backup list"
"$S" backup verify --dir="$T/bk" >/dev/null
"$S" backup restore --dir="$T/bk" --id=1 --to="$T/restored" >/dev/null
if "$S" get --db="$T/restored" --key=c 2>/dev/null; then fail "backup 1 holds a later write"; fi
"$S" backup purge --dir="$T/bk" --keep=1 >/dev/null
[ "$("$S" backup list --dir="$T/bk" | wc -l)" -eq 1 ] || fail "backup purge"
"$S" backup delete --dir="$T/bk2" --id=1 | grep -q "deleted backup 1" || fail "backup delete"
[ "$("$S" backup list --dir="$T/bk2" | wc -l)" -eq 0 ] || fail "backup delete left it listed"
"$S" dump-manifest --db="$T/db" | grep -q '^column family 0 "default": comparator strata.bytewise' || fail "dump-manifest"
if "$S" dump-manifest --db="$T/nope" 2>/dev/null; then fail "dump-manifest of a missing database succeeded"; fi
# The broker demo runs end to end and dead-letters its poison message.
"$S" demo --db="$T/demo" --messages=400 > "$T/demo.out" || fail "demo"
grep -q "dead-lettered after 3 deliveries" "$T/demo.out" || fail "demo dead letter: $(cat "$T/demo.out")"
grep -q "0 left" "$T/demo.out" || fail "demo left messages behind"
if "$S" demo --messages=3 2>/dev/null; then fail "demo accepted --messages=3"; fi
# Message stores: export from the engine store, import into SQLite, export again: identical.
"$S" queues --db="$T/demo" | grep -q "^orders: .*dead-lettered 1" || fail "queues"
"$S" storage export --db="$T/demo" --to="$T/export.jsonl" | grep -q "exported" || fail "export"
"$S" storage import --store "sqlite:$T/copy.sqlite" --from="$T/export.jsonl" | grep -q "imported 3 entities" || fail "import"  # orders, events and the consumer step's emails
"$S" storage export --store "sqlite:$T/copy.sqlite" --to="$T/export2.jsonl" >/dev/null
cmp -s "$T/export.jsonl" "$T/export2.jsonl" || fail "export of the imported copy differs"
# CSV: LSM -> CSV -> every backend -> CSV, byte-identical; --replace twice changes nothing.
"$S" storage export --db "$T/demo" --to "$T/a.csv" -q >/dev/null || fail "csv export"
head -1 "$T/a.csv" | grep -qx "kind,id,queue,timestamp,scheduledAt,expiresAt,deliveryCount,headers,payload,definition" || fail "csv header"
STORES=("lsm:$T/csv-lsm" "sqlite:$T/csv.sqlite" "json:$T/csv-json")
if [ -n "${STRATA_POSTGRES_URL:-}" ]; then
  sep='?'; case "$STRATA_POSTGRES_URL" in *\?*) sep='&';; esac
  STORES+=("${STRATA_POSTGRES_URL}${sep}table_prefix=smoke$$_")
  echo "cli smoke: the PostgreSQL backend is checked at $STRATA_POSTGRES_URL" >&2
else
  echo "cli smoke: SKIPPING the PostgreSQL backend: STRATA_POSTGRES_URL is not set (make test sets it)" >&2
fi
for st in "${STORES[@]}"; do
  "$S" storage import --store "$st" --from "$T/a.csv" --replace -q >/dev/null || fail "csv import into $st"
  "$S" storage import --store "$st" --from "$T/a.csv" --replace -q >/dev/null || fail "second csv import into $st"
  rm -f "$T/b.csv"
  "$S" storage export --store "$st" --to "$T/b.csv" -q >/dev/null || fail "csv export of $st"
  cmp -s "$T/a.csv" "$T/b.csv" || fail "csv round trip through $st differs: $(diff "$T/a.csv" "$T/b.csv" | head -5)"
  "$S" storage stats --store "$st" --json | grep -q '"deadLettered" : 1' || fail "storage stats --json of $st"
done
# Named snapshots and health on every backend (health: exit 0 healthy, 1 warning, 2 critical).
for st in "${STORES[@]}"; do
  "$S" snapshot create --store "$st" --name before -q | grep -q "created snapshot before" || fail "snapshot create on $st"
  "$S" storage purge --store "$st" --all --yes >/dev/null || fail "purge --all on $st"
  "$S" snapshot list --store "$st" | grep -q "^before " || fail "snapshot list on $st"
  "$S" storage stats --store "$st" | grep -q "^last snapshot: before" || fail "storage stats names the last snapshot on $st"
  "$S" snapshot restore --store "$st" --name before -q | grep -q "restored" || fail "snapshot restore on $st"
  rm -f "$T/c.csv"; "$S" storage export --store "$st" --to "$T/c.csv" -q >/dev/null
  cmp -s "$T/a.csv" "$T/c.csv" || fail "the restored snapshot of $st differs from what was snapshotted"
  "$S" snapshot delete --store "$st" --name before | grep -q "deleted" || fail "snapshot delete on $st"
  if "$S" snapshot delete --store "$st" --name before 2>/dev/null; then fail "deleting a missing snapshot on $st succeeded"; fi
  "$S" health --store "$st" >/dev/null || fail "health of $st is not healthy"
  case "$st" in postgres*) continue;; esac   # the server's disk is not the client's to check
  code=0; "$S" health --store "$st" --warning-free-disk 9223372036854775807 >/dev/null || code=$?
  [ $code -eq 1 ] || fail "health warning exit code on $st: $code"
  code=0; "$S" health --store "$st" --warning-free-disk 9223372036854775807 --critical-free-disk 9223372036854775807 >/dev/null || code=$?
  [ $code -eq 2 ] || fail "health critical exit code on $st: $code"
done
code=0; "$S" health --store "lsm:$T/nope" >/dev/null 2>&1 || code=$?
[ $code -eq 2 ] || fail "health of a missing store is not critical: $code"
if [ -e "$T/nope" ]; then fail "health created a missing store"; fi
"$S" storage stats --db "$T/demo" | grep -q "^backend: lsm" || fail "storage stats"
"$S" storage stats --db "$T/demo" | grep -q "^entities: 2 queues, 1 topics, 2 subscriptions" || fail "storage stats entities: $("$S" storage stats --db "$T/demo")"
"$S" storage compact --store "sqlite:$T/copy.sqlite" -q | grep -q "compacted" || fail "storage compact (sqlite)"
"$S" storage compact --db "$T/demo" -q | grep -q "compacted" || fail "storage compact (lsm)"
if echo no | "$S" storage purge --store "sqlite:$T/copy.sqlite" --queue=orders/\$deadletterqueue 2>/dev/null; then fail "purge without confirmation"; fi
"$S" storage purge --store "sqlite:$T/copy.sqlite" --queue=orders/\$deadletterqueue --yes | grep -q "purged 1 " || fail "purge"
echo yes | "$S" storage purge --store "sqlite:$T/csv.sqlite" --all 2>/dev/null | grep -q "purged" || fail "purge --all"
[ "$("$S" storage stats --store "sqlite:$T/csv.sqlite" --json | grep -c '"active" : 0')" -ge 1 ] || fail "purge --all left messages"
STRATA_STORE="sqlite:$T/copy.sqlite" "$S" queues | grep -q "^orders:" || fail "STRATA_STORE"
# --config FILE: the broker's YAML; STRATA_STORE overrides it, --store both.
printf 'broker:\n  port: 5672\nstorage:\n  type: sqlite\n  sqlite:\n    path: %s\n' "$T/copy.sqlite" > "$T/strata.yaml"
"$S" queues --config "$T/strata.yaml" | grep -q "^orders:" || fail "--config FILE"
STRATA_STORE="lsm:$T/demo" "$S" storage stats --config "$T/strata.yaml" | grep -q "^backend: lsm" || fail "STRATA_STORE over --config"
STRATA_STORE="lsm:$T/nope" "$S" storage stats --config "$T/strata.yaml" --store "sqlite:$T/copy.sqlite" | grep -q "^backend: sqlite" || fail "--store over STRATA_STORE"
"$S" storage stats --store "memory:" | grep -q "^backend: memory" || fail "storage stats of memory:"
"$S" storage stats --store "json:$T/csv-json" --json | grep -q '"backend" : "json"' || fail "storage stats --json of json:"
if "$S" storage export --db="$T/nope" --to="$T/x.jsonl" 2>/dev/null; then fail "export of a missing store succeeded"; fi
[ -e "$T/nope" ] && fail "export of a missing store created it"
"$S" bench --benchmarks=msg_roundtrip --num=200 --clients=4 --backend=lsm,sqlite,memory --db="$T/msgbench" | grep -q "msg/s" || fail "message bench"
# bench -q: the result lines on stdout, nothing on stderr.
"$S" bench --db="$T/qbench" --benchmarks=fillseq,readrandom --num=3000 -q >"$T/bench.out" 2>"$T/err" || fail "bench -q"
[ "$(grep -c "micros/op" "$T/bench.out")" -eq 2 ] && [ ! -s "$T/err" ] || fail "bench -q: $(cat "$T/bench.out" "$T/err")"
# evt_* benchmarks show progress too: on a terminal (script(1) gives the run
# one) the bar is drawn at the first update, whatever the speed; -q: nothing.
"$S" bench --benchmarks=evt_append,evt_load --backend=memory --num=500 --db="$T/evtbench" -q >"$T/evt.out" 2>"$T/err" || fail "evt bench -q"
[ "$(grep -c "events/s" "$T/evt.out")" -ge 2 ] && [ ! -s "$T/err" ] || fail "evt bench -q: $(cat "$T/evt.out" "$T/err")"
if command -v script >/dev/null; then
  script -qc "'$S' bench --benchmarks=evt_append,evt_load --backend=memory --clients=1 --num=500 --db='$T/evtbench'" /dev/null >"$T/evt.tty" 2>&1
  grep -aq "evt_append \[" "$T/evt.tty" && grep -aq "evt_load \[" "$T/evt.tty" || fail "evt bench shows no progress bar: $(tr '\r' '\n' < "$T/evt.tty" | head -5)"
else
  echo "cli smoke: SKIPPING the evt_* progress bar check: script(1) is not installed" >&2
fi
# Bad input: one clear line on stderr, non-zero exit.
if "$S" get --db="$T/nope" --key=x 2>"$T/err"; then fail "opening a missing database succeeded"; fi
[ "$(wc -l < "$T/err")" -eq 1 ] || fail "error output is not one line: $(cat "$T/err")"
if "$S" frobnicate 2>/dev/null; then fail "unknown command accepted"; fi
echo "cli smoke: passed"
