import GRDB
import GRDBSQLite
public import MarketData

/// ``WarehouseOverview``: health, the data version and the figures of `status`, formed by ``WarehouseOverviewRules``.
extension SQLiteWarehouse {
    public func ping() async throws(WarehouseError) {
        try await read("ping") { db in _ = try Int.fetchOne(db, sql: "SELECT 1") }
    }

    public func dataVersion() async throws(WarehouseError) -> Int64 {
        try await read("read the data version") { db in
            try Int64.fetchOne(db, sql: "SELECT version FROM warehouse_version WHERE id = 1") ?? 0
        }
    }

    public func dataSummary() async throws(WarehouseError) -> [DataSummary] {
        try await read("summarise data") { db in
            let fetches = try Row.fetchAll(db, sql: "SELECT symbol, data_type, last_fetch_time FROM extraction_metadata").map {
                WarehouseOverviewRules.Fetch(symbol: $0[0], type: $0[1], lastFetchTime: $0[2])
            }
            let klines = try Row.fetchAll(
                db,
                sql: """
                    SELECT symbol, count(*), min(open_time), max(open_time), max(CASE WHEN is_final = 1 THEN open_time END)
                    FROM fact_klines WHERE interval = '1m' GROUP BY symbol
                    """
            ).map { WarehouseOverviewRules.Span(symbol: $0[0], rows: $0[1], first: $0[2], last: $0[3], lastFinal: $0[4]) }
            let books = try Row.fetchAll(
                db,
                sql: "SELECT symbol, count(*), min(captured_at), max(captured_at) FROM orderbook_snapshots GROUP BY symbol"
            ).map { WarehouseOverviewRules.Span(symbol: $0[0], rows: $0[1], first: $0[2], last: $0[3]) }
            return WarehouseOverviewRules.summaries(klines: klines, books: books, fetches: fetches)
        }
    }

    public func tableCounts() async throws(WarehouseError) -> [String: Int] {
        try await read("count rows") { db in
            var counts: [String: Int] = [:]
            for table in WarehouseOverviewRules.countedTables {
                counts[table] = try Int.fetchOne(db, sql: WarehouseOverviewRules.countQuery(table)) ?? 0
            }
            return counts
        }
    }
}
