import GRDB
import GRDBSQLite
public import MarketData

/// ``CandleStore``: loads of 1m candles through ``CandleLoading``, with the fast insert of imports; and reading candles
/// back, shared by queries, exports and roll-ups, so it reads column bytes directly.
extension SQLiteWarehouse {
    static let upsertKlineSQL = """
        INSERT INTO fact_klines (symbol, interval, open_time, open, high, low, close, volume, close_time, quote_volume,
            trade_count, taker_buy_base_volume, taker_buy_quote_volume, ignore, is_final, captured_at)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)
        ON CONFLICT (symbol, interval, open_time) DO UPDATE SET
            open = excluded.open, high = excluded.high, low = excluded.low, close = excluded.close,
            volume = excluded.volume, close_time = excluded.close_time, quote_volume = excluded.quote_volume,
            trade_count = excluded.trade_count, taker_buy_base_volume = excluded.taker_buy_base_volume,
            taker_buy_quote_volume = excluded.taker_buy_quote_volume, ignore = excluded.ignore,
            is_final = excluded.is_final, captured_at = excluded.captured_at
        """

    public func loadKlines(
        _ klines: [Kline], symbol: Symbol, interval: Interval, capturedAt: Int64, object: ProcessedObject
    )
        async throws(WarehouseError) -> LoadResult
    {
        let (result, complete) = try await write("load \(object.key)") { db in
            try CandleLoading.load(
                SQLiteCandleStore(db: db), klines, symbol: symbol, interval: interval, capturedAt: capturedAt, object: object)
        }
        // Committed: the page's complete hours can spare the roll-up a read of their minutes.
        completeHours.remember(complete, symbol: symbol)
        return result
    }

    public func loadObjects(_ objects: [ObjectLoad]) async throws(WarehouseError) -> [LoadResult] {
        guard !objects.isEmpty else { return [] }
        // Encoded before the transaction, so the writer holds the database no longer than the inserts take.
        let books = objects.map { load -> CompactOrderBook? in
            if case .orderBook(let book, _, _, _) = load { CompactOrderBook(book) } else { nil }
        }
        let loaded = try await write(ObjectLoad.operation(objects)) { db in
            let candles = SQLiteCandleStore(db: db)
            return try zip(objects, books).map { load, compact -> (LoadResult, [KlineBatch.HourRollup], Symbol) in
                switch load {
                case .klines(let klines, let batch, let symbol, let interval, let capturedAt, let object):
                    let (result, complete) = try CandleLoading.load(
                        candles, klines, batch: batch, symbol: symbol, interval: interval, capturedAt: capturedAt, object: object)
                    return (result, complete, symbol)
                case .orderBook(let book, let symbol, let capturedAt, let object):
                    let result = try Self.loadOrderBook(
                        db, book, compact: compact ?? CompactOrderBook(book), symbol: symbol, capturedAt: capturedAt, object: object)
                    return (result, [], symbol)
                }
            }
        }
        // Committed: the objects' complete hours can spare the roll-up a read of their minutes.
        for (_, complete, symbol) in loaded { completeHours.remember(complete, symbol: symbol) }
        return loaded.map(\.0)
    }

    /// A plain insert of `rows` candles (at most ``insertChunkRows``) in one statement. Binding many rows per step
    /// saves SQLite's per-statement work (start, halt, reset), which costs about as much as the insert itself for short
    /// rows. The symbol (`?1`) and the capture time (`?2`) are bound once for all rows, and the interval is a literal:
    /// ``importParametersPerRow`` parameters remain per row. The statement for fewer rows is a prefix of the full one,
    /// so a file's remainder costs no string building.
    static func insertKlinesSQL(rows: Int) -> String {
        rows == insertChunkRows
            ? insertChunk.sql : String(decoding: insertChunk.sql.utf8.prefix(insertChunk.rowEnds[rows - 1]), as: UTF8.self)
    }

    /// Open time, eight decimals, close time, trade count, ignore and is_final.
    static let importParametersPerRow = 13

    /// Candles per multi-row insert: 1,302 parameters, under SQLite's limit of 32,766 since 3.32 (older builds allow
    /// 999, and get smaller chunks).
    static let insertChunkRows = 100

