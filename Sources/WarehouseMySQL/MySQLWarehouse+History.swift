public import MarketData
public import Warehouse

/// Roll-ups, gaps, retention and reading candles back.
extension MySQLWarehouse {
    static let valueColumns = """
        open_time, open, high, low, close, volume, close_time, quote_volume, trade_count, taker_buy_base_volume, taker_buy_quote_volume
        """

    /// Candles of one interval: 1m from `fact_klines`, 1h and 1d from the roll-up tables.
    static func fetchKlines(
        _ connection: MySQLConnection, symbol: Symbol, interval: Interval, from: Int64, to: Int64, finalOnly: Bool, limit: Int?,
        newestFirst: Bool = false
    ) throws(MySQLError) -> [StoredKline] {
        var parameters = MySQLParameters(symbol.rawValue)
        var sql: String
        switch interval {
        case .oneHour, .oneDay:
            let table = interval == .oneHour ? "hourly_klines" : "daily_klines"
            sql = "SELECT \(valueColumns), '0', is_final FROM \(table) WHERE symbol = ?"
        default:
            sql = "SELECT \(valueColumns), `ignore`, is_final FROM fact_klines WHERE symbol = ? AND `interval` = ?"
            parameters.append(interval.rawValue)
        }
        sql += " AND open_time BETWEEN ? AND ?"
        parameters.append(from)
        parameters.append(to)
        if finalOnly { sql += " AND is_final = 1" }
        sql += newestFirst ? " ORDER BY open_time DESC" : " ORDER BY open_time"
        if let limit {
            sql += " LIMIT ?"
            parameters.append(limit)
        }
        let rows = try connection.query(sql, parameters)
        var result: [StoredKline] = []
        result.reserveCapacity(rows.count)
        for index in 0..<rows.count {
            let row = rows[index]
            let kline = Kline(
                openTime: try row.requiredInt(0), open: try row.requiredDecimal(1), high: try row.requiredDecimal(2),
                low: try row.requiredDecimal(3), close: try row.requiredDecimal(4), volume: try row.requiredDecimal(5),
                closeTime: try row.requiredInt(6), quoteVolume: try row.requiredDecimal(7), tradeCount: try row.requiredInt(8),
                takerBuyBaseVolume: try row.requiredDecimal(9), takerBuyQuoteVolume: try row.requiredDecimal(10),
                ignore: row.string(11) ?? "0")
            result.append(StoredKline(kline: kline, isFinal: try row.requiredInt(12) == 1))
        }
        return result
    }

    public func klines(
        symbol: Symbol, interval: Interval, from: Int64, to: Int64, includeOpen: Bool, limit: Int?
    ) async throws(WarehouseError) -> [StoredKline] {
        try await run("read k-lines") { connection throws(MySQLError) in
            try Self.fetchKlines(connection, symbol: symbol, interval: interval, from: from, to: to, finalOnly: !includeOpen, limit: limit)
        }
    }

    public func recentKlines(
        symbol: Symbol, interval: Interval, endingAt: Int64, includeOpen: Bool, limit: Int
    ) async throws(WarehouseError) -> [StoredKline] {
        try await run("read recent k-lines") { connection throws(MySQLError) in
            try Self.fetchKlines(
                connection, symbol: symbol, interval: interval, from: .min, to: endingAt, finalOnly: !includeOpen, limit: limit,
                newestFirst: true
            ).reversed()
        }
    }

    // MARK: Roll-ups

