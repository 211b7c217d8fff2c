#!/usr/bin/env bash
# Runs `strata bench` (msg_enqueue, msg_roundtrip on the PostgreSQL backend
# at 1, 8 and 64 clients) and pgbench on the same server in one run, and
# prints both rates with the bar of issue 14 (each strata run right after
# the pgbench run it is compared with, so both see the same load):
#   enqueue@64    >= 0.8 x pgbench one-row INSERT transaction @64
#   roundtrip@64  >= 0.8 x pgbench INSERT + DELETE ... FOR UPDATE SKIP LOCKED @64
#   both @64      >= 3 x @1
#
# Usage: Benchmarks/compare-postgres.sh [NUM] [SECONDS]
#   NUM: messages per strata run (default 20000); SECONDS: per pgbench run
#   (default 10). The server is STRATA_POSTGRES_URL, or the one
#   Tests/Support/postgres.sh starts (STRATA_PG_PORT, STRATA_PG_DIR).
# The machine is noisy: compare ratios from one run, and repeat a run before
# believing a difference.
set -euo pipefail
cd "$(dirname "$0")/.."

NUM=${1:-20000}
SECS=${2:-10}
STRATA=${STRATA:-.build/release/strata}
CLIENTS=(1 8 64)
URL=${STRATA_POSTGRES_URL:-$(Tests/Support/postgres.sh start)}
[ -x "$STRATA" ] || swift build -c release
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

# pgbench's tables and scripts: a queue table like the store's (sequence,
# id, payload), 100-byte payloads as in `strata bench`.
psql -q "$URL" -c "DROP TABLE IF EXISTS pgb_queue" -c \
    "CREATE TABLE pgb_queue(seq BIGSERIAL PRIMARY KEY, id TEXT NOT NULL, payload BYTEA NOT NULL)" >/dev/null
cat > "$OUT/insert.sql" <<'SQL'
INSERT INTO pgb_queue(id, payload) VALUES (md5(random()::text), decode(repeat('5a', 100), 'hex'));
SQL
cat > "$OUT/roundtrip.sql" <<'SQL'
INSERT INTO pgb_queue(id, payload) VALUES (md5(random()::text), decode(repeat('5a', 100), 'hex'));
DELETE FROM pgb_queue WHERE seq = (SELECT seq FROM pgb_queue ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING payload;
SQL

pgb() {  # script, clients -> transactions per second
    local threads=$(( $2 < 4 ? $2 : 4 ))
    pgbench -n -M prepared -c "$2" -j "$threads" -T "$SECS" -f "$OUT/$1" "$URL" 2>/dev/null \
        | sed -n 's/^tps = \([0-9.]*\) .*/\1/p' | head -1
}

strata() {  # benchmark, clients -> msg/s
    "$STRATA" bench -q --benchmarks="$1" --backend=postgres --clients="$2" --num="$NUM" --pg_url="$URL" > "$OUT/run.txt"
    cat "$OUT/run.txt" >&2
    sed -n "s/^$1 postgres\/- [0-9]*B ${2}c *: *\([0-9]*\) msg\/s.*/\1/p" "$OUT/run.txt"
}

# Each strata figure runs right after the pgbench figure it is compared
# with, so the two see the same load on a shared machine.
declare -A R
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for c in "${CLIENTS[@]}"; do
    echo "== $c clients" >&2
    R[pg_insert_$c]=$(pgb insert.sql "$c")
    psql -q "$URL" -c "TRUNCATE pgb_queue" >/dev/null
    R[st_enqueue_$c]=$(strata msg_enqueue "$c")
    R[pg_roundtrip_$c]=$(pgb roundtrip.sql "$c")
    psql -q "$URL" -c "TRUNCATE pgb_queue" >/dev/null
    R[st_roundtrip_$c]=$(strata msg_roundtrip "$c")
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for k in "${!R[@]}"; do
    [ -n "${R[$k]}" ] || { echo "compare-postgres.sh: no figure for $k (see the output above)" >&2; exit 1; }
done
psql -q "$URL" -c "DROP TABLE IF EXISTS pgb_queue" >/dev/null

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
meets() { awk -v r="$1" -v bar="$2" 'BEGIN { print (r + 0 >= bar) ? "met" : "NOT met" }'; }

echo
echo "| clients | strata enqueue msg/s | pgbench INSERT tps | ratio | strata round trip msg/s | pgbench INSERT+SKIP LOCKED DELETE tps | ratio |"
echo "|---:|---:|---:|---:|---:|---:|---:|"
for c in "${CLIENTS[@]}"; do
    printf "| %s | %s | %.0f | %s | %s | %.0f | %s |\n" "$c" "${R[st_enqueue_$c]}" "${R[pg_insert_$c]}" \
        "$(ratio "${R[st_enqueue_$c]}" "${R[pg_insert_$c]}")" "${R[st_roundtrip_$c]}" "${R[pg_roundtrip_$c]}" \
        "$(ratio "${R[st_roundtrip_$c]}" "${R[pg_roundtrip_$c]}")"
done
e=$(ratio "${R[st_enqueue_64]}" "${R[pg_insert_64]}")
r=$(ratio "${R[st_roundtrip_64]}" "${R[pg_roundtrip_64]}")
ge=$(ratio "${R[st_enqueue_64]}" "${R[st_enqueue_1]}")
gr=$(ratio "${R[st_roundtrip_64]}" "${R[st_roundtrip_1]}")
echo
echo "bar: enqueue@64 / pgbench INSERT@64 = $e (>= 0.8: $(meets "$e" 0.8)); round trip@64 / pgbench@64 = $r (>= 0.8: $(meets "$r" 0.8))"
echo "bar: enqueue 64c / 1c = $ge (>= 3: $(meets "$ge" 3)); round trip 64c / 1c = $gr (>= 3: $(meets "$gr" 3))"
