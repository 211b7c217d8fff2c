#!/bin/sh
# A throwaway PostgreSQL server on loopback for the tests: trust
# authentication, user `strata`, port $STRATA_PG_PORT (default 54329), data
# under $STRATA_PG_DIR (default /tmp/strata-pg). Runs the servers as the
# `postgres` user when started as root (PostgreSQL refuses to run as root).
# max_connections is 500 (default 100): the whole suite runs its PostgreSQL
# suites at once, each store with its own pool, and at 100 the server refused
# connections ("too many clients") and opens timed out. A standby needs at
# least the primary's value.
#
#   start          starts the primary; prints its URL
#   start-standby  (re)builds a synchronous streaming-replication standby of
#                  the running primary (pg_basebackup -R) on port
#                  $STRATA_PG_STANDBY_PORT (default: the primary's + 1),
#                  makes the primary wait for it at every commit
#                  (synchronous_standby_names, synchronous_commit=on), waits
#                  until pg_stat_replication shows it in sync; prints its URL
#   sync-state     prints the standby's row of the primary's pg_stat_replication
#   stop-primary   stops the primary at once (-m immediate: a crash)
#   promote        promotes the standby to primary (waits until it accepts writes)
#   stop           stops both servers
#
# A failover test runs start, start-standby, then stop-primary and promote;
# the promoted standby has no synchronous standby of its own, so it takes
# writes alone. `start` afterwards brings the old primary back as a primary
# with no synchronous standby (its data may have diverged: start-standby
# rebuilds the standby from it).
set -e
DIR=${STRATA_PG_DIR:-/tmp/strata-pg}
PORT=${STRATA_PG_PORT:-54329}
STANDBY_PORT=${STRATA_PG_STANDBY_PORT:-$((PORT + 1))}
STANDBY_NAME=strata_standby
BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$BIN" ] || { echo "postgres.sh: no PostgreSQL server installed (apt-get install postgresql)" >&2; exit 1; }
as_owner() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
# Runs SQL on the primary, printing unaligned tuples.
primary_sql() {
    "$BIN/psql" -X -q -At -h 127.0.0.1 -p "$PORT" -U strata -d postgres -c "$1"
}
running() { as_owner "$BIN/pg_ctl" -D "$1" status >/dev/null 2>&1; }
case "$1" in
start)
    if [ ! -f "$DIR/data/PG_VERSION" ]; then
        rm -rf "$DIR"
        mkdir -p "$DIR"
        [ "$(id -u)" = 0 ] && chown postgres "$DIR"
        as_owner "$BIN/initdb" -D "$DIR/data" -A trust -U strata >/dev/null
    fi
    if ! running "$DIR/data"; then
        as_owner "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w \
            -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=500" start >/dev/null
    fi
    # A standby of an earlier run that is gone must not hold up commits.
    if ! running "$DIR/standby/data" && [ -n "$(primary_sql "SHOW synchronous_standby_names")" ]; then
        primary_sql "ALTER SYSTEM RESET synchronous_standby_names" >/dev/null
        primary_sql "SELECT pg_reload_conf()" >/dev/null
    fi
    echo "postgresql://strata@127.0.0.1:$PORT/postgres"
    ;;
start-standby)
    running "$DIR/data" || { echo "postgres.sh: the primary is not running (postgres.sh start)" >&2; exit 1; }
    S="$DIR/standby"
    if [ -f "$S/data/PG_VERSION" ]; then as_owner "$BIN/pg_ctl" -D "$S/data" -m immediate stop >/dev/null 2>&1 || true; fi
    rm -rf "$S"
    mkdir -p "$S"
    [ "$(id -u)" = 0 ] && chown postgres "$S"
    # Taken before the primary names its synchronous standby, so the copy
    # (and the standby once promoted) commits without waiting for one.
    as_owner "$BIN/pg_basebackup" -h 127.0.0.1 -p "$PORT" -U strata -D "$S/data" -R -X stream -c fast >/dev/null
    # The name the primary's synchronous_standby_names refers to.
    echo "primary_conninfo = 'host=127.0.0.1 port=$PORT user=strata application_name=$STANDBY_NAME'" >> "$S/data/postgresql.auto.conf"
    as_owner "$BIN/pg_ctl" -D "$S/data" -l "$S/server.log" -w \
        -o "-p $STANDBY_PORT -k $S -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=500 -c hot_standby=on" start >/dev/null
    primary_sql "ALTER SYSTEM SET synchronous_standby_names = '$STANDBY_NAME'" >/dev/null
    primary_sql "ALTER SYSTEM SET synchronous_commit = on" >/dev/null
    primary_sql "SELECT pg_reload_conf()" >/dev/null
    i=0
    until [ "$(primary_sql "SELECT sync_state FROM pg_stat_replication WHERE application_name = '$STANDBY_NAME'")" = sync ]; do
        i=$((i + 1))
        [ $i -lt 300 ] || { echo "postgres.sh: the standby did not reach sync state (see $S/server.log)" >&2; exit 1; }
        sleep 0.1
    done
    echo "postgresql://strata@127.0.0.1:$STANDBY_PORT/postgres"
    ;;
sync-state)
    primary_sql "SELECT application_name, state, sync_state FROM pg_stat_replication"
    ;;
stop-primary)
    as_owner "$BIN/pg_ctl" -D "$DIR/data" -m immediate stop >/dev/null
    ;;
promote)
    as_owner "$BIN/pg_ctl" -D "$DIR/standby/data" -w promote >/dev/null
    ;;
stop)
    if [ -f "$DIR/standby/data/PG_VERSION" ]; then as_owner "$BIN/pg_ctl" -D "$DIR/standby/data" -m fast stop >/dev/null 2>&1 || true; fi
    as_owner "$BIN/pg_ctl" -D "$DIR/data" -m fast stop >/dev/null 2>&1 || true
    ;;
*)
    echo "usage: postgres.sh start|start-standby|sync-state|stop-primary|promote|stop" >&2
    exit 2
    ;;
esac
