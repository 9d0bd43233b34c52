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
            let known = try Self.fetchGaps(db, symbol: symbol)
            let empty = known.filter { $0.status == .exchangeEmpty }.map(\.range)
            var stillMissing = Set<Int64>()
            for range in missing where !empty.contains(where: { $0.contains(range) }) {
                stillMissing.insert(range.from)
                try db.execute(
                    sql: """
                        INSERT INTO kline_gaps (symbol, from_time, to_time, status, detected_at, updated_at) VALUES (?, ?, ?, 'open', ?, ?)
                        ON CONFLICT (symbol, from_time) DO UPDATE SET to_time = excluded.to_time, status = 'open',
                            updated_at = excluded.updated_at
                        WHERE kline_gaps.status <> 'exchange-empty' AND (kline_gaps.to_time <> excluded.to_time OR kline_gaps.status <> 'open')
                        """,
                    arguments: [symbol.rawValue, range.from, range.to, time, time])
            }
            for gap in known where gap.status == .open && !stillMissing.contains(gap.range.from) {
                try db.execute(
                    sql: "UPDATE kline_gaps SET status = 'filled', updated_at = ? WHERE symbol = ? AND from_time = ?",
                    arguments: [time, symbol.rawValue, gap.range.from])
            }
        }
    }

    public func setGap(symbol: Symbol, range: MinuteRange, status: GapStatus, at time: Int64) async throws(WarehouseError) {
        try await write("record gap of \(symbol)") { db in
            try db.execute(
                sql: """
                    INSERT INTO kline_gaps (symbol, from_time, to_time, status, detected_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT (symbol, from_time) DO UPDATE SET to_time = excluded.to_time, status = excluded.status,
                        updated_at = excluded.updated_at
                    """,
                arguments: [symbol.rawValue, range.from, range.to, status.rawValue, time, time])
        }
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
