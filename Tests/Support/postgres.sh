#!/bin/sh
# Starts (start) or stops (stop) a throwaway PostgreSQL server on loopback
# for the tests: trust authentication, user `strata`, port $STRATA_PG_PORT
# (default 54329), data under $STRATA_PG_DIR (default /tmp/strata-pg).
# Prints the connection URL on start. Runs the server as the `postgres`
# user when started as root (PostgreSQL refuses to run as root).
set -e
DIR=${STRATA_PG_DIR:-/tmp/strata-pg}
PORT=${STRATA_PG_PORT:-54329}
BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$BIN" ] || { echo "postgres.sh: no PostgreSQL server installed (apt-get install postgresql)" >&2; exit 1; }
as_owner() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
case "$1" in
start)
    if [ ! -f "$DIR/data/PG_VERSION" ]; then
        rm -rf "$DIR"
        mkdir -p "$DIR"
        [ "$(id -u)" = 0 ] && chown postgres "$DIR"
        as_owner "$BIN/initdb" -D "$DIR/data" -A trust -U strata >/dev/null
    fi
    if ! as_owner "$BIN/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; then
        as_owner "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w \
            -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c fsync=on" start >/dev/null
    fi
    echo "postgresql://strata@127.0.0.1:$PORT/postgres"
    ;;
stop)
    as_owner "$BIN/pg_ctl" -D "$DIR/data" -m fast stop >/dev/null 2>&1 || true
    ;;
*)
    echo "usage: postgres.sh start|stop" >&2
    exit 2
    ;;
esac
