"""Baseline for the import benchmark: the plain-Python way, zipfile + csv + sqlite3.executemany, one transaction
per file, into the same fact_klines schema, without roll-ups. Prints the elapsed seconds."""
import csv
import io
import os
import sqlite3
import sys
import time
import zipfile

folder, database = sys.argv[1], sys.argv[2]
connection = sqlite3.connect(database)
connection.execute("PRAGMA journal_mode=WAL")
connection.execute("PRAGMA synchronous=NORMAL")
connection.executescript("""
CREATE TABLE fact_klines (symbol TEXT NOT NULL, interval TEXT NOT NULL, open_time INTEGER NOT NULL, open TEXT NOT NULL,
  high TEXT NOT NULL, low TEXT NOT NULL, close TEXT NOT NULL, volume TEXT NOT NULL, close_time INTEGER NOT NULL,
  quote_volume TEXT NOT NULL, trade_count INTEGER NOT NULL, taker_buy_base_volume TEXT NOT NULL,
  taker_buy_quote_volume TEXT NOT NULL, ignore TEXT NOT NULL, is_final INTEGER NOT NULL, captured_at INTEGER NOT NULL,
  PRIMARY KEY (symbol, interval, open_time)) WITHOUT ROWID;
""")
sql = "INSERT INTO fact_klines VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
files = sorted(name for name in os.listdir(folder) if name.endswith(".zip"))
captured = int(time.time() * 1000)
start = time.perf_counter()
for name in files:
    symbol = name.split("-", 1)[0]
    with zipfile.ZipFile(os.path.join(folder, name)) as archive:
        text = archive.read(archive.namelist()[0]).decode()
    rows = [(symbol, "1m", int(r[0]), r[1], r[2], r[3], r[4], r[5], int(r[6]), r[7], int(r[8]), r[9], r[10], r[11], 1, captured)
            for r in csv.reader(io.StringIO(text))]
    with connection:
        connection.executemany(sql, rows)
print(time.perf_counter() - start)
