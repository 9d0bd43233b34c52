public import MarketData
public import Warehouse

/// ``GapStore``: missing minutes and the `kline_gaps` ledger, reconciled by ``GapReconciliation``.
extension MySQLWarehouse {
    public func missingMinutes(symbol: Symbol) async throws(WarehouseError) -> [MinuteRange] {
        try await run("find missing minutes of \(symbol)") { connection throws(MySQLError) in
            let parameters = MySQLParameters(symbol.rawValue)
            // Neighbouring final minutes more than a minute apart: one pass over the primary key.
            let rows = try connection.query(
                """
                SELECT open_time, next_open FROM (
                    SELECT open_time, LEAD(open_time) OVER (ORDER BY open_time) AS next_open
                    FROM fact_klines WHERE symbol = ? AND `interval` = '1m' AND is_final = 1) AS neighbours
                WHERE next_open - open_time > 60000
                """, parameters)
            var ranges: [MinuteRange] = []
            for row in rows.all {
                ranges.append(MinuteRange(from: try row.requiredInt(0) + 60_000, to: try row.requiredInt(1) - 60_000))
            }
            return ranges
        }
    }

    public func recordGaps(symbol: Symbol, missing: [MinuteRange], at time: Int64) async throws(WarehouseError) {
        try await write("record gaps of \(symbol)") { connection throws(MySQLError) in
            for change in GapReconciliation.changes(known: try Self.fetchGaps(connection, symbol: symbol), missing: missing) {
                try Self.storeGap(connection, symbol: symbol, range: change.range, status: change.status, at: time)
            }
        }
    }

    public func setGap(symbol: Symbol, range: MinuteRange, status: GapStatus, at time: Int64) async throws(WarehouseError) {
        try await write("record gap of \(symbol)") { connection throws(MySQLError) in
            try Self.storeGap(connection, symbol: symbol, range: range, status: status, at: time)
        }
    }

    /// Inserts the gap, or updates its end, status and update time (its detection time stays).
    static func storeGap(
        _ connection: MySQLConnection, symbol: Symbol, range: MinuteRange, status: GapStatus, at time: Int64
    ) throws(MySQLError) {
        let parameters = MySQLParameters(symbol.rawValue, range.from, range.to, status.rawValue, time, time)
        try connection.run(
            """
            INSERT INTO kline_gaps (symbol, from_time, to_time, status, detected_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
            ON DUPLICATE KEY UPDATE to_time = VALUES(to_time), status = VALUES(status), updated_at = VALUES(updated_at)
            """, parameters)
    }

    public func gaps(symbol: Symbol?) async throws(WarehouseError) -> [KlineGap] {
        try await run("list gaps") { connection throws(MySQLError) in try Self.fetchGaps(connection, symbol: symbol) }
    }

    static func fetchGaps(_ connection: MySQLConnection, symbol: Symbol?) throws(MySQLError) -> [KlineGap] {
        var sql = "SELECT symbol, from_time, to_time, status, detected_at, updated_at FROM kline_gaps"
        var parameters = MySQLParameters()
        if let symbol {
            sql += " WHERE symbol = ?"
            parameters.append(symbol.rawValue)
        }
        sql += " ORDER BY symbol, from_time"
        var gaps: [KlineGap] = []
        for row in try connection.query(sql, parameters).all {
            guard let symbol = try? Symbol(try row.requiredText(0)), let status = GapStatus(rawValue: try row.requiredText(3)) else {
                continue
            }
            gaps.append(
                KlineGap(
                    symbol: symbol, range: MinuteRange(from: try row.requiredInt(1), to: try row.requiredInt(2)), status: status,
                    detectedAt: try row.requiredInt(4), updatedAt: try row.requiredInt(5)))
        }
        return gaps
    }
}
