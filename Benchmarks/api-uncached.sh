#!/usr/bin/env bash
# The candle API when its response cache misses: GET /api/candlestick/BTCUSDT?limit=500&end=T with T a different minute
# on each request (a wrk Lua script walking 3 days of minutes), 2 wrk threads, 32 connections, against a release
# `cryptopipe serve`, next to the same URL repeated (the response cache's case) and to the original endpoint written in
# Flask under gunicorn with 2 workers (Benchmarks/api_peer.py) on the same warehouse and the same varied URLs.
# Usage: Benchmarks/api-uncached.sh [seconds per run, default 15] [runs, default 3]
#   needs wrk (apt-get install -y wrk) and Flask with gunicorn (pip install flask gunicorn)
set -euo pipefail
cd "$(dirname "$0")/.."
. Benchmarks/serve-lib.sh
seconds="${1:-15}"
runs="${2:-3}"
command -v wrk >/dev/null || { echo "api-uncached.sh: wrk is not installed (apt-get install -y wrk)" >&2; exit 1; }
python3 -c "import flask, gunicorn" 2>/dev/null || { echo "api-uncached.sh: needs Flask and gunicorn (pip install flask gunicorn)" >&2; exit 1; }
swift build -c release --product cryptopipe >/dev/null
binary="$(swift build -c release --show-bin-path)/cryptopipe"

work="$(mktemp -d)"
server=""
peer=""
cleanup() {
    [ -n "$server" ] && kill "$server" 2>/dev/null || true
    [ -n "$peer" ] && kill "$peer" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
export CRYPTOPIPE_DATA_DIR="$work/data" CRYPTOPIPE_LOG_LEVEL=warning

minutes=4320
echo "data: $minutes minutes (3 days) of BTCUSDT and ETHUSDT from the simulated exchange"
(cd "$work" && "$binary" demo --source rest --cycles 1 --http-port 0 --history-days 3 --symbols BTCUSDT,ETHUSDT >/dev/null)
start_serve
newest="$(curl -sf "$base/api/candlestick/BTCUSDT?limit=1" | python3 -c 'import json, sys; print(json.load(sys.stdin)["candles"][-1]["open_time"])')"
first=$((newest - (minutes - 1) * 60000))

peer_port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
API_PEER_DATABASE="$CRYPTOPIPE_DATA_DIR/warehouse.sqlite" python3 -m gunicorn --chdir Benchmarks -w 2 -b "127.0.0.1:$peer_port" \
    --log-level warning api_peer:app >"$work/peer.log" 2>&1 &
peer=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$peer_port/api/candlestick/BTCUSDT?limit=1" >/dev/null && break; sleep 0.1; done
peer_base="http://127.0.0.1:$peer_port"

# Each request ends at another minute of the 3 days (a stride prime to their count, so the minutes do not repeat within
# a run); the two threads start apart.
cat >"$work/varied.lua" <<LUA
local counter = 0
local threads = 0
function setup(thread)
    thread:set("offset", threads * 2161)
    threads = threads + 1
end
request = function()
    counter = counter + 1
    local minute = (offset + counter * 7919) % $minutes
    return wrk.format(nil, "/api/candlestick/BTCUSDT?limit=500&end=" .. ($first + minute * 60000))
end
LUA
for url in "$base" "$peer_base"; do
    a="$(curl -sf "$url/api/candlestick/BTCUSDT?limit=500&end=$((first + 2000 * 60000))" | python3 -c 'import json, sys; c = json.load(sys.stdin)["candles"]; print(len(c), c[0]["open_time"], c[-1]["close"])')"
    echo "  $url: 500 candles ending at minute 2000 → count, first open, last close: $a"
done
echo "$(nproc) cores shared by wrk and the server; $seconds s per run"

measure() {
    wrk -t2 -c32 -d"${seconds}s" --latency "${@:2}" "$1" >"$work/wrk.txt"
    printf '%s %s\n' "$(awk '/Requests\/sec/ {print $2}' "$work/wrk.txt")" "$(awk '$1 == "99%" {print $2}' "$work/wrk.txt")"
}
wrk -t2 -c32 -d3s -s "$work/varied.lua" "$base" >/dev/null  # warm-up
for run in $(seq 1 "$runs"); do
    read -r ours ours_p99 < <(measure "$base" -s "$work/varied.lua")
    read -r same same_p99 < <(measure "$base/api/candlestick/BTCUSDT?limit=500")
    read -r flask flask_p99 < <(measure "$peer_base" -s "$work/varied.lua")
    printf 'run %d: varied end: cryptopipe %9.0f req/s (p99 %s)   Flask %7.0f req/s (p99 %s)   cryptopipe/Flask %.1f;   one URL: cryptopipe %9.0f req/s (p99 %s)\n' \
        "$run" "$ours" "$ours_p99" "$flask" "$flask_p99" "$(awk -v a="$ours" -v b="$flask" 'BEGIN { print a / b }')" "$same" "$same_p99"
done
