import GRDB
import GRDBSQLite
public import MarketData

/// Hourly candles from final minutes, daily candles from hourly ones, recomputed only where inputs changed: the
/// shared ``RollupAlgorithm`` over SQLite statements.
extension SQLiteWarehouse {
    public func rollUpPending() async throws(WarehouseError) -> RollupReport {
        let lookup = CompleteHourLookup(completeHours)
        let report = try await write("roll up hours and days") { db in
            try RollupAlgorithm.rollUpPending(SQLiteCandleStore(db: db, completeHours: lookup))
        }
        lookup.forgetUsed()
        return report
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
}

/// The storage steps of ``CandleLoading`` and ``RollupAlgorithm`` on one SQLite write transaction.
final class SQLiteCandleStore: CandleLoadStore {
    let db: Database
    let completeHours: CompleteHourLookup

    init(db: Database, completeHours: CompleteHourLookup = CompleteHourLookup(nil)) {
        self.db = db
        self.completeHours = completeHours
    }

    func knownCompleteHours(symbol: Symbol, openTimes: [Int64]) -> [Int64: KlineBatch.HourRollup] {
        completeHours.hours(symbol: symbol, openTimes: openTimes)
    }

    var remembersCompleteHours: Bool { true }

    func storedCandles(symbol: Symbol, interval: Interval, openTimes: [Int64]) throws -> [Int64: StoredCandleState] {
        guard let first = openTimes.first, let last = openTimes.last else { return [:] }
        var states: [Int64: StoredCandleState] = [:]
        if CandleLoading.isDense(openTimes) {
            let rows = try Row.fetchCursor(
                db.cachedStatement(
                    sql:
                        "SELECT open_time, is_final, captured_at FROM fact_klines WHERE symbol = ? AND interval = ? AND open_time BETWEEN ? AND ?"
                ),
                arguments: [symbol.rawValue, interval.rawValue, first, last])
            while let row = try rows.next() { states[row[0]] = StoredCandleState(isFinal: row[1], capturedAt: row[2]) }
        } else {
            let statement = try db.cachedStatement(
                sql: "SELECT is_final, captured_at FROM fact_klines WHERE symbol = ? AND interval = ? AND open_time = ?")
            for openTime in openTimes {
                if let row = try Row.fetchOne(statement, arguments: [symbol.rawValue, interval.rawValue, openTime]) {
                    states[openTime] = StoredCandleState(isFinal: row[0], capturedAt: row[1])
                }
            }
        }
        return states
    }

    func insertIntoEmptyRange(_ batch: KlineBatch, symbol: Symbol, capturedAt: Int64) throws {
        try SQLiteWarehouse.insertBatch(db, batch, symbol: symbol, capturedAt: capturedAt)
    }

    func write(_ klines: [Kline], symbol: Symbol, interval: Interval, capturedAt: Int64) throws {
        try SQLiteWarehouse.writeKlines(db, klines, symbol: symbol, interval: interval, capturedAt: capturedAt)
    }

    func recordProcessed(_ object: ProcessedObject, rows: Int, unchanged: Int) throws {
        try SQLiteWarehouse.recordProcessed(db, object, rows: rows, unchanged: unchanged)
    }

    func pending(period: RollupPeriod) throws -> [(symbol: String, openTime: Int64)] {
        try Row.fetchAll(
            db, sql: "SELECT symbol, open_time FROM rollup_pending WHERE period = ? ORDER BY symbol, open_time",
            arguments: [period.rawValue]
        ).map { ($0[0], $0[1]) }
    }

    func clearPending(period: RollupPeriod) throws {
        try db.execute(sql: "DELETE FROM rollup_pending WHERE period = ?", arguments: [period.rawValue])
    }

    func markPending(symbol: Symbol, period: RollupPeriod, openTimes: Set<Int64>) throws {
        guard !openTimes.isEmpty else { return }
        let statement = try db.cachedStatement(sql: "INSERT OR IGNORE INTO rollup_pending (symbol, period, open_time) VALUES (?, ?, ?)")
        for openTime in openTimes.sorted() { try statement.execute(arguments: [symbol.rawValue, period.rawValue, openTime]) }
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
        try store(table, symbol: symbol, rows: [(candle, minuteCount, isFinal)])
    }

    /// Hourly candles after one range read of the stored hours they would replace (stored final hours built from
    /// more minutes stay, as ``RollupAlgorithm/keepsStoredHour(_:replacementMinutes:)`` rules).
    func storeHours(_ hours: [(candle: Kline, minuteCount: Int64, isFinal: Bool)], symbol: Symbol) throws {
        guard let first = hours.map(\.candle.openTime).min(), let last = hours.map(\.candle.openTime).max() else { return }
        var stored: [Int64: (minuteCount: Int64, isFinal: Bool)] = [:]
        let rows = try Row.fetchCursor(
            db.cachedStatement(
                sql: "SELECT open_time, minute_count, is_final FROM hourly_klines WHERE symbol = ? AND open_time BETWEEN ? AND ?"),
            arguments: [symbol.rawValue, first, last])
        while let row = try rows.next() { stored[row[0]] = (row[1], (row[2] as Int64) == 1) }
        try store(
            .hourly, symbol: symbol,
            rows: hours.filter { !RollupAlgorithm.keepsStoredHour(stored[$0.candle.openTime], replacementMinutes: $0.minuteCount) })
    }

    /// Binds each candle's decimals through a ``CanonicalDecimalBinder``: an import stores an hourly row for every 60
    /// candles it loads.
    func store(_ table: RollupTable, symbol: Symbol, rows: [(candle: Kline, minuteCount: Int64, isFinal: Bool)]) throws {
        guard !rows.isEmpty else { return }
        let statement = try db.cachedStatement(
            sql: """
                INSERT OR REPLACE INTO \(table.rawValue) (symbol, \(StoredKlineQuery.valueColumns), minute_count, is_final)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
        let handle = statement.sqliteStatement
        defer {
            sqlite3_reset(handle)
            sqlite3_clear_bindings(handle)
        }
        let decimals = CanonicalDecimalBinder(handle, slots: 8)
        let decimalParameters: [Int32] = [3, 4, 5, 6, 7, 9, 11, 12]
        try symbol.rawValue.withCString { symbolText in
            sqlite3_bind_text(handle, 1, symbolText, -1, nil)
            for (candle, minuteCount, isFinal) in rows {
                sqlite3_bind_int64(handle, 2, candle.openTime)
                decimals.bindDecimals(of: candle, to: decimalParameters)
                sqlite3_bind_int64(handle, 8, candle.closeTime)
                sqlite3_bind_int64(handle, 10, candle.tradeCount)
                sqlite3_bind_int64(handle, 13, minuteCount)
                sqlite3_bind_int(handle, 14, isFinal ? 1 : 0)
                try SQLiteWarehouse.stepToCompletion(handle, db)
            }
        }
    }

    func deleteOpen(_ table: RollupTable, symbol: Symbol, openTime: Int64) throws {
        try db.execute(
            sql: "DELETE FROM \(table.rawValue) WHERE symbol = ? AND open_time = ? AND is_final = 0",
            arguments: [symbol.rawValue, openTime])
    }
}
