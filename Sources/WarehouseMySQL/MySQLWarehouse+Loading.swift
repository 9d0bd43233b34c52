public import MarketData
public import Warehouse

/// Loads: multi-row `INSERT … ON DUPLICATE KEY UPDATE` batches, one transaction per raw object.
extension MySQLWarehouse {
    static let klineColumns = """
        symbol, `interval`, open_time, open, high, low, close, volume, close_time, quote_volume, trade_count,
        taker_buy_base_volume, taker_buy_quote_volume, `ignore`, is_final, captured_at
        """
    static let klineUpdates = """
        open = VALUES(open), high = VALUES(high), low = VALUES(low), close = VALUES(close), volume = VALUES(volume),
        close_time = VALUES(close_time), quote_volume = VALUES(quote_volume), trade_count = VALUES(trade_count),
        taker_buy_base_volume = VALUES(taker_buy_base_volume), taker_buy_quote_volume = VALUES(taker_buy_quote_volume),
        `ignore` = VALUES(`ignore`), is_final = VALUES(is_final), captured_at = VALUES(captured_at)
        """
    /// Rows per statement: a whole Binance page; 1000 × 16 parameters stays below the protocol's 65,535 and well
    /// inside one packet.
    static let rowsPerStatement = 1_000

    /// The statement texts for every chunk size ``statementChunks(_:)`` makes, built once: a 1000-row text is 50 KB,
    /// and the connection's statement cache hashes it on every use.
    static let klineInsertSQLs: [Bool: [Int: String]] = {
        let sizes = [rowsPerStatement] + (0..<10).map { 1 << $0 }
        return Dictionary(
            uniqueKeysWithValues: [false, true].map { upsert in
                (upsert, Dictionary(uniqueKeysWithValues: sizes.map { ($0, makeKlineInsertSQL(rows: $0, upsert: upsert)) }))
            })
    }()

    static func klineInsertSQL(rows: Int, upsert: Bool) -> String {
        klineInsertSQLs[upsert]?[rows] ?? makeKlineInsertSQL(rows: rows, upsert: upsert)
    }

    /// `INSERT … VALUES (…), (…) …` for `rows` k-lines; `VALUES()` in the update clause is understood by MySQL 8
    /// (deprecated there, with a warning, but not removed) and MariaDB, unlike MySQL's `AS new` alias.
    static func makeKlineInsertSQL(rows: Int, upsert: Bool) -> String {
        let row = "(" + Array(repeating: "?", count: 16).joined(separator: ", ") + ")"
        var sql = "INSERT INTO fact_klines (\(klineColumns)) VALUES " + Array(repeating: row, count: rows).joined(separator: ", ")
        if upsert { sql += " ON DUPLICATE KEY UPDATE \(klineUpdates)" }
        return sql
    }

    /// Splits rows into statements of 1000, then 512, 256 … 1 for the rest: at most ten statement shapes per table,
    /// each prepared once per connection.
    static func statementChunks<Element>(_ items: [Element]) -> [ArraySlice<Element>] {
        var chunks: [ArraySlice<Element>] = []
        var remaining = items[...]
        while !remaining.isEmpty {
            var size = rowsPerStatement
            if remaining.count < size { size = 1 << (Int.bitWidth - 1 - remaining.count.leadingZeroBitCount) }
            chunks.append(remaining.prefix(size))
            remaining = remaining.dropFirst(size)
        }
        return chunks
    }

    /// Writes `klines` in multi-row statements.
    static func insertKlines(
        _ connection: MySQLConnection, _ klines: [Kline], symbol: Symbol, interval: Interval, capturedAt: Int64, upsert: Bool
    ) throws(MySQLError) {
        for chunk in statementChunks(klines) {
            var parameters = MySQLParameters(capacity: chunk.count * 16)
            for kline in chunk {
                parameters.append(symbol.rawValue)
                parameters.append(interval.rawValue)
                parameters.append(kline.openTime)
                parameters.append(kline.open)
                parameters.append(kline.high)
                parameters.append(kline.low)
                parameters.append(kline.close)
                parameters.append(kline.volume)
                parameters.append(kline.closeTime)
                parameters.append(kline.quoteVolume)
                parameters.append(kline.tradeCount)
                parameters.append(kline.takerBuyBaseVolume)
                parameters.append(kline.takerBuyQuoteVolume)
                parameters.append(kline.ignore)
                parameters.append(kline.isClosed(at: capturedAt))
                parameters.append(capturedAt)
            }
            try connection.run(klineInsertSQL(rows: chunk.count, upsert: upsert), parameters)
        }
    }

    public func loadKlines(
        _ klines: [Kline], symbol: Symbol, interval: Interval, capturedAt: Int64, object: ProcessedObject
    ) async throws(WarehouseError) -> LoadResult {
        let (result, complete) = try await write("load \(object.key)") { connection throws(MySQLError) in
            try Self.upsertKlines(connection, klines, symbol: symbol, interval: interval, capturedAt: capturedAt, object: object)
        }
        // Committed: the page's complete hours can spare the roll-up a read of their minutes.
        completeHours.remember(complete, symbol: symbol)
        return result
    }

