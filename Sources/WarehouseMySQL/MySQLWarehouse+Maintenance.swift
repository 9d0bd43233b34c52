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
            let orderBookRows = try connection.run("DELETE FROM fact_orderbook WHERE captured_at < ?", parameters)
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
                "ANALYZE TABLE fact_klines, fact_orderbook, hourly_klines, daily_klines, processed_files, kline_gaps, job_runs")
        }
    }
}
