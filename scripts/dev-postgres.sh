#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster for developers who have the server binaries
# (initdb, pg_ctl) but no running cluster. Prints the URL to export; stop it with
#   scripts/dev-postgres.sh stop
set -euo pipefail
dir="${TOLLGATE_DEV_PG_DIR:-${TMPDIR:-/tmp}/tollgate-dev-pg}"
port="${TOLLGATE_DEV_PG_PORT:-55432}"
bindir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)"
PATH="${bindir:+$bindir:}$PATH"
command -v initdb >/dev/null || { echo "initdb not found: install the PostgreSQL server package" >&2; exit 1; }

run() { if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }

if [[ "${1:-start}" == stop ]]; then
    run pg_ctl -D "$dir/data" -m fast stop
    exit 0
fi
mkdir -p "$dir"
[[ $(id -u) == 0 ]] && chown postgres "$dir"
if [[ ! -f "$dir/data/PG_VERSION" ]]; then
    run initdb -D "$dir/data" -U postgres --auth=trust >/dev/null
fi
run pg_ctl -D "$dir/data" -l "$dir/log" -o "-p $port -k $dir -c listen_addresses=127.0.0.1" -w start >/dev/null
run createdb -h 127.0.0.1 -p "$port" -U postgres test 2>/dev/null || true
echo "export TOLLGATE_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:$port/test"
