#!/usr/bin/env bash
# Runs Tollgate's cargo-fuzz targets (docs/SECURITY.md), each for a while, at low priority.
#
#   scripts/fuzz.sh                  # every target, 10 minutes each, one after the other
#   scripts/fuzz.sh 600 form_parser  # one target for 600 s
#   JOBS=parallel scripts/fuzz.sh    # every target at once (one core each)
#
# Needs a nightly toolchain (`rustup toolchain install nightly`) and cargo-fuzz
# (`cargo install cargo-fuzz`). Crash inputs land in fuzz/artifacts/<target>/; turn each into a
# regression test (see docs/SECURITY.md) before fixing it.
set -euo pipefail

seconds="${1:-600}"
shift || true
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
    targets=(form_parser basic_credentials token_verification)
fi

cd "$(dirname "$0")/../fuzz"
export OPENSSL_NO_VENDOR="${OPENSSL_NO_VENDOR:-1}"

nice -n 19 cargo +nightly fuzz build -O

run() {
    local target="$1"
    mkdir -p "corpus/$target" "artifacts/$target"
    # -max_total_time stops the run; the summary line (execs, time) goes to fuzz-<target>.log.
    nice -n 19 cargo +nightly fuzz run -O "$target" "corpus/$target" -- \
        -max_total_time="$seconds" -max_len=65536 -print_final_stats=1 \
        >"fuzz-$target.log" 2>&1
    echo "$target: $(grep -E '^stat::number_of_executed_units' "fuzz-$target.log" | awk '{print $2}') executions in ${seconds}s; crashes: $(find "artifacts/$target" -type f | wc -l)"
}

if [ "${JOBS:-}" = "parallel" ]; then
    for t in "${targets[@]}"; do run "$t" & done
    wait
else
    for t in "${targets[@]}"; do run "$t"; done
fi
