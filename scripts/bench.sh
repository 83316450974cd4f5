#!/usr/bin/env bash
# Benchmarks a release build of Tollgate over HTTP and writes the results into BENCHMARKS.md
# (between the `bench:begin`/`bench:end` markers) and docs/benchmarks.svg.
#
#   scripts/bench.sh            the sweep: concurrency 1 4 16 32 64 per backend and algorithm,
#                               plus the issue's targets (memory, flat cost)
#   BENCH_DURATION=5 BENCH_CONCURRENCY="1 32" BENCH_TARGETS=0 scripts/bench.sh   a quick look
#   BENCH_CONCURRENCY="16 32" BENCH_ROUNDS=3 BENCH_TARGETS=0 BENCH_UPDATE=0 scripts/bench.sh
#                               DPoP against bearer only, interleaved, tables on stdout only
#
# At every level a bearer run is followed by a `--dpop` run per proof algorithm of BENCH_DPOP
# (`es256` by default; empty for none) on the same server, BENCH_ROUNDS times over (1), so the
# DPoP/bearer ratios come from neighbouring runs. BENCH_UPDATE=0 leaves BENCHMARKS.md and the
# chart alone; BENCH_RENDER_ONLY=1 runs nothing and redraws the tables and chart from the last
# run's results (BENCH_OUT, default $CARGO_TARGET_DIR/bench-results).
#
# The server runs on a temporary SQLite file (and on PostgreSQL in its own schema when
# TOLLGATE_TEST_POSTGRES_URL is set), pinned to CPU 0 with one HTTP worker; the load tool runs on
# CPU 1 (when the machine has two or more). `openssl speed` gives each algorithm's signing bound
# on the same core in the same run: a refresh signs two tokens, so the bound is sign/s ÷ 2.
# OPENSSL_ia32cap is passed on to `openssl speed`, the server and the load tool alike, so
#   OPENSSL_ia32cap=":~0x200000" scripts/bench.sh
# measures bound and server with AVX-512 IFMA turned off in OpenSSL (see BENCHMARKS.md).
# Needs: openssl, taskset, jq; sqlite3 and psql for the flat-cost seeding.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
duration="${BENCH_DURATION:-10}"
levels="${BENCH_CONCURRENCY:-1 4 16 32 64}"
algorithms="${BENCH_ALGORITHMS:-RS512}"
targets="${BENCH_TARGETS:-1}"
rounds="${BENCH_ROUNDS:-1}"
dpop_algs="${BENCH_DPOP-es256}"
update="${BENCH_UPDATE:-1}"
render_only="${BENCH_RENDER_ONLY:-0}"
out="${BENCH_OUT:-$CARGO_TARGET_DIR/bench-results}"
pg_url="${TOLLGATE_TEST_POSTGRES_URL:-}"
password=bench-password

cargo build --release -q -p tollgate-server -p tollgate-bench
bin="$CARGO_TARGET_DIR/release"
results="$out/summaries.jsonl"
if [[ "$render_only" != 1 ]]; then
    rm -rf "$out"; mkdir -p "$out"; : >"$results"
fi

if [[ $(nproc) -ge 2 ]] && command -v taskset >/dev/null; then
    pin_server=(taskset -c 0); pin_load=(taskset -c 1); workers=1
else
    pin_server=(); pin_load=(); workers=0
fi

openssl_name() { case "$1" in RS512) echo rsa2048 ;; ES256) echo ecdsap256 ;; EdDSA) echo ed25519 ;; esac; }

# Sign operations per second of one core for an algorithm, from `openssl speed`.
sign_per_sec() {
    local name; name="$(openssl_name "$1")"
    "${pin_server[@]}" openssl speed -seconds 3 "$name" 2>/dev/null | awk -v n="$name" '
        n == "rsa2048"   && /^rsa 2048 bits/     { print $6 }
        n == "ecdsap256" && /256 bits ecdsa \(nistp256\)/ { print $7 }
        n == "ed25519"   && /253 bits EdDSA \(Ed25519\)/ { print $7 }'
}

