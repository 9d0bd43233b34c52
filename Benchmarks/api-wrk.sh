#!/usr/bin/env bash
# API throughput: GET /api/candlestick/BTCUSDT?limit=500 with wrk at 32 connections against a release `cryptopipe serve`
# on demo data, next to a trivial route (GET /api/config/symbols: no query, a few bytes) measured in the same run.
# Usage: Benchmarks/api-wrk.sh [seconds per run, default 15]   (needs wrk: apt-get install -y wrk)
set -euo pipefail
cd "$(dirname "$0")/.."
. Benchmarks/serve-lib.sh
seconds="${1:-15}"
command -v wrk >/dev/null || { echo "api-wrk.sh: wrk is not installed (apt-get install -y wrk)" >&2; exit 1; }
swift build -c release --product cryptopipe >/dev/null
binary="$(swift build -c release --show-bin-path)/cryptopipe"

work="$(mktemp -d)"
server=""
cleanup() {
    [ -n "$server" ] && kill "$server" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
export CRYPTOPIPE_DATA_DIR="$work/data" CRYPTOPIPE_LOG_LEVEL=warning

echo "demo data: 1500 minutes of BTCUSDT and ETHUSDT from the simulated exchange"
(cd "$work" && "$binary" demo --source rest --cycles 1 --initial-candles 1500 --http-port 0 --history-days 0 --symbols BTCUSDT,ETHUSDT >/dev/null)
start_serve
bytes="$(curl -s "$base/api/candlestick/BTCUSDT?limit=500" | wc -c)"
echo "candlestick response: $bytes bytes; $(nproc) cores shared by wrk and the server"

run() {
    wrk -t2 -c32 -d"${seconds}s" --latency "$1" | tee "$work/wrk.txt" >/dev/null
    local rps p99
    rps="$(awk '/Requests\/sec/ {print $2}' "$work/wrk.txt")"
    p99="$(awk '$1 == "99%" {print $2}' "$work/wrk.txt")"
    printf '%-45s %12s req/s   p99 %s\n' "$2" "$rps" "$p99"
    echo "$rps"  >"$work/last-rps"
}
wrk -t2 -c32 -d3s "$base/api/candlestick/BTCUSDT?limit=500" >/dev/null  # warm-up
run "$base/api/config/symbols" "trivial: GET /api/config/symbols"
trivial="$(cat "$work/last-rps")"
run "$base/api/candlestick/BTCUSDT?limit=500" "GET /api/candlestick/BTCUSDT?limit=500"
candles="$(cat "$work/last-rps")"
awk -v c="$candles" -v t="$trivial" 'BEGIN { printf "candlestick / trivial: %.2f\n", c / t }'
