import GRDB
public import MarketData

/// Hourly candles from final minutes, daily candles from hourly ones, recomputed only where inputs changed: the
/// shared ``RollupAlgorithm`` over SQLite statements.
extension SQLiteWarehouse {
    public func rollUpPending() async throws(WarehouseError) -> RollupReport {
        try await write("roll up hours and days") { db in try RollupAlgorithm.rollUpPending(SQLiteRollupStore(db: db)) }
    }

    public func markAllForRollup(symbol: Symbol?) async throws(WarehouseError) {
        try await write("mark hours for roll-up") { db in
            var sql = """
                INSERT OR IGNORE INTO rollup_pending (symbol, period, open_time)
                SELECT DISTINCT symbol, '1h', open_time - open_time % 3600000 FROM fact_klines WHERE interval = '1m' AND is_final = 1
                """
            var arguments: StatementArguments = []
            if let symbol {
                sql += " AND symbol = ?"
                arguments += [symbol.rawValue]
            }
            try db.execute(sql: sql, arguments: arguments)
        }
    }

    static func markPending(_ db: Database, symbol: Symbol, period: String, openTimes: Set<Int64>) throws {
        try SQLiteRollupStore(db: db).markPending(symbol: symbol, period: period, openTimes: openTimes)
    }
}

/// The roll-up algorithm's statements on one SQLite write transaction.
struct SQLiteRollupStore: RollupStore {
    let db: Database

    func pending(period: String) throws -> [(symbol: String, openTime: Int64)] {
        try Row.fetchAll(
            db, sql: "SELECT symbol, open_time FROM rollup_pending WHERE period = ? ORDER BY symbol, open_time", arguments: [period]
        ).map { ($0[0], $0[1]) }
    }

    func clearPending(period: String) throws {
        try db.execute(sql: "DELETE FROM rollup_pending WHERE period = ?", arguments: [period])
    }

    func markPending(symbol: Symbol, period: String, openTimes: Set<Int64>) throws {
        guard !openTimes.isEmpty else { return }
        let statement = try db.cachedStatement(sql: "INSERT OR IGNORE INTO rollup_pending (symbol, period, open_time) VALUES (?, ?, ?)")
        for openTime in openTimes.sorted() { try statement.execute(arguments: [symbol.rawValue, period, openTime]) }
    }

    func newestFinalMinute(_ symbol: String) throws -> Int64 {
        try Int64.fetchOne(
            db, sql: "SELECT max(open_time) FROM fact_klines WHERE symbol = ? AND interval = '1m' AND is_final = 1", arguments: [symbol])
            ?? .min
    }

    func parts(symbol: Symbol, interval: Interval, from: Int64, to: Int64) throws -> [Kline] {
        try SQLiteWarehouse.fetchKlines(
            db, symbol: symbol, interval: interval, from: from, to: to, finalOnly: interval == .oneMinute, limit: nil
        ).map(\.kline)
    }

    func minuteCount(symbol: Symbol, from: Int64, to: Int64) throws -> Int64 {
        try Int64.fetchOne(
            db, sql: "SELECT sum(minute_count) FROM hourly_klines WHERE symbol = ? AND open_time BETWEEN ? AND ?",
            arguments: [symbol.rawValue, from, to]) ?? 0
    }

    func storedHour(symbol: Symbol, openTime: Int64) throws -> (minuteCount: Int64, isFinal: Bool)? {
        try Row.fetchOne(
            db, sql: "SELECT minute_count, is_final FROM hourly_klines WHERE symbol = ? AND open_time = ?",
            arguments: [symbol.rawValue, openTime]
        ).map { ($0[0], ($0[1] as Int64) == 1) }
    }

    func store(_ table: RollupTable, symbol: Symbol, candle: Kline, minuteCount: Int64, isFinal: Bool) throws {
        try db.cachedStatement(
            sql: """
                INSERT OR REPLACE INTO \(table.rawValue) (symbol, \(SQLiteWarehouse.valueColumns), minute_count, is_final)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(
            arguments: [
                symbol.rawValue, candle.openTime, candle.open.description, candle.high.description, candle.low.description,
                candle.close.description, candle.volume.description, candle.closeTime, candle.quoteVolume.description, candle.tradeCount,
                candle.takerBuyBaseVolume.description, candle.takerBuyQuoteVolume.description, minuteCount, isFinal ? 1 : 0,
            ])
    }

    func deleteOpen(_ table: RollupTable, symbol: Symbol, openTime: Int64) throws {
        try db.execute(
            sql: "DELETE FROM \(table.rawValue) WHERE symbol = ? AND open_time = ? AND is_final = 0",
            arguments: [symbol.rawValue, openTime])
    }
}
