public import MarketData
public import Warehouse

/// Hourly and daily candles, recomputed from what changed by the shared ``RollupAlgorithm``.
extension MySQLWarehouse {
    // MARK: Roll-ups

    public func rollUpPending() async throws(WarehouseError) -> RollupReport {
        let lookup = CompleteHourLookup(completeHours)
        let report = try await write("roll up hours and days") { connection throws(MySQLError) in
            try Self.typed("roll up hours and days") {
                try RollupAlgorithm.rollUpPending(MySQLCandleStore(connection: connection, completeHours: lookup))
            }
        }
        lookup.forgetUsed()
        return report
    }

    public func markAllForRollup(symbol: Symbol?) async throws(WarehouseError) {
        try await write("mark hours for roll-up") { connection throws(MySQLError) in
            var sql = """
                INSERT INTO rollup_pending (symbol, `period`, open_time)
                SELECT DISTINCT symbol, '1h', open_time - MOD(open_time, 3600000) FROM fact_klines
                WHERE `interval` = '1m' AND is_final = 1
                """
            var parameters = MySQLParameters()
            if let symbol {
                sql += " AND symbol = ?"
                parameters.append(symbol.rawValue)
            }
            sql += " ON DUPLICATE KEY UPDATE rollup_pending.open_time = rollup_pending.open_time"
            try connection.run(sql, parameters)
        }
    }
}

/// The storage steps of ``CandleLoading`` and ``RollupAlgorithm`` on one MySQL write transaction.
final class MySQLCandleStore: CandleLoadStore {
    let connection: MySQLConnection
    let completeHours: CompleteHourLookup

    init(connection: MySQLConnection, completeHours: CompleteHourLookup = CompleteHourLookup(nil)) {
        self.connection = connection
        self.completeHours = completeHours
    }

    func knownCompleteHours(symbol: Symbol, openTimes: [Int64]) -> [Int64: KlineBatch.HourRollup] {
        completeHours.hours(symbol: symbol, openTimes: openTimes)
    }

    var remembersCompleteHours: Bool { true }

    /// Locked until commit (`FOR UPDATE`), so a concurrent load of the same range waits and then sees these rows.
    func storedCandles(symbol: Symbol, interval: Interval, openTimes: [Int64]) throws -> [Int64: StoredCandleState] {
        guard let first = openTimes.first, let last = openTimes.last else { return [:] }
        var batches: [(sql: String, parameters: MySQLParameters)] = []
        let select = "SELECT open_time, is_final, captured_at FROM fact_klines WHERE symbol = ? AND `interval` = ? AND open_time"
        if CandleLoading.isDense(openTimes) {
            batches.append(("\(select) BETWEEN ? AND ? FOR UPDATE", MySQLParameters(symbol.rawValue, interval.rawValue, first, last)))
        } else {
            for chunk in MySQLWarehouse.statementChunks(openTimes) {
                var parameters = MySQLParameters(symbol.rawValue, interval.rawValue)
                for openTime in chunk { parameters.append(openTime) }
                let list = Array(repeating: "?", count: chunk.count).joined(separator: ", ")
                batches.append(("\(select) IN (\(list)) FOR UPDATE", parameters))
            }
        }
        var states: [Int64: StoredCandleState] = [:]
        for batch in batches {
            for row in try connection.query(batch.sql, batch.parameters).all {
                states[try row.requiredInt(0)] = StoredCandleState(isFinal: try row.requiredInt(1) == 1, capturedAt: try row.requiredInt(2))
            }
        }
        return states
    }

    func insertIntoEmptyRange(_ batch: KlineBatch, symbol: Symbol, capturedAt: Int64) throws {
        try MySQLWarehouse.insertKlines(
            connection, batch.klines, symbol: symbol, interval: .oneMinute, capturedAt: capturedAt, upsert: false)
    }

    func write(_ klines: [Kline], symbol: Symbol, interval: Interval, capturedAt: Int64) throws {
        try MySQLWarehouse.insertKlines(connection, klines, symbol: symbol, interval: interval, capturedAt: capturedAt, upsert: true)
    }

    func recordProcessed(_ object: ProcessedObject, rows: Int, unchanged: Int) throws {
        try MySQLWarehouse.recordProcessed(connection, object, rows: rows, unchanged: unchanged)
    }

    func pending(period: RollupPeriod) throws -> [(symbol: String, openTime: Int64)] {
        let parameters = MySQLParameters(period.rawValue)
        let rows = try connection.query(
            "SELECT symbol, open_time FROM rollup_pending WHERE `period` = ? ORDER BY symbol, open_time", parameters)
        var marks: [(symbol: String, openTime: Int64)] = []
        for row in rows.all {
            marks.append((try row.requiredText(0), try row.requiredInt(1)))
        }
        return marks
    }

    func clearPending(period: RollupPeriod) throws {
        let parameters = MySQLParameters(period.rawValue)
        try connection.run("DELETE FROM rollup_pending WHERE `period` = ?", parameters)
    }

    func markPending(symbol: Symbol, period: RollupPeriod, openTimes: Set<Int64>) throws(MySQLError) {
        for chunk in MySQLWarehouse.statementChunks(openTimes.sorted()) {
            var parameters = MySQLParameters(capacity: chunk.count * 3)
            for openTime in chunk {
                parameters.append(symbol.rawValue)
                parameters.append(period.rawValue)
                parameters.append(openTime)
            }
            try connection.run(
                """
                INSERT INTO rollup_pending (symbol, `period`, open_time) VALUES \(Array(repeating: "(?, ?, ?)", count: chunk.count).joined(separator: ", "))
                ON DUPLICATE KEY UPDATE open_time = open_time
                """, parameters)
        }
    }

