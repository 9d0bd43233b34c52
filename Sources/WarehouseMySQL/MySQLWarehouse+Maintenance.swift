public import MarketData
public import Warehouse

/// ``WarehouseMaintenance``: retention and housekeeping (the schema is ``MySQLSchema``'s).
extension MySQLWarehouse {
    public func deleteMinuteData(before cutoff: Int64) async throws(WarehouseError) -> RetentionReport {
        // Hours still pending must be computed while their minutes exist.
        _ = try await rollUpPending()
        return try await write("delete minute data before \(UTCTime.iso8601(cutoff))") { connection throws(MySQLError) in
            let parameters = MySQLParameters(cutoff)
            let klineRows = try connection.run("DELETE FROM fact_klines WHERE `interval` = '1m' AND open_time < ?", parameters)
            // Whole snapshots go; the figure counts their levels, as it did when a level was a row.
            let orderBookRows =
                try connection.query(
                    "SELECT COALESCE(SUM(levels), 0) FROM orderbook_snapshots WHERE captured_at < ?", parameters
                ).first?.int64(0).map { Int($0) } ?? 0
            try connection.run("DELETE FROM orderbook_snapshots WHERE captured_at < ?", parameters)
            // Marks for hours before the cutoff can no longer be served from minutes; the hours themselves stay.
            try connection.run("DELETE FROM rollup_pending WHERE `period` = '1h' AND open_time < ?", parameters)
            return RetentionReport(klineRows: klineRows, orderBookRows: orderBookRows)
        }
    }

    /// `ANALYZE TABLE` refreshes the optimizer's index statistics after large loads and deletes. (`OPTIMIZE TABLE`
    /// rebuilds whole tables and is left to the operator.)
    public func optimize() async throws(WarehouseError) {
        try await run("analyze tables of \(configuration)") { connection throws(MySQLError) in
            try connection.execute(
                "ANALYZE TABLE fact_klines, orderbook_snapshots, hourly_klines, daily_klines, processed_files, kline_gaps, job_runs")
        }
    }
}