    /// Loads one object's candles: only the rows an upsert would change are sent, decided from the stored rows of the
    /// range (locked until commit): new candles, and stored open candles replaced by a final or newer capture. Final
    /// candles are never rewritten. Touched hours are marked for ``rollUpPending()``.
    ///
    /// Imports (`batch` given) into a range that held nothing store their complete hours from the batch's own
    /// roll-ups, as the protocol allows for ``importKlines(_:)``, instead of reading every minute back later. Loads
    /// into such a range return their complete hours for the ``CompleteHourCache``.
    static func upsertKlines(
        _ connection: MySQLConnection, _ klines: [Kline], batch: KlineBatch? = nil, symbol: Symbol, interval: Interval,
        capturedAt: Int64, object: ProcessedObject
    ) throws(MySQLError) -> (LoadResult, completeHours: [KlineBatch.HourRollup]) {
        guard let first = klines.map(\.openTime).min(), let last = klines.map(\.openTime).max() else {
            try recordProcessed(connection, object, rows: 0, unchanged: 0)
            return (LoadResult(rowsWritten: 0, rowsUnchanged: 0), [])
        }
        let parameters = MySQLParameters(symbol.rawValue, interval.rawValue, first, last)
        let stored = try connection.query(
            """
            SELECT open_time, is_final, captured_at FROM fact_klines
            WHERE symbol = ? AND `interval` = ? AND open_time BETWEEN ? AND ? FOR UPDATE
            """, parameters)
        let store = MySQLRollupStore(connection: connection)
        if stored.count == 0, let batch, interval == .oneMinute {
            try insertKlines(connection, klines, symbol: symbol, interval: interval, capturedAt: capturedAt, upsert: false)
            let plan = RollupAlgorithm.importPlan(klines, hours: batch.hours, capturedAt: capturedAt)
            try store.storeHours(plan.complete.map { ($0.candle, Int64($0.minuteCount), true) }, symbol: symbol)
            try store.markPending(symbol: symbol, period: "1h", openTimes: plan.pendingHours)
            try store.markPending(symbol: symbol, period: "1d", openTimes: plan.days)
            try recordProcessed(connection, object, rows: klines.count, unchanged: 0)
            return (LoadResult(rowsWritten: klines.count, rowsUnchanged: 0), [])
        }
        var existing: [Int64: (isFinal: Bool, capturedAt: Int64)] = [:]
        for row in stored.all {
            existing[try row.requiredInt(0)] = (try row.requiredInt(1) == 1, try row.requiredInt(2))
        }
        let changed = klines.filter { kline in
            guard let old = existing[kline.openTime] else { return true }
            return !old.isFinal && (kline.isClosed(at: capturedAt) || capturedAt > old.capturedAt)
        }
        try insertKlines(connection, changed, symbol: symbol, interval: interval, capturedAt: capturedAt, upsert: true)
        if interval == .oneMinute {
            let touchedHours = Set(
                changed.filter { $0.isClosed(at: capturedAt) }.map { Interval.oneHour.openTime(containing: $0.openTime) })
            try store.markPending(symbol: symbol, period: "1h", openTimes: touchedHours)
        }
        try recordProcessed(connection, object, rows: klines.count, unchanged: klines.count - changed.count)
        var complete: [KlineBatch.HourRollup] = []
        if stored.count == 0, interval == .oneMinute, zip(klines, klines.dropFirst()).allSatisfy({ $0.openTime < $1.openTime }) {
            complete = RollupAlgorithm.importPlan(klines, hours: KlineBatch.hourRollups(klines), capturedAt: capturedAt).complete
        }
        return (LoadResult(rowsWritten: changed.count, rowsUnchanged: klines.count - changed.count), complete)
    }

    public func importKlines(_ files: [KlineImport]) async throws(WarehouseError) -> [LoadResult] {
        guard !files.isEmpty else { return [] }
        let what = files.count == 1 ? files[0].object.key : "\(files[0].object.key) and \(files.count - 1) more files"
        return try await write("import \(what)") { connection throws(MySQLError) in
            var results: [LoadResult] = []
            for file in files {
                results.append(
                    try Self.upsertKlines(
                        connection, file.batch.klines, batch: file.batch, symbol: file.symbol, interval: .oneMinute,
                        capturedAt: file.capturedAt, object: file.object
                    ).0)
            }
            return results
        }
    }

