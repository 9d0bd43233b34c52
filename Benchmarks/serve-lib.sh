# Shared by the API benchmark scripts (sourced, not run): starts a release `cryptopipe serve` on a free port over
# $CRYPTOPIPE_DATA_DIR and waits until it listens. Sets `server` (its pid, for the caller's cleanup) and `base` (its
# URL); exits with its log when it does not start within 10 s. Needs `binary` and `work` set.
start_serve() {
    "$binary" serve --http-port 0 >"$work/serve.log" 2>&1 &
    server=$!
    local port=""
    for _ in $(seq 1 100); do
        port="$(grep -m1 -o 'http://127.0.0.1:[0-9]*' "$work/serve.log" | grep -o '[0-9]*$' || true)"
        [ -n "$port" ] && break
        sleep 0.1
    done
    [ -n "$port" ] || { echo "$(basename "$0"): cryptopipe serve did not start" >&2; cat "$work/serve.log" >&2; exit 1; }
    base="http://127.0.0.1:$port"
}
