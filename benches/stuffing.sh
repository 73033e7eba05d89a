#!/usr/bin/env bash
# A credential-stuffing run against each starter's release build, on
# 127.0.0.1 only: 500 accounts exist; one client address then tries one
# leaked email:password pair per account (every tenth pair right), as a
# stuffing tool would. Prints what the client got back.
#
#   benches/stuffing.sh [ACCOUNTS]
#
# Registration is itself throttled per address, so the accounts are created
# from distinct addresses through the trusted proxy 127.0.0.1
# (TESSERA_TRUSTED_PROXIES); the attack comes from a single one.
set -euo pipefail

cd "$(dirname "$0")/.."
# shellcheck source=benches/starter.sh
source benches/starter.sh
accounts="${1:-500}"
command -v bc >/dev/null || { echo "stuffing.sh: bc is not installed" >&2; exit 2; }
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$(pwd)/../target}"
cargo build --release --locked -q -p tessera-example-axum -p tessera-example-actix

run() {
    local package=$1
    start_starter "$package" TESSERA_TRUSTED_PROXIES=127.0.0.1
    # On return, and on an exit when a step fails (set -e).
    trap 'kill $pid 2>/dev/null || true' RETURN EXIT
    for n in $(seq "$accounts"); do
        curl -sf -o /dev/null "http://$addr/auth/register" -H 'content-type: application/json' \
            -H "x-forwarded-for: 10.$((n / 250)).$((n % 250)).1" \
            -d "{\"email\":\"user$n@example.com\",\"password\":\"right password $n\"}"
    done
    local start end statuses
    start=$(date +%s.%N)
    statuses=$(for n in $(seq "$accounts"); do
        if [ $((n % 10)) -eq 0 ]; then password="right password $n"; else password="leaked password $n"; fi
        curl -s -o /dev/null -w '%{http_code}\n' "http://$addr/auth/login" \
            -H 'content-type: application/json' -H 'x-forwarded-for: 203.0.113.66' \
            -d "{\"email\":\"user$n@example.com\",\"password\":\"$password\"}"
    done)
    end=$(date +%s.%N)
    printf '\n== %s: %s logins from one address over %s accounts (every tenth right), %.1f s\n' \
        "$package" "$accounts" "$accounts" "$(echo "$end - $start" | bc)"
    echo "$statuses" | sort | uniq -c | sed 's/^/   /'
    printf '   first 429 at attempt %s\n' "$(echo "$statuses" | grep -n '^429$' | head -1 | cut -d: -f1)"
    local other
    other=$(curl -s -o /dev/null -w '%{http_code}' "http://$addr/auth/login" \
        -H 'content-type: application/json' -H 'x-forwarded-for: 198.51.100.7' \
        -d '{"email":"user7@example.com","password":"right password 7"}')
    printf '   the real user7, from another address, right after: %s\n' "$other"
}

run tessera-example-axum
run tessera-example-actix