server_pid=""; server_dir=""
stop_server() {
    if [[ -n "$server_pid" ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    server_pid=""
}
# A run that stops early (a server that would not start, ^C) drops its PostgreSQL schema too.
trap 'stop_server; drop_schema; [[ -n "$server_dir" ]] && rm -rf "$server_dir"' EXIT

# start_server BACKEND ALG [extra env...]: a fresh data dir (new database, new key) each time.
start_server() {
    local backend="$1" alg="$2"; shift 2
    stop_server
    [[ -n "$server_dir" ]] && rm -rf "$server_dir"
    server_dir="$(mktemp -d)"
    local url="sqlite://bench.db"
    if [[ "$backend" == postgres ]]; then
        local schema="tollgate_bench_$$_$RANDOM"
        psql -q "$pg_url" -c "CREATE SCHEMA $schema" >/dev/null
        local sep='?'; [[ "$pg_url" == *\?* ]] && sep='&'
        url="${pg_url}${sep}options=-csearch_path%3D$schema"
        echo "$schema" >"$server_dir/schema"
    fi
    local alg_env=(); [[ "$alg" != RS512 ]] && alg_env=(TOLLGATE__TOKENS__ALGORITHM="$alg")
    local server_env=(TOLLGATE__DATA_DIR="$server_dir"
        TOLLGATE__SERVER__WORKERS="$workers" TOLLGATE__DATABASE__URL="$url"
        TOLLGATE__BOOTSTRAP__USER=bench TOLLGATE__BOOTSTRAP__PASSWORD="$password"
        TOLLGATE_LOG=warn "${alg_env[@]}" "$@")
    if [[ -n "${seed_rows:-}" ]]; then
        # The schema and the bench user first (the bootstrap user is only made on a database
        # without users, and the seeding adds one), then the rows with the server not yet
        # running (no lock contention).
        env "${server_env[@]}" "$bin/tollgate" migrate >/dev/null
        printf '%s\n' "$password" | env "${server_env[@]}" "$bin/tollgate" user add bench --password-stdin >/dev/null
        seed_sqlite "$server_dir/bench.db" "$seed_rows"
    fi
    # A random port another process may hold (other benchmarks run on shared machines): one
    # that answers before our server starts is skipped, and a server that could not bind (it
    # exits) is started again on another port, so the runs never talk to someone else's server.
    local attempt
    for attempt in 1 2 3 4 5; do
        port=$((20000 + RANDOM % 20000))
        timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null && continue
        env "${server_env[@]}" TOLLGATE__SERVER__BIND="127.0.0.1:$port" "${pin_server[@]}" \
            "$bin/tollgate" serve >"$out/server-$backend-$alg.log" 2>&1 &
        server_pid=$!
        for _ in $(seq 200); do
            if timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null; then
                sleep 0.2
                kill -0 "$server_pid" 2>/dev/null && return 0
                break
            fi
            kill -0 "$server_pid" 2>/dev/null || break
            sleep 0.1
        done
        wait "$server_pid" 2>/dev/null || true
        server_pid=""
        grep -q "Address already in use" "$out/server-$backend-$alg.log" || break
    done
    cat "$out/server-$backend-$alg.log" >&2
    echo "server did not start" >&2
    exit 1
}

drop_schema() {
    if [[ -f "$server_dir/schema" ]]; then
        psql -q "$pg_url" -c "DROP SCHEMA $(cat "$server_dir/schema") CASCADE" >/dev/null || true
        rm -f "$server_dir/schema"
    fi
}

# seed_sqlite FILE ROWS: ROWS refresh-token rows in chains of ten (nine spent, one live) in
# ROWS/10 families of a separate user, one INSERT … SELECT each (no HTTP, no signing).
seed_sqlite() {
    local families=$(($2 / 10)) rows="$2"
    sqlite3 "$1" >/dev/null <<SQL
PRAGMA busy_timeout = 10000;
INSERT INTO users (id, user_name, password_hash, created_at)
    VALUES ('00000000-0000-4000-8000-00000000beef', 'seeded', 'x', 0);
INSERT INTO token_families (id, user_id, created_at, expires_at, long_lived)
    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $families)
    SELECT printf('%08x-0000-4000-8000-%012x', i, i), '00000000-0000-4000-8000-00000000beef',
           0, 4102444800, 0 FROM n;
INSERT INTO refresh_tokens (token_id, family_id, parent_id, access_token_id, issued_at, expires_at, used_at)
    WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < $rows - 1)
    SELECT printf('%08x-1111-4000-8000-%012x', i, i), printf('%08x-0000-4000-8000-%012x', i / 10 + 1, i / 10 + 1),
           CASE WHEN i % 10 = 0 THEN NULL ELSE printf('%08x-1111-4000-8000-%012x', i - 1, i - 1) END,
           printf('%08x-2222-4000-8000-%012x', i, i), 0, 4102444800,
           CASE WHEN i % 10 = 9 THEN NULL ELSE 1 END FROM n;
SQL
}

load() { # load LABEL ARGS...: one run of the load tool; its JSON summary is appended to $results
    local label="$1"; shift
    TOLLGATE_BENCH_PASSWORD="$password" "${pin_load[@]}" "$bin/tollgate-bench" --quiet \
        --url "http://127.0.0.1:$port" --user bench --label "$label" "$@" >"$out/last.txt" || true
    # A failed check (exit 1) is recorded in the summary (`"ok":false`) and shown in the tables.
    cat "$out/last.txt" >&2
    # The round and the machine's load average go into the summary for the tables.
    tail -1 "$out/last.txt" | jq -c --argjson r "${round:-1}" --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" \
        '. + {round: $r, loadavg: $load}' | tee -a "$results"
}

