#!/usr/bin/env bash
# Runs Tollgate locally with a first user, for trying the API by hand:
#   scripts/serve-dev.sh   then   curl ... (see README)
set -euo pipefail
cd "$(dirname "$0")/.."
export TOLLGATE__BOOTSTRAP__USER="${TOLLGATE__BOOTSTRAP__USER:-administrator}"
export TOLLGATE__BOOTSTRAP__PASSWORD="${TOLLGATE__BOOTSTRAP__PASSWORD:-Password1}"
exec cargo run --release -p tollgate-server -- serve
