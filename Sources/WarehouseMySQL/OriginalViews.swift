/// Read-only views with the original Python system's table names, column names and types, in a database of their own,
/// so SQL written against that schema (dashboards, notebooks, reports) runs unchanged against our tables
/// (`--original-views <db>`). They follow `../shared/original-design.md`'s DDL: `DATETIME` in UTC where we store epoch
/// milliseconds (whole seconds, as `DATETIME` has none finer), `DECIMAL(20,8)` prices and `DECIMAL(30,8)` volumes,
/// `open_price` where we write `open`, `interval_code` for `interval`, `hour_start`/`date` in the aggregates.
///
/// Read-only by construction: every column is computed (nothing can be inserted or updated through a view) and each
/// view joins a one-row table (nothing can be deleted through a join view). The price: filters on a view's columns
/// cannot use our indexes, so a query over a view reads the whole underlying table.
enum OriginalViews {
    /// The definitions' version: raise it when a statement below changes, and every warehouse remakes its views.
    static let version = "v1"
    /// Where the version and database of the views last made are kept.
    static let versionSetting = "original_views.made"
    static let names = ["fact_klines", "fact_orderbook", "hourly_klines", "daily_klines", "extraction_metadata", "processed_files"]

    /// An identifier in backticks, a backtick inside doubled.
    static func quoted(_ identifier: String) -> String {
        "`" + identifier.split(separator: "`", omittingEmptySubsequences: false).joined(separator: "``") + "`"
    }

    /// A `DATETIME` (UTC, whole seconds) from epoch milliseconds, independent of the session's time zone.
    static func dateTime(_ column: String) -> String {
        "TIMESTAMPADD(SECOND, \(column) DIV 1000, TIMESTAMP'1970-01-01 00:00:00')"
    }

    static func decimal(_ column: String, _ digits: Int) -> String { "CAST(\(column) AS DECIMAL(\(digits),8))" }

    /// The symbol as text, computed so the view cannot be updated through it.
    static func text(_ column: String, length: Int) -> String { "CAST(\(column) AS CHAR(\(length)))" }

    /// The aggregates' `id`: a number that stays the same for a symbol's period as long as it exists (the original
    /// table's was an `AUTO_INCREMENT`): the symbol's CRC32 times a million plus the period's number since 1970.
    static func stableID(_ periodMilliseconds: Int64) -> String {
        "CAST(CRC32(k.symbol) * 1000000 + k.open_time DIV \(periodMilliseconds) AS SIGNED)"
    }

    static let readOnlyJoin = "JOIN (SELECT 1 AS one) AS read_only"

    /// `CREATE OR REPLACE VIEW` statements for `views` over the tables of `warehouse` (both already validated names).
    static func statements(views: String, warehouse: String) -> [String] {
        let v = quoted(views)
        let w = quoted(warehouse)
        func rollup(_ name: String, period: String, periodMilliseconds: Int64) -> String {
            """
            CREATE OR REPLACE SQL SECURITY DEFINER VIEW \(v).\(name) AS SELECT
                \(stableID(periodMilliseconds)) AS id,
                \(text("k.symbol", length: 20)) AS symbol,
                \(period),
                \(decimal("k.open", 20)) AS open_price, \(decimal("k.high", 20)) AS high_price,
                \(decimal("k.low", 20)) AS low_price, \(decimal("k.close", 20)) AS close_price,
                \(decimal("k.volume", 30)) AS volume,
                CAST(k.trade_count AS SIGNED) AS trade_count,
                \(dateTime("k.close_time")) AS created_at
            FROM \(w).\(name) AS k \(readOnlyJoin)
            """
        }
        return [
            "CREATE DATABASE IF NOT EXISTS \(v) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
            """
            CREATE OR REPLACE SQL SECURITY DEFINER VIEW \(v).fact_klines AS SELECT
                \(text("k.symbol", length: 20)) AS symbol,
                \(dateTime("k.open_time")) AS open_time,
                \(text("k.`interval`", length: 10)) AS interval_code,
                \(decimal("k.open", 20)) AS open_price, \(decimal("k.high", 20)) AS high_price,
                \(decimal("k.low", 20)) AS low_price, \(decimal("k.close", 20)) AS close_price,
                \(decimal("k.volume", 30)) AS volume,
                \(dateTime("k.close_time")) AS close_time,
                \(decimal("k.quote_volume", 30)) AS quote_volume,
                CAST(k.trade_count AS SIGNED) AS trade_count,
                \(decimal("k.taker_buy_base_volume", 30)) AS taker_buy_volume,
                \(decimal("k.taker_buy_quote_volume", 30)) AS taker_buy_quote_volume,
                \(dateTime("k.captured_at")) AS created_at
            FROM \(w).fact_klines AS k \(readOnlyJoin)
            """,
            """
            CREATE OR REPLACE SQL SECURITY DEFINER VIEW \(v).fact_orderbook AS SELECT
                \(text("k.symbol", length: 20)) AS symbol,
                \(dateTime("k.captured_at")) AS captured_at,
                \(text("k.side", length: 3)) AS side,
                \(decimal("k.price", 20)) AS price,
                \(decimal("k.quantity", 30)) AS quantity,
                \(dateTime("k.captured_at")) AS created_at
            FROM \(w).fact_orderbook AS k \(readOnlyJoin)
            """,
            rollup("hourly_klines", period: "\(dateTime("k.open_time")) AS hour_start", periodMilliseconds: 3_600_000),
            rollup("daily_klines", period: "CAST(\(dateTime("k.open_time")) AS DATE) AS `date`", periodMilliseconds: 86_400_000),
            """
            CREATE OR REPLACE SQL SECURITY DEFINER VIEW \(v).extraction_metadata AS SELECT
                CAST(CRC32(k.symbol) * 2 + (k.data_type = 'depth') AS SIGNED) AS id,
                \(text("k.symbol", length: 20)) AS symbol,
                \(text("k.data_type", length: 20)) AS data_type,
                \(dateTime("k.last_fetch_time")) AS last_fetch_time,
                \(dateTime("k.last_open_time")) AS last_open_time,
                CAST(k.record_count AS SIGNED) AS record_count
            FROM \(w).extraction_metadata AS k \(readOnlyJoin)
            """,
            """
            CREATE OR REPLACE SQL SECURITY DEFINER VIEW \(v).processed_files AS SELECT
                CAST(ROW_NUMBER() OVER (ORDER BY k.processed_at, k.object_key) AS SIGNED) AS id,
                CAST(k.object_key AS CHAR(500)) AS filename,
                \(dateTime("k.processed_at")) AS processed_at
            FROM \(w).processed_files AS k \(readOnlyJoin)
            """,
        ]
    }
}
