#!/usr/bin/env bash
# Stop the PostgreSQL that postgres-up.sh started in STATE_DIR (by its data folder, never by name).
set -euo pipefail
state="$1"
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -d "$state/data" ] && runuser -u postgres -- "$bin/pg_ctl" -D "$state/data" -m fast -w stop >/dev/null || true
