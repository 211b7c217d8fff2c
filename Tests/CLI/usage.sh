#!/usr/bin/env bash
# The command line itself: --help for every command, `strata help <cmd>`,
# --version, completion scripts, exit code 64 with one line on stderr for
# every usage error, and the bugs issue 15 lists (get --, put --value=,
# --limit=abc, a typo in a backup verb). Usage: Tests/CLI/usage.sh path/to/strata
set -uo pipefail
S=${1:-.build/debug/strata}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
failures=0
fail() { echo "cli usage: FAILED: $*" >&2; failures=$((failures + 1)); }

COMMANDS=(
  "" stats get put delete scan compact verify checkpoint dump-manifest
  backup "backup create" "backup list" "backup verify" "backup restore" "backup delete" "backup purge"
  storage "storage stats" "storage export" "storage import" "storage compact" "storage purge" queues
  snapshot "snapshot create" "snapshot list" "snapshot restore" "snapshot delete" health
  bench stress stress-child stress-messages-child stress-brokers-child demo
)
for c in "${COMMANDS[@]}"; do
  # shellcheck disable=SC2086
  out=$("$S" $c --help 2>&1); code=$?
  [ $code -eq 0 ] || fail "'strata $c --help' exited $code"
  echo "$out" | grep -q "^USAGE: strata" || fail "'strata $c --help' prints no usage: $out"
  if [ -n "$c" ]; then
    # shellcheck disable=SC2086
    "$S" help $c >/dev/null 2>&1 || fail "'strata help $c' failed"
  fi
done
"$S" --help > "$T/help"; grep -q "stress-child\|stress-messages-child\|stress-brokers-child" "$T/help" && fail "a hidden child command is listed in --help"
"$S" --version | grep -Eq '^[0-9]+\.[0-9]+\.[0-9]+$' || fail "--version"
for shell in bash zsh fish; do
  "$S" --generate-completion-script "$shell" > "$T/completion" || fail "$shell completion script"
  grep -q "storage" "$T/completion" || fail "$shell completion script does not complete the storage command"
done

# usage_error <description> <args...>: exit code 64, exactly one line on stderr, nothing created.
usage_error() {
  local what=$1; shift
  "$S" "$@" >"$T/out" 2>"$T/err"; local code=$?
  [ $code -eq 64 ] || fail "$what: exit code $code, expected 64 ($(cat "$T/err"))"
  [ "$(wc -l < "$T/err")" -eq 1 ] || fail "$what: stderr is not one line: $(cat "$T/err")"
  grep -q "^strata: " "$T/err" || fail "$what: stderr does not start with 'strata: ': $(cat "$T/err")"
}
"$S" put --db "$T/db" --key k --value v 2>/dev/null && fail "put into a missing database succeeded"
"$S" bench --db "$T/db" --benchmarks=fillseq --num=100 >/dev/null || fail "bench fillseq"
usage_error "unknown command" frobnicate
usage_error "get --" get --
usage_error "get -- --db" get -- --db "$T/db"
usage_error "missing --db" get --key k
usage_error "missing --key" get --db "$T/db"
usage_error "unknown flag" get --db "$T/db" --key k --colour
usage_error "--limit=abc" scan --db "$T/db" --limit=abc
usage_error "--limit -1" scan --db "$T/db" --limit -1
usage_error "put --key=" put --db "$T/db" --key= --value v
usage_error "typo in a backup verb" backup lsit --dir "$T/backups"
[ -e "$T/backups" ] && fail "a typo in a backup verb created the backup directory"
usage_error "backup purge --keep 0" backup purge --dir "$T/backups" --keep 0
usage_error "backup restore without --id" backup restore --dir "$T/backups" --to "$T/r"
usage_error "storage without a store" storage stats
usage_error "storage with --store and --db" storage stats --store "lsm:$T/x" --db "$T/x"
usage_error "unknown store scheme" storage stats --store "ftp://host/x"
usage_error "bad export format" storage export --db "$T/x" --to "$T/x.xml" --format xml
usage_error "purge without a queue" storage purge --db "$T/x"
usage_error "purge --queue and --all" storage purge --db "$T/x" --queue q --all
usage_error "stress mode" stress --mode=sometimes
usage_error "snapshot restore without --name" snapshot restore --db "$T/x"
usage_error "typo in a snapshot verb" snapshot craete --db "$T/x"
usage_error "health thresholds" health --db "$T/x" --warning-free-disk 1 --critical-free-disk 2
usage_error "bench bad number" bench --num=lots
usage_error "bench message flag on engine benchmarks" bench --benchmarks=fillseq --clients=4
usage_error "bench mixed benchmarks" bench --benchmarks=fillseq,msg_enqueue
usage_error "bench unknown benchmark" bench --benchmarks=fillseq,bogus
usage_error "demo --messages 3" demo --messages 3
usage_error "get --wait -1" get --db "$T/db" --key k --wait -1
usage_error "get --interval 0" get --db "$T/db" --key k --wait 1 --interval 0
usage_error "get --interval without --wait" get --db "$T/db" --key k --interval 0.5
usage_error "stats --count without --follow" stats --db "$T/db" --count 2
usage_error "stats --interval without --follow" stats --db "$T/db" --interval 1
usage_error "stats --follow --interval 0" stats --db "$T/db" --follow --interval 0
usage_error "stats --follow takes no value" stats --db "$T/db" --follow 2
usage_error "storage stats --follow --interval abc" storage stats --db "$T/x" --follow --interval abc
usage_error "storage stats --follow --count 0" storage stats --db "$T/x" --follow --count 0
usage_error "queues --interval without --follow" queues --db "$T/x" --interval 1
usage_error "following a memory: store" queues --store memory: --follow
usage_error "a missing --config file" storage stats --config "$T/none.yaml"
STRATA_COMMIT_MODE=sometimes "$S" storage stats --db "$T/x" >/dev/null 2>"$T/err"; code=$?
[ $code -eq 64 ] && [ "$(wc -l < "$T/err")" -eq 1 ] && grep -q "STRATA_COMMIT_MODE" "$T/err" \
  || fail "a bad STRATA_COMMIT_MODE: exit $code, $(cat "$T/err")"
