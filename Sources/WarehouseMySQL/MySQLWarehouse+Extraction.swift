public import MarketData
public import Warehouse

/// ``ExtractionLedger``: `extraction_metadata`.
extension MySQLWarehouse {
    public func extractionState(symbol: Symbol, type: ExtractionDataType) async throws(WarehouseError) -> ExtractionState? {
        try await run("read extraction metadata") { connection throws(MySQLError) in
            let parameters = MySQLParameters(symbol.rawValue, type.rawValue)
            guard
                let row = try connection.query(
                    "SELECT last_fetch_time, last_open_time, record_count FROM extraction_metadata WHERE symbol = ? AND data_type = ?",
                    parameters
                ).first
            else { return nil }
            return ExtractionState(
                symbol: symbol, type: type, lastFetchTime: try row.requiredInt(0), lastOpenTime: row.int64(1),
                recordCount: try row.requiredInt(2))
        }
    }

    public func recordExtraction(_ update: ExtractionUpdate) async throws(WarehouseError) {
        try await write("update extraction metadata") { connection throws(MySQLError) in
            let parameters = MySQLParameters(
                update.symbol.rawValue, update.type.rawValue, update.fetchTime, update.lastOpenTime, update.records)
            try connection.run(
                """
                INSERT INTO extraction_metadata (symbol, data_type, last_fetch_time, last_open_time, record_count)
                VALUES (?, ?, ?, ?, ?)
                ON DUPLICATE KEY UPDATE
                    last_fetch_time = GREATEST(last_fetch_time, VALUES(last_fetch_time)),
                    last_open_time = CASE
                        WHEN VALUES(last_open_time) IS NULL THEN last_open_time
                        WHEN last_open_time IS NULL THEN VALUES(last_open_time)
                        ELSE GREATEST(last_open_time, VALUES(last_open_time)) END,
                    record_count = record_count + VALUES(record_count)
                """, parameters)
        }
    }
}
