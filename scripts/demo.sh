#!/usr/bin/env bash
# The whole Tollgate walk-through, step by step, on a throwaway data directory:
# start a server, add a user, log in in both dialects, refresh, show reuse detection (the
# successor dies too), log out, revoke, introspect, then stop the server and clean up.
#
#   scripts/demo.sh                      builds (release) with cargo, then runs
#   TOLLGATE_BIN=/path/to/tollgate scripts/demo.sh   uses that binary
#   TOLLGATE_DEMO_PORT=18080 scripts/demo.sh         another port (default 8089)
#
# Needs bash, curl and sed. Exits non-zero at the first step that does not answer as expected.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -z "${TOLLGATE_BIN:-}" ]]; then
    cargo build --release -q -p tollgate-server
    TOLLGATE_BIN="${CARGO_TARGET_DIR:-target}/release/tollgate"
fi
PORT="${TOLLGATE_DEMO_PORT:-8089}"
BASE="http://127.0.0.1:${PORT}"
WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
    if [[ -n "$SERVER_PID" ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# Everything below talks to this one server; cheap Argon2 keeps the demo quick.
export TOLLGATE__DATA_DIR="$WORK/data"
export TOLLGATE__SERVER__BIND="127.0.0.1:${PORT}"
export TOLLGATE__TOKENS__ISSUER="$BASE"
export TOLLGATE__PASSWORD__MEMORY_KIB=1024
export TOLLGATE__PASSWORD__ITERATIONS=1
export TOLLGATE_LOG="${TOLLGATE_LOG:-warn}"
mkdir -p "$TOLLGATE__DATA_DIR"

step() { printf '\n== %s\n' "$*"; }
show() { printf '%s\n' "$1"; }
fail() { printf 'demo failed: %s\n' "$*" >&2; exit 1; }
# field JSON NAME: the string value of NAME in a flat JSON object.
field() { sed -n "s/.*\"$2\":\"\\([^\"]*\\)\".*/\\1/p" <<<"$1"; }
# post PATH ARGS...: the response body, then a line "HTTP <status>".
post() { local path="$1"; shift; curl -sS -w '\nHTTP %{http_code}' "$@" "$BASE$path"; }
expect_status() { [[ "$1" == *"HTTP $2" ]] || fail "expected HTTP $2, got: $1"; }

step "1. start the server on $BASE (data in $TOLLGATE__DATA_DIR)"
"$TOLLGATE_BIN" serve 2>"$WORK/server.log" &
SERVER_PID=$!
for _ in $(seq 1 100); do
    curl -sf "$BASE/readyz" >/dev/null 2>&1 && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log" >&2; fail "the server exited"; }
    sleep 0.1
done
show "$(curl -sS "$BASE/readyz")"

step "2. add a user: tollgate user add alice --password-stdin"
show "$(printf 'S3cret-pass\n' | "$TOLLGATE_BIN" user add alice --password-stdin)"

step "3. log in, product dialect: grantType=Password&userName=alice&password=…"
R=$(post /api/oauth2/token -d grantType=Password -d userName=alice -d password=S3cret-pass)
show "$R"; expect_status "$R" 200
FIRST=$(field "$R" refresh_token)

step "4. log in, OAuth 2.0 dialect: grant_type=password&username=alice&password=…&longLivedRefreshToken=true"
R=$(post /api/oauth2/token -d grant_type=password -d username=alice -d password=S3cret-pass -d longLivedRefreshToken=true)
show "$R"; expect_status "$R" 200
OTHER_ACCESS=$(field "$R" access_token)
OTHER_REFRESH=$(field "$R" refresh_token)

step "5. refresh: grantType=RefreshToken&refreshToken=<first> gives a new pair and spends <first>"
R=$(post /api/oauth2/token -d grantType=RefreshToken -d refreshToken="$FIRST")
show "$R"; expect_status "$R" 200
NEXT=$(field "$R" refresh_token)

step "6. reuse: <first> again is refused and revokes its whole family"
R=$(post /api/oauth2/token -d grantType=RefreshToken -d refreshToken="$FIRST")
show "$R"; expect_status "$R" 400
[[ "$R" == *invalid_grant* ]] || fail "reuse was not invalid_grant"

step "7. the successor <next> died with its family"
R=$(post /api/oauth2/token -d grant_type=refresh_token -d refresh_token="$NEXT")
show "$R"; expect_status "$R" 400

step "8. who am I (second session): GET /api/users/me with its access token"
show "$(curl -sS "$BASE/api/users/me" -H "Authorization: Bearer $OTHER_ACCESS")"

step "9. log out the second session: POST /api/oauth2/logout"
R=$(post /api/oauth2/logout -H "Authorization: Bearer $OTHER_ACCESS" -d '')
show "$R"; expect_status "$R" 204
R=$(post /api/oauth2/token -d grantType=RefreshToken -d refreshToken="$OTHER_REFRESH")
show "its refresh token now: $R"; expect_status "$R" 400

step "10. a third session, revoked by RFC 7009: POST /api/oauth2/revoke token=<refresh>"
R=$(post /api/oauth2/token -d grantType=Password -d userName=alice -d password=S3cret-pass)
expect_status "$R" 200
THIRD=$(field "$R" refresh_token)
R=$(post /api/oauth2/revoke -d token="$THIRD")
show "$R"; expect_status "$R" 200

step "11. introspect (RFC 7662) needs a client: tollgate client add demo --grants ''"
SECRET=$("$TOLLGATE_BIN" client add demo --grants '')
R=$(post /api/oauth2/token -d grantType=Password -d userName=alice -d password=S3cret-pass)
LIVE=$(field "$R" refresh_token)
R=$(post /api/oauth2/introspect -u "demo:$SECRET" -d token="$LIVE")
show "a live refresh token:    $R"; expect_status "$R" 200
[[ "$R" == *'"active":true'* ]] || fail "a live token was not active"
R=$(post /api/oauth2/introspect -u "demo:$SECRET" -d token="$THIRD")
show "the revoked one:         $R"; expect_status "$R" 200
[[ "$R" == *'"active":false'* ]] || fail "a revoked token was active"

step "12. the metrics after all this: GET /metrics"
curl -sS "$BASE/metrics" | grep -E '^tollgate_(token_requests|refresh_reuse|families_revoked|live_families)' || true

step "done: every step answered as documented"
