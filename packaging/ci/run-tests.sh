#!/usr/bin/env bash
# Set up everything the test suite needs on a fresh Debian 12 machine, then run the whole suite.
#   bash packaging/ci/run-tests.sh [pytest args...]
# System packages (installed when running as root with apt-get and they are missing):
#   Slurm + munge + OpenSSH for the real Slurm-over-SSH tests (packaging/ci/slurm-up.sh starts them),
#   PostgreSQL for the server's tests against a real PostgreSQL (SQLite is the default),
#   the X/GL/font libraries Qt's offscreen platform loads.
# Python packages: nodeflow itself with the server and test extras.
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON="${PYTHON:-python3}"

debs=(slurm-wlm slurm-client munge openssh-server openssh-client postgresql
      libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1
      libfontconfig1 libdbus-1-3 libglib2.0-0 fonts-dejavu-core)
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    missing=()
    for p in "${debs[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        echo "run-tests: installing Debian packages: ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends --no-upgrade "${missing[@]}"
    fi
else
    echo "run-tests: not root or no apt-get: system packages not checked (Slurm tests skip if they cannot run)"
fi

"$PYTHON" -m pip install -q --disable-pip-version-check -e '.[server,test]'

# a throwaway PostgreSQL on loopback for the server's PostgreSQL variants (they skip, saying why, without it)
pg_state=""
if [ "$(id -u)" = 0 ] && [ -z "${NODEFLOW_TEST_PG_URL:-}" ] && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    pg_state=$(mktemp -d /tmp/nodeflow-pg.XXXXXX)
    if url=$(bash packaging/ci/postgres-up.sh "$pg_state"); then
        export NODEFLOW_TEST_PG_URL="$url"
    else
        echo "run-tests: PostgreSQL did not start (see $pg_state/log); its tests will skip"
    fi
fi
status=0
"$PYTHON" -m pytest -q -rs "$@" || status=$?
if [ -n "$pg_state" ]; then
    bash packaging/ci/postgres-down.sh "$pg_state" || true
fi
exit "$status"