    /// The insert of ``insertChunkRows`` candles, and where each row's values end in its UTF-8.
    static let insertChunk: (sql: String, rowEnds: [Int]) = {
        var sql = """
            INSERT INTO fact_klines (symbol, interval, open_time, open, high, low, close, volume, close_time, quote_volume,
                trade_count, taker_buy_base_volume, taker_buy_quote_volume, ignore, is_final, captured_at)
            VALUES
            """
        sql += " "
        var rowEnds: [Int] = []
        for row in 0..<insertChunkRows {
            let base = 2 + row * importParametersPerRow
            let own = (1...importParametersPerRow).map { "?\(base + $0)" }
            sql += (row == 0 ? "" : ", ") + "(?1, '1m', \(own.joined(separator: ", ")), ?2)"
            rowEnds.append(sql.utf8.count)
        }
        return (sql, rowEnds)
    }()

    public func importKlines(_ files: [KlineImport]) async throws(WarehouseError) -> [LoadResult] {
        guard !files.isEmpty else { return [] }
        let what = files.count == 1 ? files[0].object.key : "\(files[0].object.key) and \(files.count - 1) more files"
        return try await write("import \(what)") { db in
            let store = SQLiteCandleStore(db: db)
            return try files.map { file in
                try CandleLoading.load(
                    store, file.batch.klines, batch: file.batch, symbol: file.symbol, interval: .oneMinute, capturedAt: file.capturedAt,
                    object: file.object
                ).result
            }
        }
    }

    /// Plain inserts into an empty range, binding the batch's prepared text in place: the writer does nothing but
    /// bind and step, ``insertChunkRows`` candles at a time.
    static func insertBatch(_ db: Database, _ batch: KlineBatch, symbol: Symbol, capturedAt: Int64) throws {
        let parameterLimit = Int(sqlite3_limit(db.sqliteConnection, SQLITE_LIMIT_VARIABLE_NUMBER, -1))
        let chunkRows = max(1, min(insertChunkRows, (parameterLimit - 2) / importParametersPerRow))
        // Constant text in memory that lives as long as the bindings (SQLITE_STATIC reads it at each step).
        let zero = UnsafeMutablePointer<CChar>.allocate(capacity: 1)
        defer { zero.deallocate() }
        zero.initialize(to: 0x30)
        // Parameter offsets of the eight decimals within a row, in the batch's text order.
        let decimalParameters: [Int32] = [2, 3, 4, 5, 6, 8, 10, 11]
        try batch.klines.withUnsafeBufferPointer { klines in
            try batch.text.withUnsafeBufferPointer { text in
                try batch.offsets.withUnsafeBufferPointer { offsets in
                    guard let base = text.baseAddress else { return }
                    try symbol.rawValue.withCString { symbolText in
                        var index = 0
                        while index < klines.count {
                            let rows = min(chunkRows, klines.count - index)
                            // Full chunks share one cached statement; the file's remainder gets one of its own size.
                            let statement = try db.cachedStatement(sql: insertKlinesSQL(rows: rows))
                            let handle = statement.sqliteStatement
                            defer {
                                sqlite3_reset(handle)
                                sqlite3_clear_bindings(handle)
                            }
                            sqlite3_bind_text(handle, 1, symbolText, -1, nil)
                            sqlite3_bind_int64(handle, 2, capturedAt)
                            for row in 0..<rows {
                                let kline = klines[index + row]
                                let parameter = Int32(2 + row * importParametersPerRow)
                                sqlite3_bind_int64(handle, parameter + 1, kline.openTime)
                                let slot = (index + row) * 9
                                for (position, offset) in decimalParameters.enumerated() {
                                    let start = Int(offsets[slot + position])
                                    let length = Int32(Int(offsets[slot + position + 1]) - start)
                                    (base + start).withMemoryRebound(to: CChar.self, capacity: Int(length)) {
                                        _ = sqlite3_bind_text(handle, parameter + offset, $0, length, nil)
                                    }
                                }
                                sqlite3_bind_int64(handle, parameter + 7, kline.closeTime)
                                sqlite3_bind_int64(handle, parameter + 9, kline.tradeCount)
                                if kline.ignore == "0" {
                                    sqlite3_bind_text(handle, parameter + 12, zero, 1, nil)
                                } else {
                                    sqlite3_bind_text(handle, parameter + 12, kline.ignore, -1, sqliteTransient)
                                }
                                sqlite3_bind_int(handle, parameter + 13, kline.isClosed(at: capturedAt) ? 1 : 0)
                            }
                            try stepToCompletion(handle, db)
                            index += rows
                        }
                    }
                }
            }
        }
    }

