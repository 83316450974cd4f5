#!/usr/bin/env bash
# Builds the release binary and runs the login flood and timing measurements (issue 7):
#   scripts/login-flood.sh            both
#   scripts/login-flood.sh flood      refresh p50/p99 before vs during 300 concurrent bad logins
#   scripts/login-flood.sh timing     unknown-user vs wrong-password login medians
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
cargo build --release -p tollgate-server --no-default-features --features sqlite
for mode in ${1:-flood timing}; do
    python3 scripts/login-flood.py "$mode" --binary "$target/release/tollgate"
done
