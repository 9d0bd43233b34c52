import GRDB
public import MarketData

/// Hourly candles from final minutes, daily candles from hourly ones, recomputed only where inputs changed.
extension SQLiteWarehouse {
    public func rollUpPending() async throws(WarehouseError) -> RollupReport {
        try await write("roll up hours and days") { db in
            var report = RollupReport()
            let pendingHours = try Row.fetchAll(
                db, sql: "SELECT symbol, open_time FROM rollup_pending WHERE period = '1h' ORDER BY symbol, open_time")
            var newestFinalMinute: [String: Int64] = [:]
            var touchedDays: [String: Set<Int64>] = [:]
            let hoursBySymbol = Dictionary(grouping: pendingHours, by: { $0[0] as String }).mapValues { $0.map { $0[1] as Int64 } }
            for (symbolText, hours) in hoursBySymbol.sorted(by: { $0.key < $1.key }) {
                guard let symbol = try? Symbol(symbolText) else { continue }
                let newest = try Self.newestFinalMinute(db, symbolText)
                newestFinalMinute[symbolText] = newest
                // Pending hours come in runs (a cycle touches the latest hour or two; a rebuild touches all):
                // one range query per run instead of one query per hour.
                for run in Self.runs(of: hours, maximumGap: 86_400_000) {
                    guard let first = run.first, let last = run.last else { continue }
                    let minutes = try Self.fetchKlines(
                        db, symbol: symbol, interval: .oneMinute, from: first, to: last + 3_599_999, finalOnly: true, limit: nil)
                    let byHour = Dictionary(grouping: minutes.map(\.kline), by: { Interval.oneHour.openTime(containing: $0.openTime) })
                    for hour in run {
                        let parts = byHour[hour] ?? []
                        // An hour is final once its last minute is: later minutes can no longer change it.
                        try Self.storeRollup(
                            db, table: "hourly_klines", symbol: symbol, open: hour, close: hour + 3_599_999, parts: parts,
                            minuteCount: Int64(parts.count), isFinal: newest >= hour + 3_540_000)
                        touchedDays[symbolText, default: []].insert(Interval.oneDay.openTime(containing: hour))
                        report.hours += 1
                    }
                }
            }
            try db.execute(sql: "DELETE FROM rollup_pending WHERE period = '1h'")
            for (symbolText, days) in touchedDays {
                guard let symbol = try? Symbol(symbolText) else { continue }
                try Self.markPending(db, symbol: symbol, period: "1d", openTimes: days)
            }
            let days = try Row.fetchAll(
                db, sql: "SELECT symbol, open_time FROM rollup_pending WHERE period = '1d' ORDER BY symbol, open_time")
            for row in days {
                let symbolText: String = row[0]
                let day: Int64 = row[1]
                guard let symbol = try? Symbol(symbolText) else { continue }
                let hours = try Self.fetchKlines(
                    db, symbol: symbol, interval: .oneHour, from: day, to: day + 86_399_999, finalOnly: false, limit: nil
                ).map(\.kline)
                let minuteCount =
                    try Int64.fetchOne(
                        db, sql: "SELECT sum(minute_count) FROM hourly_klines WHERE symbol = ? AND open_time BETWEEN ? AND ?",
                        arguments: [symbolText, day, day + 86_399_999]) ?? 0
                // A day is final once its last minute is. Imports mark days without pending hours, so the symbol's
                // newest final minute may not be known yet.
                let newest = try newestFinalMinute[symbolText] ?? Self.newestFinalMinute(db, symbolText)
                newestFinalMinute[symbolText] = newest
                let dayIsFinal = newest >= day + 86_340_000
                try Self.storeRollup(
                    db, table: "daily_klines", symbol: symbol, open: day, close: day + 86_399_999, parts: hours,
                    minuteCount: minuteCount, isFinal: dayIsFinal)
                report.days += 1
            }
            try db.execute(sql: "DELETE FROM rollup_pending WHERE period = '1d'")
            return report
        }
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

    // MARK: Helpers

    static func newestFinalMinute(_ db: Database, _ symbol: String) throws -> Int64 {
        try Int64.fetchOne(
            db, sql: "SELECT max(open_time) FROM fact_klines WHERE symbol = ? AND interval = '1m' AND is_final = 1", arguments: [symbol])
            ?? .min
    }

    /// Splits ascending times into runs whose neighbours are at most `maximumGap` apart.
    static func runs(of times: [Int64], maximumGap: Int64) -> [[Int64]] {
        var runs: [[Int64]] = []
        for time in times {
            if let last = runs.last?.last, time - last <= maximumGap {
                runs[runs.count - 1].append(time)
            } else {
                runs.append([time])
            }
        }
        return runs
    }

    static func markPending(_ db: Database, symbol: Symbol, period: String, openTimes: Set<Int64>) throws {
        guard !openTimes.isEmpty else { return }
        let statement = try db.cachedStatement(sql: "INSERT OR IGNORE INTO rollup_pending (symbol, period, open_time) VALUES (?, ?, ?)")
        for openTime in openTimes.sorted() { try statement.execute(arguments: [symbol.rawValue, period, openTime]) }
    }

    /// Writes the combined candle, or removes the row when no part exists any more.
    static func storeRollup(
        _ db: Database, table: String, symbol: Symbol, open: Int64, close: Int64, parts: [Kline], minuteCount: Int64, isFinal: Bool
    ) throws {
        let partDuration: Int64 = table == "daily_klines" ? 3_600_000 : 60_000
        guard let candle = KlineRollup.combine(parts, openTime: open, closeTime: close, partDuration: partDuration) else {
            // Only a candle still open can lose all its parts; a final one lost them to retention and stays.
            try db.execute(
                sql: "DELETE FROM \(table) WHERE symbol = ? AND open_time = ? AND is_final = 0", arguments: [symbol.rawValue, open])
            return
        }
        try storeCandle(db, table: table, symbol: symbol, candle: candle, minuteCount: minuteCount, isFinal: isFinal)
    }

    /// Stores one hourly or daily candle.
    ///
    /// A final hour never shrinks: final minutes are never overwritten, so fewer minutes than the stored hour was
    /// built from means some were deleted by retention. Recomputing it then (a late minute loaded into an old hour)
    /// would replace a true candle with a partial one, so the stored row is kept.
    static func storeCandle(_ db: Database, table: String, symbol: Symbol, candle: Kline, minuteCount: Int64, isFinal: Bool) throws {
        if table == "hourly_klines",
            let stored = try Row.fetchOne(
                db, sql: "SELECT minute_count, is_final FROM hourly_klines WHERE symbol = ? AND open_time = ?",
                arguments: [symbol.rawValue, candle.openTime]),
            (stored[1] as Int64) == 1, (stored[0] as Int64) > minuteCount
        {
            return
        }
        try db.cachedStatement(
            sql: """
                INSERT OR REPLACE INTO \(table) (symbol, \(valueColumns), minute_count, is_final)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(
            arguments: [
                symbol.rawValue, candle.openTime, candle.open.description, candle.high.description, candle.low.description,
                candle.close.description, candle.volume.description, candle.closeTime, candle.quoteVolume.description, candle.tradeCount,
                candle.takerBuyBaseVolume.description, candle.takerBuyQuoteVolume.description, minuteCount, isFinal ? 1 : 0,
            ])
    }
}
