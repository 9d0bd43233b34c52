import GRDB

/// Versioned migrations of the SQLite schema. Decimals are stored as canonical text with eight
/// fractional digits (exact, and identical to Binance's own formatting); times are UTC epoch ms.
enum SQLiteSchema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-skeleton") { db in
            try db.execute(
                sql: """
                    CREATE TABLE fact_klines (
                        symbol TEXT NOT NULL,
                        interval TEXT NOT NULL,
                        open_time INTEGER NOT NULL,
                        open TEXT NOT NULL,
                        high TEXT NOT NULL,
                        low TEXT NOT NULL,
                        close TEXT NOT NULL,
                        volume TEXT NOT NULL,
                        close_time INTEGER NOT NULL,
                        quote_volume TEXT NOT NULL,
                        trade_count INTEGER NOT NULL,
                        taker_buy_base_volume TEXT NOT NULL,
                        taker_buy_quote_volume TEXT NOT NULL,
                        ignore TEXT NOT NULL,
                        is_final INTEGER NOT NULL,
                        captured_at INTEGER NOT NULL,
                        PRIMARY KEY (symbol, interval, open_time)
                    ) WITHOUT ROWID;

                    CREATE TABLE fact_orderbook (
                        symbol TEXT NOT NULL,
                        captured_at INTEGER NOT NULL,
                        side TEXT NOT NULL CHECK (side IN ('bid', 'ask')),
                        price TEXT NOT NULL,
                        quantity TEXT NOT NULL,
                        level INTEGER NOT NULL,
                        last_update_id INTEGER NOT NULL,
                        PRIMARY KEY (symbol, captured_at, side, price)
                    ) WITHOUT ROWID;

                    CREATE TABLE extraction_metadata (
                        symbol TEXT NOT NULL,
                        data_type TEXT NOT NULL,
                        last_fetch_time INTEGER NOT NULL,
                        last_open_time INTEGER,
                        record_count INTEGER NOT NULL DEFAULT 0,
                        PRIMARY KEY (symbol, data_type)
                    );

                    CREATE TABLE processed_files (
                        object_key TEXT PRIMARY KEY NOT NULL,
                        bucket TEXT NOT NULL,
                        processed_at INTEGER NOT NULL,
                        rows INTEGER NOT NULL,
                        archived INTEGER NOT NULL DEFAULT 0
                    );

                    CREATE TABLE rejected_files (
                        object_key TEXT PRIMARY KEY NOT NULL,
                        moved_to TEXT NOT NULL,
                        rejected_at INTEGER NOT NULL,
                        reason TEXT NOT NULL
                    );
                    """)
        }
        migrator.registerMigration("v2-rollups") { db in
            for table in ["hourly_klines", "daily_klines"] {
                try db.execute(
                    sql: """
                        CREATE TABLE \(table) (
                            symbol TEXT NOT NULL,
                            open_time INTEGER NOT NULL,
                            open TEXT NOT NULL,
                            high TEXT NOT NULL,
                            low TEXT NOT NULL,
                            close TEXT NOT NULL,
                            volume TEXT NOT NULL,
                            close_time INTEGER NOT NULL,
                            quote_volume TEXT NOT NULL,
                            trade_count INTEGER NOT NULL,
                            taker_buy_base_volume TEXT NOT NULL,
                            taker_buy_quote_volume TEXT NOT NULL,
                            minute_count INTEGER NOT NULL,
                            is_final INTEGER NOT NULL,
                            PRIMARY KEY (symbol, open_time)
                        ) WITHOUT ROWID
                        """)
            }
            // Hours and days whose inputs changed since they were last computed.
            try db.execute(
                sql: """
                    CREATE TABLE rollup_pending (
                        symbol TEXT NOT NULL,
                        period TEXT NOT NULL CHECK (period IN ('1h', '1d')),
                        open_time INTEGER NOT NULL,
                        PRIMARY KEY (symbol, period, open_time)
                    ) WITHOUT ROWID
                    """)
        }
        migrator.registerMigration("v3-gaps") { db in
            // Missing minutes between a symbol's first and last stored candle, and what became of them.
            try db.execute(
                sql: """
                    CREATE TABLE kline_gaps (
                        symbol TEXT NOT NULL,
                        from_time INTEGER NOT NULL,
                        to_time INTEGER NOT NULL,
                        status TEXT NOT NULL CHECK (status IN ('open', 'filled', 'exchange-empty')),
                        detected_at INTEGER NOT NULL,
                        updated_at INTEGER NOT NULL,
                        PRIMARY KEY (symbol, from_time)
                    ) WITHOUT ROWID
                    """)
        }
        migrator.registerMigration("v4-operations") { db in
            try db.execute(
                sql: """
                    -- Rows of a processed file that were already stored: the "duplicates skipped" figure.
                    ALTER TABLE processed_files ADD COLUMN rows_unchanged INTEGER NOT NULL DEFAULT 0;

                    -- The ingestion log: one row per scheduled or manual job run.
                    CREATE TABLE job_runs (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        job TEXT NOT NULL,
                        trigger TEXT NOT NULL,
                        started_at INTEGER NOT NULL,
                        finished_at INTEGER,
                        status TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'partial', 'failed')),
                        files INTEGER NOT NULL DEFAULT 0,
                        rows INTEGER NOT NULL DEFAULT 0,
                        error TEXT
                    );
                    CREATE INDEX job_runs_by_job ON job_runs (job, id);
                    CREATE INDEX job_runs_by_status ON job_runs (status, id);

                    CREATE TABLE job_schedules (
                        job TEXT PRIMARY KEY NOT NULL,
                        enabled INTEGER NOT NULL,
                        interval_seconds INTEGER,
                        weekday INTEGER CHECK (weekday BETWEEN 0 AND 6),
                        minute_of_day INTEGER CHECK (minute_of_day BETWEEN 0 AND 1439),
                        updated_at INTEGER NOT NULL,
                        CHECK ((interval_seconds IS NULL) <> (weekday IS NULL AND minute_of_day IS NULL))
                    );

                    CREATE TABLE settings (
                        key TEXT PRIMARY KEY NOT NULL,
                        value TEXT NOT NULL,
                        updated_at INTEGER NOT NULL
                    );
                    """)
        }
        migrator.registerMigration("v5-sessions") { db in
            // Sign-in sessions of the pages (``SessionStore``): the id's hash, never the id.
            try db.execute(
                sql: """
                    CREATE TABLE web_sessions (
                        id_hash TEXT PRIMARY KEY NOT NULL,
                        form_token TEXT NOT NULL,
                        created_at INTEGER NOT NULL,
                        last_seen_at INTEGER NOT NULL
                    );
                    """)
        }
        migrator.registerMigration("v6-compact-books") { db in
            // One row per snapshot (``CompactOrderBook``); the old per-level table is kept as `fact_orderbook_v1` until
            // ``SQLiteWarehouse/convertLegacyOrderBooks()`` has moved its snapshots, a batch per transaction.
            try db.execute(
                sql: """
                    ALTER TABLE fact_orderbook RENAME TO fact_orderbook_v1;

                    CREATE TABLE orderbook_snapshots (
                        symbol TEXT NOT NULL,
                        captured_at INTEGER NOT NULL,
                        last_update_id INTEGER NOT NULL,
                        price_tick INTEGER NOT NULL,
                        quantity_lot INTEGER NOT NULL,
                        levels INTEGER NOT NULL,
                        bids TEXT NOT NULL,
                        asks TEXT NOT NULL,
                        PRIMARY KEY (symbol, captured_at)
                    );

                    \(factOrderBookView)
                    """)
        }
        migrator.registerMigration("v7-workers") { db in
            // Several `run` processes on one warehouse (``LeaseStore``): their heartbeats, the leases that split the
            // symbols and the singleton jobs among them, and which worker ran each job.
            try db.execute(
                sql: """
                    CREATE TABLE cluster_workers (
                        worker_id TEXT PRIMARY KEY NOT NULL,
                        host TEXT NOT NULL,
                        process_id INTEGER NOT NULL,
                        started_at INTEGER NOT NULL,
                        heartbeat_at INTEGER NOT NULL,
                        lease_ms INTEGER NOT NULL
                    );
                    CREATE TABLE leases (
                        name TEXT PRIMARY KEY NOT NULL,
                        holder TEXT NOT NULL,
                        acquired_at INTEGER NOT NULL,
                        expires_at INTEGER NOT NULL
                    );
                    ALTER TABLE job_runs ADD COLUMN worker TEXT NOT NULL DEFAULT '';
                    """)
        }
        migrator.registerMigration("v8-data-version") { db in
            // The data version (``SQLiteWarehouse/dataVersion()``): a count every data-changing write transaction
            // raises, so that bookkeeping writes (leases, heartbeats, sessions), which do not, leave the API's caches
            // alone.
            try db.execute(
                sql: """
                    CREATE TABLE warehouse_version (
                        id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
                        version INTEGER NOT NULL
                    );
                    INSERT INTO warehouse_version (id, version) VALUES (1, 0);
                    """)
        }
        return migrator
    }

    /// `fact_orderbook` as it was, a row per level with canonical decimal text, unfolded from `orderbook_snapshots`:
    /// a level's price is the running sum of its steps times the tick (bids step down from the first level); a snapshot
    /// in the plain form (`price_tick` 0) holds its decimals as text. Filters on `symbol` and `captured_at` reach the
    /// table's key, as both are the windows' partition. `json_extract` rather than `->>`, which needs SQLite 3.38.
    static let factOrderBookView = """
        CREATE VIEW fact_orderbook (symbol, captured_at, side, price, quantity, level, last_update_id) AS
        SELECT symbol, captured_at, side,
            CASE WHEN tick = 0 THEN a ELSE printf('%d.%08d', tick * steps / 100000000, tick * steps % 100000000) END,
            CASE WHEN tick = 0 THEN b ELSE printf('%d.%08d', lot * b / 100000000, lot * b % 100000000) END,
            level, last_update_id
        FROM (
            SELECT s.symbol, s.captured_at, 'bid' AS side, s.price_tick AS tick, s.quantity_lot AS lot, s.last_update_id,
                j.key AS level, json_extract(j.value, '$[0]') AS a, json_extract(j.value, '$[1]') AS b,
                2 * first_value(json_extract(j.value, '$[0]')) OVER w - sum(json_extract(j.value, '$[0]')) OVER w AS steps
            FROM orderbook_snapshots AS s, json_each(s.bids) AS j
            WINDOW w AS (PARTITION BY s.symbol, s.captured_at ORDER BY j.key)
        )
        UNION ALL
        SELECT symbol, captured_at, side,
            CASE WHEN tick = 0 THEN a ELSE printf('%d.%08d', tick * steps / 100000000, tick * steps % 100000000) END,
            CASE WHEN tick = 0 THEN b ELSE printf('%d.%08d', lot * b / 100000000, lot * b % 100000000) END,
            level, last_update_id
        FROM (
            SELECT s.symbol, s.captured_at, 'ask' AS side, s.price_tick AS tick, s.quantity_lot AS lot, s.last_update_id,
                j.key AS level, json_extract(j.value, '$[0]') AS a, json_extract(j.value, '$[1]') AS b,
                sum(json_extract(j.value, '$[0]')) OVER w AS steps
            FROM orderbook_snapshots AS s, json_each(s.asks) AS j
            WINDOW w AS (PARTITION BY s.symbol, s.captured_at ORDER BY j.key)
        )
        """
}
