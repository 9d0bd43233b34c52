"""The original design's candle endpoint as a Flask app, the peer of `Benchmarks/api-uncached.sh`.

GET /api/candlestick/<symbol>?limit=500&end=<epoch ms>: the newest `limit` 1m candles opening at or before `end`,
oldest first, read from the same SQLite warehouse CryptoPipe serves (its `fact_klines`, decimals stored as text), one
query per request, the way the original VisualizeService.get_kline_data reads MySQL. Run under gunicorn with 2 workers.
"""

import os
import sqlite3

from flask import Flask, g, jsonify, request

app = Flask(__name__)
DATABASE = os.environ["API_PEER_DATABASE"]


def connection():
    if "db" not in g:
        g.db = sqlite3.connect(f"file:{DATABASE}?mode=ro", uri=True)
    return g.db


@app.teardown_appcontext
def close(_):
    db = g.pop("db", None)
    if db is not None:
        db.close()


@app.get("/api/candlestick/<symbol>")
def candlestick(symbol):
    limit = min(max(int(request.args.get("limit", 500)), 1), 1000)
    end = int(request.args.get("end", 2**62))
    rows = connection().execute(
        "SELECT open_time, open, high, low, close, volume, close_time, quote_volume, trade_count, "
        "taker_buy_base_volume, taker_buy_quote_volume, is_final FROM fact_klines "
        "WHERE symbol = ? AND interval = '1m' AND open_time <= ? ORDER BY open_time DESC LIMIT ?",
        (symbol.upper(), end, limit),
    ).fetchall()
    candles = [
        {
            "open_time": r[0], "open": r[1], "high": r[2], "low": r[3], "close": r[4], "volume": r[5],
            "close_time": r[6], "quote_volume": r[7], "trades": r[8], "taker_buy_base_volume": r[9],
            "taker_buy_quote_volume": r[10], "closed": bool(r[11]),
        }
        for r in reversed(rows)
    ]
    return jsonify({"symbol": symbol.upper(), "interval": "1m", "count": len(candles), "candles": candles})
