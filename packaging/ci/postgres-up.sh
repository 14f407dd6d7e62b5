#!/usr/bin/env bash
# Start a throwaway PostgreSQL on 127.0.0.1 for the server's PostgreSQL tests and print its URL.
#   packaging/ci/postgres-up.sh STATE_DIR   → prints postgresql+psycopg://nf:nf@127.0.0.1:PORT/nodeflow
#   packaging/ci/postgres-down.sh STATE_DIR
# Needs Debian's postgresql package (installed by run-tests.sh when root); runs the server as user postgres.
set -euo pipefail
state="$1"
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$bin" ] || { echo "postgres-up: PostgreSQL is not installed" >&2; exit 1; }
mkdir -p "$state"
chown postgres "$state"
data="$state/data"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
if [ ! -d "$data" ]; then
    runuser -u postgres -- "$bin/initdb" -D "$data" -A trust -U postgres >/dev/null
fi
runuser -u postgres -- "$bin/pg_ctl" -D "$data" -l "$state/log" -w \
    -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$state" start >/dev/null
echo "$port" > "$state/port"
psql() { runuser -u postgres -- "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -v ON_ERROR_STOP=1 -qc "$1"; }
psql "CREATE ROLE nf LOGIN PASSWORD 'nf'" >/dev/null
psql "CREATE DATABASE nodeflow OWNER nf" >/dev/null
echo "postgresql+psycopg://nf:nf@127.0.0.1:$port/nodeflow"
