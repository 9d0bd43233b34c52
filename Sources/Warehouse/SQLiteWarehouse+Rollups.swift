import GRDB
public import MarketData

/// Hourly candles from final minutes, daily candles from hourly ones, recomputed only where inputs changed.
extension SQLiteWarehouse {
    public func rollUpPending() async throws(WarehouseError) -> RollupReport {
        try await write("roll up hours and days") { db in
            var report = RollupReport()
            let hours = try Row.fetchAll(
                db, sql: "SELECT symbol, open_time FROM rollup_pending WHERE period = '1h' ORDER BY symbol, open_time")
            var newestFinalMinute: [String: Int64] = [:]
            var touchedDays: [String: Set<Int64>] = [:]
            for row in hours {
                let symbolText: String = row[0]
                let hour: Int64 = row[1]
                guard let symbol = try? Symbol(symbolText) else { continue }
                if newestFinalMinute[symbolText] == nil {
                    newestFinalMinute[symbolText] =
                        try Int64.fetchOne(
                            db, sql: "SELECT max(open_time) FROM fact_klines WHERE symbol = ? AND interval = '1m' AND is_final = 1",
                            arguments: [symbolText]) ?? .min
                }
                let minutes = try Self.fetchKlines(
                    db, symbol: symbol, interval: .oneMinute, from: hour, to: hour + 3_599_999, finalOnly: true, limit: nil
                ).map(\.kline)
                // An hour is final once its last minute is: later minutes can no longer change it.
                let isFinal = (newestFinalMinute[symbolText] ?? .min) >= hour + 3_540_000
                try Self.storeRollup(
                    db, table: "hourly_klines", symbol: symbol, open: hour, close: hour + 3_599_999, parts: minutes,
                    minuteCounts: minutes.map { _ in 1 }, isFinal: isFinal)
                touchedDays[symbolText, default: []].insert(Interval.oneDay.openTime(containing: hour))
                report.hours += 1
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
                let hourly = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT \(Self.valueColumns), minute_count, is_final FROM hourly_klines
                        WHERE symbol = ? AND open_time BETWEEN ? AND ? ORDER BY open_time
                        """,
                    arguments: [symbolText, day, day + 86_399_999])
                let parts = try hourly.map { try Self.kline(from: $0) }
                // A day is final once its last minute is.
                let dayIsFinal = (newestFinalMinute[symbolText] ?? .min) >= day + 86_340_000
                try Self.storeRollup(
                    db, table: "daily_klines", symbol: symbol, open: day, close: day + 86_399_999, parts: parts,
                    minuteCounts: hourly.map { $0[11] as Int64 }, isFinal: dayIsFinal)
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

    static let valueColumns = """
        open_time, open, high, low, close, volume, close_time, quote_volume, trade_count, taker_buy_base_volume, taker_buy_quote_volume
        """

    static func markPending(_ db: Database, symbol: Symbol, period: String, openTimes: Set<Int64>) throws {
        guard !openTimes.isEmpty else { return }
        let statement = try db.cachedStatement(sql: "INSERT OR IGNORE INTO rollup_pending (symbol, period, open_time) VALUES (?, ?, ?)")
        for openTime in openTimes.sorted() { try statement.execute(arguments: [symbol.rawValue, period, openTime]) }
    }

    /// Writes the combined candle, or removes the row when no part exists any more.
    static func storeRollup(
        _ db: Database, table: String, symbol: Symbol, open: Int64, close: Int64, parts: [Kline], minuteCounts: [Int64], isFinal: Bool
    ) throws {
        guard let candle = KlineRollup.combine(parts, openTime: open, closeTime: close) else {
            try db.execute(sql: "DELETE FROM \(table) WHERE symbol = ? AND open_time = ?", arguments: [symbol.rawValue, open])
            return
        }
        try db.execute(
            sql: """
                INSERT OR REPLACE INTO \(table) (symbol, \(valueColumns), minute_count, is_final)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                symbol.rawValue, candle.openTime, candle.open.description, candle.high.description, candle.low.description,
                candle.close.description, candle.volume.description, candle.closeTime, candle.quoteVolume.description, candle.tradeCount,
                candle.takerBuyBaseVolume.description, candle.takerBuyQuoteVolume.description, minuteCounts.reduce(0, +), isFinal ? 1 : 0,
            ])
    }

    /// Candles of one interval: 1m from `fact_klines`, 1h and 1d from the roll-up tables.
    static func fetchKlines(
        _ db: Database, symbol: Symbol, interval: Interval, from: Int64, to: Int64, finalOnly: Bool, limit: Int?
    ) throws -> [StoredKline] {
        let table: String
        var arguments: StatementArguments = [symbol.rawValue]
        var sql: String
        switch interval {
        case .oneHour: table = "hourly_klines"
        case .oneDay: table = "daily_klines"
        default: table = "fact_klines"
        }
        if table == "fact_klines" {
            sql = "SELECT \(valueColumns), ignore, is_final FROM fact_klines WHERE symbol = ? AND interval = ?"
            arguments += [interval.rawValue]
        } else {
            sql = "SELECT \(valueColumns), '0', is_final FROM \(table) WHERE symbol = ?"
        }
        sql += " AND open_time BETWEEN ? AND ?"
        arguments += [from, to]
        if finalOnly { sql += " AND is_final = 1" }
        sql += " ORDER BY open_time"
        if let limit {
            sql += " LIMIT ?"
            arguments += [limit]
        }
        return try Row.fetchAll(db, sql: sql, arguments: arguments).map { row in
            var kline = try kline(from: row)
            kline.ignore = row[11]
            return StoredKline(kline: kline, isFinal: row[12] as Int64 == 1)
        }
    }

    /// The eleven value columns at the start of `row`, in ``valueColumns`` order.
    static func kline(from row: Row) throws -> Kline {
        func decimal(_ index: Int) throws -> ExactDecimal { try ExactDecimal(parsing: row[index] as String) }
        return Kline(
            openTime: row[0], open: try decimal(1), high: try decimal(2), low: try decimal(3), close: try decimal(4),
            volume: try decimal(5),
            closeTime: row[6], quoteVolume: try decimal(7), tradeCount: row[8], takerBuyBaseVolume: try decimal(9),
            takerBuyQuoteVolume: try decimal(10), ignore: "0")
    }
}
