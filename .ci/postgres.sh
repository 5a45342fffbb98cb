# Source this file (bash): it starts a throwaway PostgreSQL server on 127.0.0.1 for the
# parallel-tuning test (tests/integration/test_tune_postgres.py) and exports
#   DLTRAIN_TEST_POSTGRES_URL=postgresql://dltrain:PASSWORD@127.0.0.1:PORT/dltrain_test
# The server runs as a non-root user (postgres when we are root) from a temporary folder,
# listens on loopback only, and is stopped and deleted by `dltrain_postgres_stop` (call it
# from an EXIT trap). Installs Debian's `postgresql` package when no server binary exists.
#
#   source .ci/postgres.sh && trap dltrain_postgres_stop EXIT

_dltrain_pg_bin() {
    ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

if [ -z "$(_dltrain_pg_bin)" ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq postgresql >/dev/null
fi
DLTRAIN_PG_BIN="$(_dltrain_pg_bin)"
DLTRAIN_PG_DIR="$(mktemp -d /tmp/dltrain-postgres.XXXXXX)"
DLTRAIN_PG_PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
DLTRAIN_PG_PASSWORD="$(python3 -c 'import secrets; print(secrets.token_hex(16))')"

if [ "$(id -u)" -eq 0 ]; then
    chown postgres: "$DLTRAIN_PG_DIR"
    _dltrain_pg_as() { runuser -u postgres -- "$@"; }
else
    _dltrain_pg_as() { "$@"; }
fi

printf '%s\n' "$DLTRAIN_PG_PASSWORD" >"$DLTRAIN_PG_DIR/pw"
[ "$(id -u)" -eq 0 ] && chown postgres: "$DLTRAIN_PG_DIR/pw"
_dltrain_pg_as "$DLTRAIN_PG_BIN/initdb" -D "$DLTRAIN_PG_DIR/data" -U dltrain \
    --pwfile="$DLTRAIN_PG_DIR/pw" --auth=scram-sha-256 -E UTF8 >/dev/null
_dltrain_pg_as "$DLTRAIN_PG_BIN/pg_ctl" -D "$DLTRAIN_PG_DIR/data" -l "$DLTRAIN_PG_DIR/server.log" \
    -o "-c listen_addresses=127.0.0.1 -c port=$DLTRAIN_PG_PORT -c unix_socket_directories=$DLTRAIN_PG_DIR -c max_connections=50" \
    -w start >/dev/null
PGPASSWORD="$DLTRAIN_PG_PASSWORD" "$DLTRAIN_PG_BIN/createdb" -h 127.0.0.1 -p "$DLTRAIN_PG_PORT" \
    -U dltrain dltrain_test
export DLTRAIN_TEST_POSTGRES_URL="postgresql://dltrain:$DLTRAIN_PG_PASSWORD@127.0.0.1:$DLTRAIN_PG_PORT/dltrain_test"
echo "CI: PostgreSQL $("$DLTRAIN_PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$DLTRAIN_PG_PORT (data in $DLTRAIN_PG_DIR)"

dltrain_postgres_stop() {
    _dltrain_pg_as "$DLTRAIN_PG_BIN/pg_ctl" -D "$DLTRAIN_PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$DLTRAIN_PG_DIR"
}