rss_kib() { awk '/^VmRSS/ { print $2 }' "/proc/$server_pid/status"; }

# BENCH_RENDER_ONLY=1: no runs, only the tables and chart from the last run's results.
if [[ "$render_only" != 1 ]]; then
backends=(sqlite); [[ -n "$pg_url" ]] && backends+=(postgres)
declare -A bound
for alg in $algorithms; do
    sign="$(sign_per_sec "$alg")"
    bound[$alg]="$(awk -v s="$sign" 'BEGIN { printf "%.0f", s / 2 }')"
    echo "{\"mode\":\"bound\",\"algorithm\":\"$alg\",\"sign_per_sec\":$sign,\"refresh_bound\":${bound[$alg]}}" >>"$results"
done

for backend in "${backends[@]}"; do
    for alg in $algorithms; do
        start_server "$backend" "$alg"
        for round in $(seq "$rounds"); do
            for c in $levels; do
                load "$backend $alg" --concurrency "$c" --users "$c" --duration "$duration" >/dev/null
                for palg in $dpop_algs; do
                    load "$backend $alg DPoP $palg" --dpop --dpop-alg "$palg" \
                        --concurrency "$c" --users "$c" --duration "$duration" >/dev/null
                done
            done
        done
        round=1
        for palg in "" $dpop_algs; do
            TOLLGATE_BENCH_PASSWORD="$password" "$bin/tollgate-bench" --quiet --url "http://127.0.0.1:$port" \
                --user bench --race 16 --rounds 50 ${palg:+--dpop --dpop-alg "$palg"} | tail -1 >>"$results" || true
        done
        stop_server; drop_schema
    done
done

if [[ "$targets" == 1 ]]; then
    # Target 4: RSS after 32 concurrent logins and 100,000 chained refreshes at c = 32.
    start_server sqlite RS512
    start_rss="$(rss_kib)"
    load "memory" --concurrency 32 --users 32 --requests 100000 >/dev/null
    end_rss="$(rss_kib)"
    echo "{\"mode\":\"memory\",\"rss_start_kib\":$start_rss,\"rss_end_kib\":$end_rss}" >>"$results"
    stop_server

    # Target 5: median refresh latency with 1,000 vs 1,000,000 stored token rows (SQLite),
    # rows seeded with one SQL statement each, not through HTTP.
    for rows in 1000 1000000; do
        seed_rows="$rows" start_server sqlite RS512
        load "rows $rows" --concurrency 1 --users 1 --duration "$duration" >/dev/null
        stop_server
    done
fi
fi

# The chart shows the sweep's first round only (labels "<backend> <algorithm>[ DPoP <alg>]"),
# not the target runs.
jq -c 'select(.mode == "load" and .round == 1 and (.label | test("^(sqlite|postgres) ")))' "$results" >"$out/sweep.jsonl"
chart="docs/benchmarks.svg"; [[ "$update" == 1 ]] || chart="$out/benchmarks.svg"
"$bin/tollgate-bench" chart --out "$chart" "$out/sweep.jsonl" >&2

