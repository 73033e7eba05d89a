# Shared by the benchmark scripts: starts a starter's release build on a
# free port of 127.0.0.1 and sets `addr` and `pid`. Extra environment
# variables come as arguments (`NAME=value`).
start_starter() {
    local package=$1 log
    shift
    log=$(mktemp)
    env TESSERA_BIND=127.0.0.1:0 DATABASE_URL=sqlite::memory: RUST_LOG=error "$@" \
        "$CARGO_TARGET_DIR/release/$package" >"$log" 2>/dev/null &
    pid=$!
    addr=
    for _ in $(seq 100); do
        addr=$(sed -n 's/^listening on http:\/\///p' "$log")
        [ -n "$addr" ] && break
        sleep 0.1
    done
    rm -f "$log"
    [ -n "$addr" ] || { echo "$package did not start" >&2; kill "$pid" 2>/dev/null; return 1; }
}