    public func rollUpPending() async throws(WarehouseError) -> RollupReport {
        let cache = completeHours
        let (report, used) = try await write("roll up hours and days") { connection throws(MySQLError) in
            let store = MySQLRollupStore(connection: connection, cache: cache)
            let report = try Self.typed("roll up hours and days") { try RollupAlgorithm.rollUpPending(store) }
            return (report, store.used)
        }
        for (symbol, hours) in used { completeHours.forget(symbol: symbol, openTimes: hours) }
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

    // MARK: Gaps

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
            let known = Dictionary(
                try Self.fetchGaps(connection, symbol: symbol).map { ($0.range.from, $0) }, uniquingKeysWith: { $1 })
            let empty = known.values.filter { $0.status == .exchangeEmpty }.map(\.range)
            var stillMissing = Set<Int64>()
            for range in missing where !empty.contains(where: { $0.contains(range) }) {
                stillMissing.insert(range.from)
                if let gap = known[range.from] {
                    guard gap.status != .exchangeEmpty, gap.range.to != range.to || gap.status != .open else { continue }
                }
                try Self.storeGap(connection, symbol: symbol, range: range, status: .open, at: time)
            }
            for gap in known.values where gap.status == .open && !stillMissing.contains(gap.range.from) {
                try Self.storeGap(connection, symbol: symbol, range: gap.range, status: .filled, at: time)
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

    // MARK: Retention and housekeeping

    public func deleteMinuteData(before cutoff: Int64) async throws(WarehouseError) -> RetentionReport {
        // Hours still pending must be computed while their minutes exist.
        _ = try await rollUpPending()
        return try await write("delete minute data before \(UTCTime.iso8601(cutoff))") { connection throws(MySQLError) in
            let parameters = MySQLParameters(cutoff)
            let klineRows = try connection.run("DELETE FROM fact_klines WHERE `interval` = '1m' AND open_time < ?", parameters)
            let orderBookRows = try connection.run("DELETE FROM fact_orderbook WHERE captured_at < ?", parameters)
            // Marks for hours before the cutoff can no longer be served from minutes; the hours themselves stay.
            try connection.run("DELETE FROM rollup_pending WHERE `period` = '1h' AND open_time < ?", parameters)
            return RetentionReport(klineRows: klineRows, orderBookRows: orderBookRows)
        }
    }

    public func markArchived(keys: [String], bucket: String) async throws(WarehouseError) {
        guard !keys.isEmpty else { return }
        try await write("mark \(keys.count) files archived") { connection throws(MySQLError) in
            for key in keys {
                let parameters = MySQLParameters(bucket, key)
                try connection.run("UPDATE processed_files SET bucket = ?, archived = 1 WHERE object_key = ?", parameters)
            }
        }
    }

    public func forgetArchivedFiles(before keyBound: String) async throws(WarehouseError) -> Int {
        try await write("forget archived files before \(keyBound)") { connection throws(MySQLError) in
            let parameters = MySQLParameters(keyBound)
            return try connection.run("DELETE FROM processed_files WHERE archived = 1 AND object_key < ?", parameters)
        }
    }

    /// `ANALYZE TABLE` refreshes the optimizer's index statistics after large loads and deletes. (`OPTIMIZE TABLE`
    /// rebuilds whole tables and is left to the operator.)
    public func optimize() async throws(WarehouseError) {
        try await run("analyze tables of \(configuration)") { connection throws(MySQLError) in
            try connection.execute(
                "ANALYZE TABLE fact_klines, fact_orderbook, hourly_klines, daily_klines, processed_files, kline_gaps, job_runs")
        }
    }
}

/// The roll-up algorithm's statements on one MySQL write transaction.
final class MySQLRollupStore: RollupStore {
    let connection: MySQLConnection
    let cache: CompleteHourCache?
    /// Cached hours this roll-up used, to forget once it committed.
    private(set) var used: [Symbol: [Int64]] = [:]

    init(connection: MySQLConnection, cache: CompleteHourCache? = nil) {
        self.connection = connection
        self.cache = cache
    }

    func knownCompleteHours(symbol: Symbol, openTimes: [Int64]) -> [Int64: KlineBatch.HourRollup] {
        guard let cache else { return [:] }
        let known = cache.hours(symbol: symbol, openTimes: openTimes)
        used[symbol, default: []] += known.keys
        return known
    }

    func pending(period: String) throws -> [(symbol: String, openTime: Int64)] {
        let parameters = MySQLParameters(period)
        let rows = try connection.query(
            "SELECT symbol, open_time FROM rollup_pending WHERE `period` = ? ORDER BY symbol, open_time", parameters)
        var marks: [(symbol: String, openTime: Int64)] = []
        for row in rows.all {
            marks.append((try row.requiredText(0), try row.requiredInt(1)))
        }
        return marks
    }

    func clearPending(period: String) throws {
        let parameters = MySQLParameters(period)
        try connection.run("DELETE FROM rollup_pending WHERE `period` = ?", parameters)
    }

    func markPending(symbol: Symbol, period: String, openTimes: Set<Int64>) throws(MySQLError) {
        for chunk in MySQLWarehouse.statementChunks(openTimes.sorted()) {
            var parameters = MySQLParameters(capacity: chunk.count * 3)
            for openTime in chunk {
                parameters.append(symbol.rawValue)
                parameters.append(period)
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
                INSERT INTO \(table.rawValue) (symbol, \(MySQLWarehouse.valueColumns), minute_count, is_final)
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