    func newestFinalMinute(_ symbol: String) throws -> Int64 {
        let parameters = MySQLParameters(symbol)
        return try connection.query(
            "SELECT max(open_time) FROM fact_klines WHERE symbol = ? AND `interval` = '1m' AND is_final = 1", parameters
        ).first?.int64(0) ?? .min
    }

    func parts(symbol: Symbol, interval: Interval, from: Int64, to: Int64) throws -> [Kline] {
        try MySQLWarehouse.fetchKlines(
            connection, symbol: symbol, interval: interval, from: from, to: to, finalOnly: interval == .oneMinute, limit: nil
        ).map(\.kline)
    }

    func minuteCount(symbol: Symbol, from: Int64, to: Int64) throws -> Int64 {
        let parameters = MySQLParameters(symbol.rawValue, from, to)
        return try connection.query(
            "SELECT sum(minute_count) FROM hourly_klines WHERE symbol = ? AND open_time BETWEEN ? AND ?", parameters
        ).first?.int64(0) ?? 0
    }

    func storedHour(symbol: Symbol, openTime: Int64) throws -> (minuteCount: Int64, isFinal: Bool)? {
        let parameters = MySQLParameters(symbol.rawValue, openTime)
        guard
            let row = try connection.query(
                "SELECT minute_count, is_final FROM hourly_klines WHERE symbol = ? AND open_time = ?", parameters
            ).first
        else { return nil }
        return (try row.requiredInt(0), try row.requiredInt(1) == 1)
    }

    func store(_ table: RollupTable, symbol: Symbol, candle: Kline, minuteCount: Int64, isFinal: Bool) throws {
        try store(table, symbol: symbol, rows: [(candle, minuteCount, isFinal)])
    }

    /// Hourly candles in one statement, after one read of the stored hours they would replace (stored final hours
    /// built from more minutes stay, as ``RollupAlgorithm/keepsStoredHour(_:replacementMinutes:)`` rules).
    func storeHours(_ hours: [(candle: Kline, minuteCount: Int64, isFinal: Bool)], symbol: Symbol) throws(MySQLError) {
        guard let first = hours.map(\.candle.openTime).min(), let last = hours.map(\.candle.openTime).max() else { return }
        let parameters = MySQLParameters(symbol.rawValue, first, last)
        var stored: [Int64: (minuteCount: Int64, isFinal: Bool)] = [:]
        for row in try connection.query(
            "SELECT open_time, minute_count, is_final FROM hourly_klines WHERE symbol = ? AND open_time BETWEEN ? AND ?", parameters
        ).all {
            stored[try row.requiredInt(0)] = (try row.requiredInt(1), try row.requiredInt(2) == 1)
        }
        try store(
            .hourly, symbol: symbol,
            rows: hours.filter { !RollupAlgorithm.keepsStoredHour(stored[$0.candle.openTime], replacementMinutes: $0.minuteCount) })
    }

    func store(_ table: RollupTable, symbol: Symbol, rows: [(candle: Kline, minuteCount: Int64, isFinal: Bool)]) throws(MySQLError) {
        for chunk in MySQLWarehouse.statementChunks(rows) {
            var parameters = MySQLParameters(capacity: chunk.count * 14)
            for (candle, minuteCount, isFinal) in chunk {
                parameters.append(symbol.rawValue)
                parameters.append(candle.openTime)
                parameters.append(candle.open)
                parameters.append(candle.high)
                parameters.append(candle.low)
                parameters.append(candle.close)
                parameters.append(candle.volume)
                parameters.append(candle.closeTime)
                parameters.append(candle.quoteVolume)
                parameters.append(candle.tradeCount)
                parameters.append(candle.takerBuyBaseVolume)
                parameters.append(candle.takerBuyQuoteVolume)
                parameters.append(minuteCount)
                parameters.append(isFinal)
            }
            let row = "(" + Array(repeating: "?", count: 14).joined(separator: ", ") + ")"
            try connection.run(
                """
                INSERT INTO \(table.rawValue) (symbol, \(StoredKlineQuery.valueColumns), minute_count, is_final)
                VALUES \(Array(repeating: row, count: chunk.count).joined(separator: ", "))
                ON DUPLICATE KEY UPDATE open = VALUES(open), high = VALUES(high), low = VALUES(low), close = VALUES(close),
                volume = VALUES(volume), close_time = VALUES(close_time), quote_volume = VALUES(quote_volume),
                trade_count = VALUES(trade_count), taker_buy_base_volume = VALUES(taker_buy_base_volume),
                    taker_buy_quote_volume = VALUES(taker_buy_quote_volume), minute_count = VALUES(minute_count),
                    is_final = VALUES(is_final)
                """, parameters)
        }
    }

    func deleteOpen(_ table: RollupTable, symbol: Symbol, openTime: Int64) throws {
        let parameters = MySQLParameters(symbol.rawValue, openTime)
        try connection.run("DELETE FROM \(table.rawValue) WHERE symbol = ? AND open_time = ? AND is_final = 0", parameters)
    }
}
