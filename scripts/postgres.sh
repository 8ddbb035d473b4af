#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests: initdb into a temp dir, pg_ctl on a free port
# on 127.0.0.1, trust auth. Prints shell exports; `stop DIR` tears it down.
#   eval "$(scripts/postgres.sh start)"   → HERALD_TEST_POSTGRES_URL, HERALD_TEST_POSTGRES_DIR
#   scripts/postgres.sh stop "$HERALD_TEST_POSTGRES_DIR"
#   scripts/postgres.sh down DIR / up DIR   stop the server and start it again on the same port
#                                           (outage tests), keeping its data
set -euo pipefail

BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"
if [ -z "$BIN" ] || [ ! -x "$BIN/initdb" ]; then
    echo "postgres: no PostgreSQL server binaries under /usr/lib/postgresql (apt-get install postgresql)" >&2
    exit 1
fi

# PostgreSQL refuses to run as root; run it as the 'postgres' user then.
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# The server outlives this script: it must not keep the descriptors the script was started
# with (a caller waiting for the script's end or output would wait for the server's end).
close_inherited_fds() {
    local fd
    for fd in /proc/$$/fd/*; do
        fd="${fd##*/}"
        if [ "$fd" -gt 2 ] 2>/dev/null && [ "$fd" -ne 255 ]; then eval "exec ${fd}>&-" 2>/dev/null || true; fi
    done
}

case "${1:-}" in
start)
    DIR="$(mktemp -d /tmp/herald-pg-XXXXXX)"
    if [ "$(id -u)" -eq 0 ]; then chown postgres "$DIR"; fi
    PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')"
    as_owner "$BIN/initdb" -D "$DIR/data" -U postgres -A trust --locale=C.UTF-8 -E UTF8 >"$DIR/initdb.log" 2>&1 \
        || { echo "postgres: initdb failed, see $DIR/initdb.log" >&2; cat "$DIR/initdb.log" >&2; exit 1; }
    echo "$PORT" >"$DIR/port"
    close_inherited_fds
    as_owner "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 30 \
        -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c max_connections=300" start >/dev/null \
        || { echo "postgres: pg_ctl start failed, see $DIR/server.log" >&2; cat "$DIR/server.log" >&2; exit 1; }
    as_owner "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres herald
    echo "export HERALD_TEST_POSTGRES_URL='postgres://postgres@127.0.0.1:$PORT/herald?sslmode=disable'"
    echo "export HERALD_TEST_POSTGRES_DIR='$DIR'"
    echo "export HERALD_TEST_POSTGRES_BIN='$BIN'"
    ;;
down)
    DIR="${2:?usage: postgres.sh down DIR}"
    as_owner "$BIN/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null
    ;;
up)
    DIR="${2:?usage: postgres.sh up DIR}"
    PORT="$(cat "$DIR/port")"
    close_inherited_fds
    as_owner "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 30 \
        -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c max_connections=300" start >/dev/null
    ;;
stop)
    DIR="${2:?usage: postgres.sh stop DIR}"
    as_owner "$BIN/pg_ctl" -D "$DIR/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$DIR"
    ;;
*)
    echo "usage: scripts/postgres.sh start | stop DIR | down DIR | up DIR" >&2
    exit 2
    ;;
esac
