import GRDB
import GRDBSQLite
public import MarketData

/// ``ExtractionLedger``: `extraction_metadata`.
extension SQLiteWarehouse {
    public func extractionState(symbol: Symbol, type: ExtractionDataType) async throws(WarehouseError) -> ExtractionState? {
        try await read("read extraction metadata") { db in
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: "SELECT last_fetch_time, last_open_time, record_count FROM extraction_metadata WHERE symbol = ? AND data_type = ?",
                    arguments: [symbol.rawValue, type.rawValue])
            else { return nil }
            return ExtractionState(
                symbol: symbol, type: type, lastFetchTime: row[0], lastOpenTime: row[1], recordCount: row[2])
        }
    }

    public func recordExtraction(_ update: ExtractionUpdate) async throws(WarehouseError) {
        try await write("update extraction metadata") { db in
            try db.execute(
                sql: """
                    INSERT INTO extraction_metadata (symbol, data_type, last_fetch_time, last_open_time, record_count)
                    VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (symbol, data_type) DO UPDATE SET
                        last_fetch_time = max(last_fetch_time, excluded.last_fetch_time),
                        last_open_time = CASE
                            WHEN excluded.last_open_time IS NULL THEN last_open_time
                            WHEN last_open_time IS NULL THEN excluded.last_open_time
                            ELSE max(last_open_time, excluded.last_open_time) END,
                        record_count = record_count + excluded.record_count
                    """,
                arguments: [update.symbol.rawValue, update.type.rawValue, update.fetchTime, update.lastOpenTime, update.records])
        }
    }
}
