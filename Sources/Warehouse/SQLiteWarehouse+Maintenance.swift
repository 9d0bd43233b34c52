import GRDB
public import MarketData

/// Retention and housekeeping.
extension SQLiteWarehouse {
    public func deleteMinuteData(before cutoff: Int64) async throws(WarehouseError) -> RetentionReport {
        // Hours still pending must be computed while their minutes exist.
        _ = try await rollUpPending()
        return try await write("delete minute data before \(UTCTime.iso8601(cutoff))") { db in
            try db.execute(sql: "DELETE FROM fact_klines WHERE interval = '1m' AND open_time < ?", arguments: [cutoff])
            let klineRows = db.changesCount
            // Whole snapshots go; the figure counts their levels, as it did when a level was a row.
            let orderBookRows =
                try Int.fetchOne(
                    db, sql: "SELECT coalesce(sum(levels), 0) FROM orderbook_snapshots WHERE captured_at < ?", arguments: [cutoff]) ?? 0
            try db.execute(sql: "DELETE FROM orderbook_snapshots WHERE captured_at < ?", arguments: [cutoff])
            // Marks for hours before the cutoff can no longer be served from minutes; the hours themselves stay.
            try db.execute(sql: "DELETE FROM rollup_pending WHERE period = '1h' AND open_time < ?", arguments: [cutoff])
            return RetentionReport(klineRows: klineRows, orderBookRows: orderBookRows)
        }
    }

    public func optimize() async throws(WarehouseError) {
        do {
            try await pool.write { db in
                try db.execute(sql: "ANALYZE")
                try db.execute(sql: "PRAGMA optimize")
            }
            // Outside a transaction: return the WAL's space to the file system after a large delete.
            try await pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
        } catch {
            throw Self.failure("optimize \(path)", error)
        }
    }
}