# Tables for BENCHMARKS.md.
# OpenSSL's RSA takes a path twice as fast on CPUs with AVX-512 IFMA, which moves the bound (and
# the share of a refresh that is not signing); the header says which path ran.
rsa_path="RSA without AVX-512 IFMA (the CPU has none)"
if grep -qw avx512ifma /proc/cpuinfo; then rsa_path="RSA with AVX-512 IFMA"; fi
if [[ -n "${OPENSSL_ia32cap:-}" ]]; then rsa_path="OpenSSL CPU features restricted: OPENSSL_ia32cap=$OPENSSL_ia32cap"; fi
{
    echo "Generated by \`scripts/bench.sh\` on $(date -u +%Y-%m-%dT%H:%MZ): $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(uname -sr); $rsa_path; server pinned: ${pin_server[*]:-no}, load tool: ${pin_load[*]:-no}; ${duration} s per level, ${rounds} round(s); load average during the runs: $(jq -rs 'map(select(.loadavg) | .loadavg | split(" ")[0] | tonumber) | if length > 0 then "\(min)–\(max)" else "n/a" end' "$results")."
    echo
    echo "| algorithm | openssl sign/s (one core) | refresh bound (sign/s ÷ 2) |"
    echo "|---|---:|---:|"
    jq -r 'select(.mode == "bound") | "| \(.algorithm) | \(.sign_per_sec) | \(.refresh_bound) |"' "$results"
    echo
    echo "| backend, algorithm | concurrency | refreshes/s | of bound | mean ms | p50 ms | p90 ms | p99 ms | max ms | p99/mean | logins/s | errors | duplicates |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|"
    jq -rs '(map(select(.mode == "bound")) | map({(.algorithm): .refresh_bound}) | add) as $b
        | .[] | select(.mode == "load" and (.label | test("^(sqlite|postgres) ")))
        | (.label | split(" ")[1]) as $alg
        | "| \(.label) | \(.concurrency) | \(.refreshes_per_sec | floor) | \((.refreshes_per_sec / $b[$alg] * 100 | floor) / 100) | \(.latency_us.mean / 1000 * 100 | floor / 100) | \(.latency_us.p50 / 10 | floor / 100) | \(.latency_us.p90 / 10 | floor / 100) | \(.latency_us.p99 / 10 | floor / 100) | \(.latency_us.max / 10 | floor / 100) | \(.latency_us.p99 / .latency_us.mean * 100 | floor / 100) | \(.logins_per_sec | floor) | \(.errors | tostring) | \(.duplicates) |"' "$results"
    echo
    if [[ -n "$dpop_algs" ]]; then
        echo
        echo "DPoP against bearer on the same server, runs interleaved (bearer, DPoP, bearer, …); refreshes/s is the mean over rounds, p50 and p99 the median over rounds; ratios DPoP / bearer:"
        echo
        echo "| backend, algorithm | concurrency | proofs | rounds | refreshes/s | p50 ms | p99 ms | refreshes/s ratio | p50 ratio | p99 ratio | errors |"
        echo "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---|"
        jq -rs 'def median: sort | if length == 0 then 0 else (.[(length - 1) / 2 | floor] + .[length / 2 | floor]) / 2 end;
            def r2: . * 100 | round / 100;
            map(select(.mode == "load" and (.label | test("^(sqlite|postgres) "))))
            | map(. + {base: (.label | split(" DPoP ")[0]), proofs: (.dpop // "bearer")})
            | group_by([.base, .concurrency]) | .[]
            | (map(select(.proofs == "bearer"))) as $bearer
            | group_by([.proofs != "bearer", .proofs]) | .[]
            | {base: .[0].base, c: .[0].concurrency, proofs: .[0].proofs, n: length,
               rps: (map(.refreshes_per_sec) | add / length),
               p50: (map(.latency_us.p50) | median), p99: (map(.latency_us.p99) | median),
               errors: (map(.errors | to_entries | map(.value) | add // 0) | add),
               brps: ($bearer | map(.refreshes_per_sec) | add / length),
               bp50: ($bearer | map(.latency_us.p50) | median), bp99: ($bearer | map(.latency_us.p99) | median)}
            | "| \(.base) | \(.c) | \(.proofs) | \(.n) | \(.rps | floor) | \(.p50 / 1000 | r2) | \(.p99 / 1000 | r2) | \(.rps / .brps | r2) | \(.p50 / .bp50 | r2) | \(.p99 / .bp99 | r2) | \(.errors) |"' "$results"
        echo
    fi
    jq -r 'select(.mode == "race") | "Race mode\(if .dpop then " (DPoP \(.dpop))" else "" end): \(.racers) concurrent presentations of one token, \(.rounds_ok)/\(.rounds) rounds with exactly one winner."' "$results"
    jq -r 'select(.mode == "memory") | "Memory (target 4): server RSS \(.rss_start_kib / 1024 | floor) MiB at start, \(.rss_end_kib / 1024 | floor) MiB after 32 concurrent logins and 100,000 refreshes at c = 32."' "$results"
    jq -rs 'map(select(.mode == "load" and (.label | startswith("rows ")))) | if length == 2 then
        "Flat cost (target 5, c = 1): median \(.[0].latency_us.p50 / 1000) ms with 1,000 stored rows, \(.[1].latency_us.p50 / 1000) ms with 1,000,000: ratio \(.[1].latency_us.p50 / .[0].latency_us.p50 * 100 | floor / 100)." else empty end' "$results"
} >"$out/tables.md"

# Replace the generated block of BENCHMARKS.md, keeping the hand-written text around it.
if [[ "$update" == 1 && -f BENCHMARKS.md ]] && grep -q '<!-- bench:begin -->' BENCHMARKS.md; then
    awk -v f="$out/tables.md" '
        /<!-- bench:begin -->/ { print; while ((getline l < f) > 0) print l; skip = 1; next }
        /<!-- bench:end -->/ { skip = 0 }
        !skip' BENCHMARKS.md >"$out/BENCHMARKS.md" && mv "$out/BENCHMARKS.md" BENCHMARKS.md
fi
cat "$out/tables.md"
echo "summaries: $results" >&2
