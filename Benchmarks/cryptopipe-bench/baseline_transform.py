"""Baseline for the transform benchmark: the plain-Python way, json + sqlite3.executemany,
one transaction per file, into the same fact_klines schema. Prints the elapsed seconds."""
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
  taker_buy_quote_volume TEXT NOT NULL, ignore TEXT NOT NULL, is_final INTEGER NOT NULL, captured_at INTEGER NOT NULL,
  PRIMARY KEY (symbol, interval, open_time)) WITHOUT ROWID;
CREATE TABLE processed_files (object_key TEXT PRIMARY KEY NOT NULL, bucket TEXT NOT NULL, processed_at INTEGER NOT NULL,
  rows INTEGER NOT NULL, archived INTEGER NOT NULL DEFAULT 0);
""")
sql = """INSERT INTO fact_klines VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
ON CONFLICT (symbol, interval, open_time) DO UPDATE SET open=excluded.open, high=excluded.high, low=excluded.low,
close=excluded.close, volume=excluded.volume, close_time=excluded.close_time, quote_volume=excluded.quote_volume,
trade_count=excluded.trade_count, taker_buy_base_volume=excluded.taker_buy_base_volume,
taker_buy_quote_volume=excluded.taker_buy_quote_volume, ignore=excluded.ignore, is_final=excluded.is_final,
captured_at=excluded.captured_at WHERE fact_klines.is_final = 0"""
files = sorted(os.path.join(day, name) for day in os.listdir(raw) if not day.startswith((".", "_"))
               for name in os.listdir(os.path.join(raw, day)))
start = time.perf_counter()
for key in files:
    with open(os.path.join(raw, key)) as handle:
        document = json.load(handle)
    captured = int(key.rsplit("_", 1)[1].split(".")[0])
    rows = [(document["symbol"], document["interval"], k[0], k[1], k[2], k[3], k[4], k[5], k[6], k[7], k[8], k[9], k[10],
             k[11], 1 if k[6] + 2000 < captured else 0, captured) for k in document["data"]]
    with connection:
        connection.executemany(sql, rows)
        connection.execute("INSERT OR REPLACE INTO processed_files VALUES (?, 'crypto-raw', ?, ?, 0)", (key, captured, len(rows)))
print(time.perf_counter() - start)
