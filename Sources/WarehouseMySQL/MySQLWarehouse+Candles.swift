public import MarketData
public import Warehouse

/// ``CandleStore``: loads of 1m candles through ``CandleLoading`` in multi-row `INSERT … ON DUPLICATE KEY UPDATE`
/// statements, one transaction per raw object; and reading candles back.
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
            try Self.typed("load \(object.key)") {
                try CandleLoading.load(
                    MySQLCandleStore(connection: connection), klines, symbol: symbol, interval: interval, capturedAt: capturedAt,
                    object: object)
            }
        }
        // Committed: the page's complete hours can spare the roll-up a read of their minutes.
        completeHours.remember(complete, symbol: symbol)
        return result
    }

    public func loadObjects(_ objects: [ObjectLoad]) async throws(WarehouseError) -> [LoadResult] {
        guard !objects.isEmpty else { return [] }
        let books = objects.map { load -> CompactOrderBook? in
            if case .orderBook(let book, _, _, _) = load { CompactOrderBook(book) } else { nil }
        }
        let operation = ObjectLoad.operation(objects)
        let loaded = try await write(operation) { connection throws(MySQLError) in
            var loaded: [(result: LoadResult, complete: [KlineBatch.HourRollup], symbol: Symbol?)] = []
            for (load, compact) in zip(objects, books) {
                switch load {
                case .klines(let klines, let batch, let symbol, let interval, let capturedAt, let object):
                    let (result, complete) = try Self.typed(operation) {
                        try CandleLoading.load(
                            MySQLCandleStore(connection: connection), klines, batch: batch, symbol: symbol, interval: interval,
                            capturedAt: capturedAt, object: object)
                    }
                    loaded.append((result, complete, symbol))
                case .orderBook(let book, let symbol, let capturedAt, let object):
                    let result = try Self.loadOrderBook(
                        connection, book, compact: compact ?? CompactOrderBook(book), symbol: symbol, capturedAt: capturedAt, object: object
                    )
                    loaded.append((result, [], nil))
                }
            }
            return loaded
        }
        // Committed: the objects' complete hours can spare the roll-up a read of their minutes.
        for entry in loaded { if let symbol = entry.symbol { completeHours.remember(entry.complete, symbol: symbol) } }
        return loaded.map(\.result)
    }

    public func importKlines(_ files: [KlineImport]) async throws(WarehouseError) -> [LoadResult] {
        guard !files.isEmpty else { return [] }
        let what = files.count == 1 ? files[0].object.key : "\(files[0].object.key) and \(files.count - 1) more files"
        return try await write("import \(what)") { connection throws(MySQLError) in
            let store = MySQLCandleStore(connection: connection)
            return try Self.typed("import \(what)") {
                try files.map { file in
                    try CandleLoading.load(
                        store, file.batch.klines, batch: file.batch, symbol: file.symbol, interval: .oneMinute,
                        capturedAt: file.capturedAt, object: file.object
                    ).result
                }
            }
        }
    }

    /// Candles of one interval: 1m from `fact_klines`, 1h and 1d from the roll-up tables.
    static func fetchKlines(
        _ connection: MySQLConnection, symbol: Symbol, interval: Interval, from: Int64, to: Int64, finalOnly: Bool, limit: Int?,
        newestFirst: Bool = false
    ) throws(MySQLError) -> [StoredKline] {
        let query = StoredKlineQuery(
            symbol: symbol, interval: interval, from: from, to: to, finalOnly: finalOnly, limit: limit, newestFirst: newestFirst)
        var parameters = MySQLParameters(capacity: query.arguments.count)
        for argument in query.arguments {
            switch argument {
            case .text(let text): parameters.append(text)
            case .integer(let value): parameters.append(value)
            }
        }
        let rows = try connection.query(query.sql, parameters)
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
}
