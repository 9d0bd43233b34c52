public import MarketData
public import Warehouse

/// ``WarehouseOverview``: health, the data version and the figures of `status`, formed by ``WarehouseOverviewRules``.
extension MySQLWarehouse {
    public func ping() async throws(WarehouseError) {
        try await run("ping") { connection throws(MySQLError) in _ = try connection.query("SELECT 1") }
    }

    public func dataVersion() async throws(WarehouseError) -> Int64 {
        try await run("read the data version") { connection throws(MySQLError) in
            try connection.query("SELECT CAST(COALESCE(SUM(version), 0) AS SIGNED) FROM warehouse_version").first?.int64(0) ?? 0
        }
    }

    public func dataSummary() async throws(WarehouseError) -> [DataSummary] {
        try await run("summarise data") { connection throws(MySQLError) in
            var fetches: [WarehouseOverviewRules.Fetch] = []
            for row in try connection.query("SELECT symbol, data_type, last_fetch_time FROM extraction_metadata").all {
                fetches.append(.init(symbol: try row.requiredText(0), type: try row.requiredText(1), lastFetchTime: row.int64(2)))
            }
            var klines: [WarehouseOverviewRules.Span] = []
            for row in try connection.query(
                """
                SELECT symbol, count(*), min(open_time), max(open_time), max(CASE WHEN is_final = 1 THEN open_time END)
                FROM fact_klines WHERE `interval` = '1m' GROUP BY symbol
                """
            ).all {
                klines.append(
                    .init(
                        symbol: try row.requiredText(0), rows: Int(try row.requiredInt(1)), first: row.int64(2), last: row.int64(3),
                        lastFinal: row.int64(4)))
            }
            var books: [WarehouseOverviewRules.Span] = []
            for row in try connection.query(
                "SELECT symbol, count(*), min(captured_at), max(captured_at) FROM orderbook_snapshots GROUP BY symbol"
            ).all {
                books.append(
                    .init(symbol: try row.requiredText(0), rows: Int(try row.requiredInt(1)), first: row.int64(2), last: row.int64(3)))
            }
            return WarehouseOverviewRules.summaries(klines: klines, books: books, fetches: fetches)
        }
    }

    public func tableCounts() async throws(WarehouseError) -> [String: Int] {
        try await run("count rows") { connection throws(MySQLError) in
            var counts: [String: Int] = [:]
            for table in WarehouseOverviewRules.countedTables {
                counts[table] = Int(try connection.query(WarehouseOverviewRules.countQuery(table)).first?.int64(0) ?? 0)
            }
            return counts
        }
    }
}
