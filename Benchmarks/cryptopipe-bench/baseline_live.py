"""Peer of the live-workload benchmark: the original design's transform in plain Python 3. For each lake object in
capture order: json.load, then in one transaction `insert or replace` of the candles into fact_klines, one row per
book level into fact_orderbook, and a processed_files row; WAL, synchronous=NORMAL, decimals as text; no roll-ups.
Prints the elapsed seconds, then the stored book levels."""
import json
import os
import sqlite3
import sys
import time

raw, database = sys.argv[1], sys.argv[2]
connection = sqlite3.connect(database)
connection.execute("PRAGMA journal_mode=WAL")
connection.execute("PRAGMA synchronous=NORMAL")
connection.executescript("""
CREATE TABLE fact_klines (symbol TEXT NOT NULL, interval TEXT NOT NULL, open_time INTEGER NOT NULL, open TEXT NOT NULL,
  high TEXT NOT NULL, low TEXT NOT NULL, close TEXT NOT NULL, volume TEXT NOT NULL, close_time INTEGER NOT NULL,
  quote_volume TEXT NOT NULL, trade_count INTEGER NOT NULL, taker_buy_base_volume TEXT NOT NULL,
  taker_buy_quote_volume TEXT NOT NULL, ignore TEXT NOT NULL, captured_at INTEGER NOT NULL,
  PRIMARY KEY (symbol, interval, open_time)) WITHOUT ROWID;
CREATE TABLE fact_orderbook (symbol TEXT NOT NULL, captured_at INTEGER NOT NULL, side TEXT NOT NULL, price TEXT NOT NULL,
  quantity TEXT NOT NULL, level INTEGER NOT NULL, last_update_id INTEGER NOT NULL,
  PRIMARY KEY (symbol, captured_at, side, price)) WITHOUT ROWID;
CREATE TABLE processed_files (object_key TEXT PRIMARY KEY NOT NULL, bucket TEXT NOT NULL, processed_at INTEGER NOT NULL,
  rows INTEGER NOT NULL);
""")
klines_sql = "INSERT OR REPLACE INTO fact_klines VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
book_sql = "INSERT OR REPLACE INTO fact_orderbook VALUES (?,?,?,?,?,?,?)"
keys = [os.path.join(day, name) for day in os.listdir(raw) if not day.startswith((".", "_"))
        for name in os.listdir(os.path.join(raw, day))]
keys.sort(key=lambda key: (int(key.rsplit("_", 1)[1].split(".")[0]), key))
start = time.perf_counter()
for key in keys:
    with open(os.path.join(raw, key)) as handle:
        document = json.load(handle)
    captured = int(key.rsplit("_", 1)[1].split(".")[0])
    symbol = document["symbol"]
    with connection:
        if document["type"] == "klines":
            rows = [(symbol, document["interval"], k[0], k[1], k[2], k[3], k[4], k[5], k[6], k[7], k[8], k[9], k[10], k[11],
                     captured) for k in document["data"]]
            connection.executemany(klines_sql, rows)
        else:
            data = document["data"]
            rows = [(symbol, captured, side, level[0], level[1], index, data["lastUpdateId"])
                    for side, levels in (("bid", data["bids"]), ("ask", data["asks"]))
                    for index, level in enumerate(levels)]
            connection.executemany(book_sql, rows)
        connection.execute("INSERT OR REPLACE INTO processed_files VALUES (?, 'crypto-raw', ?, ?)", (key, captured, len(rows)))
elapsed = time.perf_counter() - start
levels = connection.execute("SELECT count(*) FROM fact_orderbook").fetchone()[0]
connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
connection.close()
print(elapsed)
print(levels)
