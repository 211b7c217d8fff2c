#!/usr/bin/env bash
# Runs Debian's RocksDB db_bench (package rocksdb-tools) and `strata bench`
# on the same workloads, one after the other in one run, and prints each
# benchmark's ops/sec for both and the ratio strata/rocksdb.
#
# Usage: [SYNC=0] Benchmarks/compare-rocksdb.sh [NUM] [extra flags for both tools]
#   NUM defaults to 1000000. Data goes under $BENCH_DIR (default ./bench-data).
#   The fillsync pairs (1 and 8 writers) run at 1M keys; SYNC=0 skips them.
# The machine is noisy: compare ratios from one run, and repeat a run before
# believing a difference.
set -euo pipefail
cd "$(dirname "$0")/.."

NUM=${1:-1000000}
shift || true
EXTRA=("$@")
BENCH_DIR=${BENCH_DIR:-./bench-data}
STRATA=${STRATA:-.build/release/strata}

if ! command -v db_bench >/dev/null 2>&1; then
    SUDO=$([ "$(id -u)" = "0" ] || echo sudo)
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq rocksdb-tools
fi
[ -x "$STRATA" ] || swift build -c release

mkdir -p "$BENCH_DIR"
OUT=$(mktemp -d)
COMMON=(--num="$NUM" --key_size=16 --value_size=100 --compression_type=lz4
        --bloom_bits=10 --cache_size=33554432 --write_buffer_size=67108864 "${EXTRA[@]}")

run_pair() {  # label, benchmarks, extra flags...
    local label=$1 benches=$2
    shift 2
    echo "== $label: $benches $*" >&2
    db_bench --db="$BENCH_DIR/rocksdb" --benchmarks="$benches" "${COMMON[@]}" "$@" \
        --histogram=0 --statistics=0 2>&1 | tee -a "$OUT/rocksdb.txt" | grep -E "micros/op" >&2 || true
    "$STRATA" bench --db="$BENCH_DIR/strata" --benchmarks="$benches" "${COMMON[@]}" "$@" \
        2>&1 | tee -a "$OUT/strata.txt" | grep -E "micros/op" >&2 || true
    # Tag lines with the label so that fillsync at 1 and 8 threads stay apart.
    grep -E "micros/op" "$OUT/rocksdb.txt" | sed "s/^/$label /" >> "$OUT/r.lines"; : > "$OUT/rocksdb.txt"
    grep -E "micros/op" "$OUT/strata.txt" | sed "s/^/$label /" >> "$OUT/s.lines"; : > "$OUT/strata.txt"
}

run_pair t1 fillseq,fillrandom,overwrite,readrandom,readseq --threads=1
# Synced writes are disk-bound; they run at 1M keys whatever NUM is, and
# SYNC=0 skips them (db_bench 7.8 does --num synced writes per thread here).
if [ "${SYNC:-1}" = 1 ]; then
    run_pair sync1 fillsync --threads=1 --num=1000000
    run_pair sync8 fillsync --threads=8 --num=1000000
fi

echo
printf "%-8s %-12s %14s %14s %8s\n" run benchmark "rocksdb ops/s" "strata ops/s" ratio
ops='{for(i=1;i<=NF;i++) if($i ~ /^ops\/sec;?$/) print $1"/"$2, $(i-1)}'
join <(awk "$ops" "$OUT/r.lines" | sort) <(awk "$ops" "$OUT/s.lines" | sort) |
    awk '{split($1, a, "/"); printf "%-8s %-12s %14d %14d %8.2f\n", a[1], a[2], $2, $3, $3 / $2}'
rm -rf "$OUT"