    /// Binds and steps the upsert once per candle.
    static func writeKlines(_ db: Database, _ klines: [Kline], symbol: Symbol, interval: Interval, capturedAt: Int64) throws {
        let statement = try db.cachedStatement(sql: upsertKlineSQL)
        let handle = statement.sqliteStatement
        let decimals = CanonicalDecimalBinder(handle, slots: 8)
        let decimalParameters: [Int32] = [4, 5, 6, 7, 8, 10, 12, 13]
        defer {
            sqlite3_reset(handle)
            sqlite3_clear_bindings(handle)
        }
        try symbol.rawValue.withCString { symbolText in
            try interval.rawValue.withCString { intervalText in
                sqlite3_bind_text(handle, 1, symbolText, -1, nil)
                sqlite3_bind_text(handle, 2, intervalText, -1, nil)
                sqlite3_bind_int64(handle, 16, capturedAt)
                for kline in klines {
                    sqlite3_bind_int64(handle, 3, kline.openTime)
                    decimals.bindDecimals(of: kline, to: decimalParameters)
                    sqlite3_bind_int64(handle, 9, kline.closeTime)
                    sqlite3_bind_int64(handle, 11, kline.tradeCount)
                    sqlite3_bind_text(handle, 14, kline.ignore, -1, sqliteTransient)
                    sqlite3_bind_int(handle, 15, kline.isClosed(at: capturedAt) ? 1 : 0)
                    try stepToCompletion(handle, db)
                }
            }
        }
    }

    public func klines(
        symbol: Symbol, interval: Interval, from: Int64, to: Int64, includeOpen: Bool, limit: Int?
    )
        async throws(WarehouseError) -> [StoredKline]
    {
        try await read("read k-lines") { db in
            try Self.fetchKlines(db, symbol: symbol, interval: interval, from: from, to: to, finalOnly: !includeOpen, limit: limit)
        }
    }

    public func recentKlines(
        symbol: Symbol, interval: Interval, endingAt: Int64, includeOpen: Bool, limit: Int
    ) async throws(WarehouseError) -> [StoredKline] {
        try await read("read recent k-lines") { db in
            try Self.fetchKlines(
                db, symbol: symbol, interval: interval, from: .min, to: endingAt, finalOnly: !includeOpen, limit: limit,
                newestFirst: true
            ).reversed()
        }
    }

    /// Candles of one interval: 1m from `fact_klines`, 1h and 1d from the roll-up tables.
    static func fetchKlines(
        _ db: Database, symbol: Symbol, interval: Interval, from: Int64, to: Int64, finalOnly: Bool, limit: Int?,
        newestFirst: Bool = false
    ) throws -> [StoredKline] {
        let query = StoredKlineQuery(
            symbol: symbol, interval: interval, from: from, to: to, finalOnly: finalOnly, limit: limit, newestFirst: newestFirst)
        let arguments = StatementArguments(
            query.arguments.map { argument -> (any DatabaseValueConvertible)? in
                switch argument {
                case .text(let text): text
                case .integer(let value): value
                }
            })
        // Read column bytes straight into exact decimals: no Row, no intermediate Strings. This is what
        // roll-ups and exports spend their time on.
        let statement = try db.cachedStatement(sql: query.sql)
        try statement.setArguments(arguments)
        let handle = statement.sqliteStatement
        defer { sqlite3_reset(handle) }
        func decimal(_ column: Int32) throws -> ExactDecimal {
            let length = Int(sqlite3_column_bytes(handle, column))
            guard let text = sqlite3_column_text(handle, column) else { return try ExactDecimal(parsing: "") }
            return try ExactDecimal(bytes: UnsafeBufferPointer(start: text, count: length))
        }
        var result: [StoredKline] = []
        while true {
            let code = sqlite3_step(handle)
            if code == SQLITE_DONE { break }
            guard code == SQLITE_ROW else {
                throw DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(db.sqliteConnection)))
            }
            let ignore = sqlite3_column_text(handle, 11).map { String(cString: $0) } ?? "0"
            let kline = Kline(
                openTime: sqlite3_column_int64(handle, 0), open: try decimal(1), high: try decimal(2), low: try decimal(3),
                close: try decimal(4), volume: try decimal(5), closeTime: sqlite3_column_int64(handle, 6), quoteVolume: try decimal(7),
                tradeCount: sqlite3_column_int64(handle, 8), takerBuyBaseVolume: try decimal(9), takerBuyQuoteVolume: try decimal(10),
                ignore: ignore)
            result.append(StoredKline(kline: kline, isFinal: sqlite3_column_int64(handle, 12) == 1))
        }
        return result
    }
}