usage_error "a bad table_prefix" storage stats --store "postgresql://u@127.0.0.1:1/db?table_prefix=no-dash"
[ -e "$T/r" ] && fail "a refused restore created its target"

# --flag value and --flag=value; --value= stores an empty value, not "true".
"$S" put --db "$T/db" --key k1 --value "with space" || fail "put --flag value"
[ "$("$S" get --db="$T/db" --key=k1)" = "with space" ] || fail "get --flag=value"
"$S" put --db="$T/db" --key=empty --value= || fail "put --value="
[ "$("$S" get --db "$T/db" --key empty)" = "" ] || fail "put --value= did not store an empty value"
"$S" scan --db "$T/db" --from empty --to emptz | grep -qx "empty => " || fail "scan shows the empty value"
[ "$("$S" scan --db "$T/db" --limit 3 | wc -l)" -eq 3 ] || fail "scan --limit 3"
# A failing operation: exit 1, one line.
"$S" get --db "$T/db" --key nope >/dev/null 2>"$T/err"; code=$?
[ $code -eq 1 ] && [ "$(wc -l < "$T/err")" -eq 1 ] || fail "missing key: exit $code, $(cat "$T/err")"
"$S" backup list --dir "$T/none" >/dev/null 2>"$T/err"; code=$?
[ $code -eq 1 ] && [ ! -e "$T/none" ] || fail "backup list of a missing directory: exit $code, created: $(ls "$T")"

# A PostgreSQL server that is not there: one line, exit 1 (the client's retries are not logged).
"$S" queues --store "postgresql://strata@127.0.0.1:1/postgres" >/dev/null 2>"$T/err"; code=$?
[ $code -eq 1 ] && [ "$(wc -l < "$T/err")" -eq 1 ] && grep -q "unavailable" "$T/err" \
  || fail "a PostgreSQL server that is down: exit $code, $(head -3 "$T/err")"

# A test child whose parent dies exits by itself (OrphanWatch) instead of
# running on: the subshell starts it, waits until it journals its first
# batch (so the subshell was its parent when it started), and exits.
( "$S" stress-events-child --backend lsm --store "$T/orphan" --commit memory --stream s \
    --journal "$T/orphan.journal" --count 10 >/dev/null 2>&1 & echo $! > "$T/orphan.pid"
  for _ in $(seq 1 600); do [ -s "$T/orphan.journal" ] && break; sleep 0.1; done )
orphan=$(cat "$T/orphan.pid")
for _ in $(seq 1 60); do kill -0 "$orphan" 2>/dev/null || break; sleep 1; done
if kill -0 "$orphan" 2>/dev/null; then fail "an orphaned stress-events-child still runs after 60 s"; kill -9 "$orphan"; fi

if [ $failures -ne 0 ]; then echo "cli usage: $failures failed" >&2; exit 1; fi
echo "cli usage: ${#COMMANDS[@]} commands' help, every usage error 64: passed"
