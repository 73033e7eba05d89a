#!/usr/bin/env bash
# Requests per second of `GET /me` with a JWT on the release build of each
# starter, one after the other under the same load, on 127.0.0.1 only.
#
#   benches/rps.sh [SECONDS] [CONNECTIONS]
#
# Needs wrk (https://github.com/wg/wrk; Debian: apt-get install wrk) and
# curl. Each starter runs on in-memory SQLite with its defaults (an Ed25519
# key generated at start, one worker thread per core); the account is
# created and logged in once, so the run measures only the authenticated
# read. Bounded: SECONDS (default 10) per starter.
set -euo pipefail

cd "$(dirname "$0")/.."
# shellcheck source=benches/starter.sh
source benches/starter.sh
seconds="${1:-10}"
connections="${2:-32}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$(pwd)/../target}"

command -v wrk >/dev/null || { echo "rps.sh: wrk is not installed" >&2; exit 2; }
cargo build --release --locked -q -p tessera-example-axum -p tessera-example-actix

run() {
    local package=$1 token
    start_starter "$package"
    # On return, and on an exit when a step fails (set -e).
    trap 'kill $pid 2>/dev/null || true' RETURN EXIT
    local account='{"email":"bench@example.com","password":"correct horse battery"}'
    curl -sf "http://$addr/auth/register" -H 'content-type: application/json' -d "$account" >/dev/null
    token=$(curl -sf "http://$addr/auth/login" -H 'content-type: application/json' -d "$account" \
        | sed -E 's/.*"access_token":"([^"]+)".*/\1/')
    curl -sf "http://$addr/me" -H "authorization: Bearer $token" >/dev/null
    printf '\n== %s: GET /me, JWT (EdDSA), %s connections, %ss\n' "$package" "$connections" "$seconds"
    wrk -t2 -c"$connections" -d"${seconds}s" -H "authorization: Bearer $token" "http://$addr/me"
}

run tessera-example-axum
run tessera-example-actix