    public func loadOrderBook(
        _ book: OrderBookSnapshot, symbol: Symbol, capturedAt: Int64, object: ProcessedObject
    ) async throws(WarehouseError) -> LoadResult {
        try await write("load \(object.key)") { connection throws(MySQLError) in
            var levels: [(side: BookSide, index: Int, level: PriceLevel)] = []
            for (side, sideLevels) in [(BookSide.bid, book.bids), (BookSide.ask, book.asks)] {
                for (index, level) in sideLevels.enumerated() { levels.append((side, index, level)) }
            }
            var written = 0
            for chunk in Self.statementChunks(levels) {
                var parameters = MySQLParameters(capacity: chunk.count * 7)
                for (side, index, level) in chunk {
                    parameters.append(symbol.rawValue)
                    parameters.append(capturedAt)
                    parameters.append(side.rawValue)
                    parameters.append(level.price)
                    parameters.append(level.quantity)
                    parameters.append(index)
                    parameters.append(book.lastUpdateId)
                }
                let row = "(?, ?, ?, ?, ?, ?, ?)"
                // A snapshot already stored is left as it is: the no-op update counts 0 affected rows.
                written += try connection.run(
                    """
                    INSERT INTO fact_orderbook (symbol, captured_at, side, price, quantity, level, last_update_id)
                    VALUES \(Array(repeating: row, count: chunk.count).joined(separator: ", "))
                    ON DUPLICATE KEY UPDATE symbol = symbol
                    """, parameters)
            }
            try Self.recordProcessed(connection, object, rows: levels.count, unchanged: levels.count - written)
            return LoadResult(rowsWritten: written, rowsUnchanged: levels.count - written)
        }
    }

    static func recordProcessed(_ connection: MySQLConnection, _ object: ProcessedObject, rows: Int, unchanged: Int) throws(MySQLError) {
        let parameters = MySQLParameters(object.key, object.bucket, object.processedAt, rows, unchanged)
        try connection.run(
            """
            INSERT INTO processed_files (object_key, bucket, processed_at, `rows`, rows_unchanged) VALUES (?, ?, ?, ?, ?)
            ON DUPLICATE KEY UPDATE processed_at = VALUES(processed_at), `rows` = VALUES(`rows`),
                rows_unchanged = VALUES(rows_unchanged)
            """, parameters)
    }

    public func processedObjectKeys(withPrefix prefix: String) async throws(WarehouseError) -> Set<String> {
        try await run("list processed objects") { connection throws(MySQLError) in
            let rows: MySQLRows
            if prefix.isEmpty {
                rows = try connection.query("SELECT object_key FROM processed_files")
            } else {
                // A range scan on the primary key: every key starting with the prefix sorts between these bounds.
                let parameters = MySQLParameters(prefix, prefix + "\u{10FFFF}")
                rows = try connection.query("SELECT object_key FROM processed_files WHERE object_key >= ? AND object_key < ?", parameters)
            }
            return Set(rows.all.compactMap { $0.string(0) })
        }
    }

    public func recordRejected(objectKey: String, movedTo: String, reason: String, at time: Int64) async throws(WarehouseError) {
        try await write("record rejected object \(objectKey)") { connection throws(MySQLError) in
            let parameters = MySQLParameters(objectKey, movedTo, time, reason)
            try connection.run(
                """
                INSERT INTO rejected_files (object_key, moved_to, rejected_at, reason) VALUES (?, ?, ?, ?)
                ON DUPLICATE KEY UPDATE moved_to = VALUES(moved_to), rejected_at = VALUES(rejected_at), reason = VALUES(reason)
                """, parameters)
        }
    }

    // MARK: Extraction metadata

    public func extractionState(symbol: Symbol, type: ExtractionDataType) async throws(WarehouseError) -> ExtractionState? {
        try await run("read extraction metadata") { connection throws(MySQLError) in
            let parameters = MySQLParameters(symbol.rawValue, type.rawValue)
            guard
                let row = try connection.query(
                    "SELECT last_fetch_time, last_open_time, record_count FROM extraction_metadata WHERE symbol = ? AND data_type = ?",
                    parameters
                ).first
            else { return nil }
            return ExtractionState(
                symbol: symbol, type: type, lastFetchTime: try row.requiredInt(0), lastOpenTime: row.int64(1),
                recordCount: try row.requiredInt(2))
        }
    }

    public func recordExtraction(_ update: ExtractionUpdate) async throws(WarehouseError) {
        try await write("update extraction metadata") { connection throws(MySQLError) in
            let parameters = MySQLParameters(
                update.symbol.rawValue, update.type.rawValue, update.fetchTime, update.lastOpenTime, update.records)
            try connection.run(
                """
                INSERT INTO extraction_metadata (symbol, data_type, last_fetch_time, last_open_time, record_count)
                VALUES (?, ?, ?, ?, ?)
                ON DUPLICATE KEY UPDATE
                    last_fetch_time = GREATEST(last_fetch_time, VALUES(last_fetch_time)),
                    last_open_time = CASE
                        WHEN VALUES(last_open_time) IS NULL THEN last_open_time
                        WHEN last_open_time IS NULL THEN VALUES(last_open_time)
                        ELSE GREATEST(last_open_time, VALUES(last_open_time)) END,
                    record_count = record_count + VALUES(record_count)
                """, parameters)
        }
    }
}
