import GRDB
public import MarketData

/// Gap detection and the `kline_gaps` ledger.
extension SQLiteWarehouse {
    public func missingMinutes(symbol: Symbol) async throws(WarehouseError) -> [MinuteRange] {
        try await read("find missing minutes of \(symbol)") { db in
            // Neighbouring final minutes more than a minute apart: one pass over the primary key.
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT open_time, next FROM (
                        SELECT open_time, LEAD(open_time) OVER (ORDER BY open_time) AS next
                        FROM fact_klines WHERE symbol = ? AND interval = '1m' AND is_final = 1)
                    WHERE next - open_time > 60000
                    """,
                arguments: [symbol.rawValue])
            return rows.map { MinuteRange(from: ($0[0] as Int64) + 60_000, to: ($0[1] as Int64) - 60_000) }
        }
    }

    public func recordGaps(symbol: Symbol, missing: [MinuteRange], at time: Int64) async throws(WarehouseError) {
        try await write("record gaps of \(symbol)") { db in
            for change in GapReconciliation.changes(known: try Self.fetchGaps(db, symbol: symbol), missing: missing) {
                try Self.storeGap(db, symbol: symbol, range: change.range, status: change.status, at: time)
            }
        }
    }

    public func setGap(symbol: Symbol, range: MinuteRange, status: GapStatus, at time: Int64) async throws(WarehouseError) {
        try await write("record gap of \(symbol)") { db in try Self.storeGap(db, symbol: symbol, range: range, status: status, at: time) }
    }

    /// Inserts the gap, or updates its end, status and update time (its detection time stays).
    static func storeGap(_ db: Database, symbol: Symbol, range: MinuteRange, status: GapStatus, at time: Int64) throws {
        try db.execute(
            sql: """
                INSERT INTO kline_gaps (symbol, from_time, to_time, status, detected_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (symbol, from_time) DO UPDATE SET to_time = excluded.to_time, status = excluded.status,
                    updated_at = excluded.updated_at
                """,
            arguments: [symbol.rawValue, range.from, range.to, status.rawValue, time, time])
    }

    public func gaps(symbol: Symbol?) async throws(WarehouseError) -> [KlineGap] {
        try await read("list gaps") { db in try Self.fetchGaps(db, symbol: symbol) }
    }

    static func fetchGaps(_ db: Database, symbol: Symbol?) throws -> [KlineGap] {
        var sql = "SELECT symbol, from_time, to_time, status, detected_at, updated_at FROM kline_gaps"
        var arguments: StatementArguments = []
        if let symbol {
            sql += " WHERE symbol = ?"
            arguments += [symbol.rawValue]
        }
        sql += " ORDER BY symbol, from_time"
        return try Row.fetchAll(db, sql: sql, arguments: arguments).compactMap { row in
            guard let symbol = try? Symbol(row[0] as String), let status = GapStatus(rawValue: row[3]) else { return nil }
            return KlineGap(
                symbol: symbol, range: MinuteRange(from: row[1], to: row[2]), status: status, detectedAt: row[4], updatedAt: row[5])
        }
    }
}
