import GRDB
import GRDBSQLite
public import MarketData

/// The embedded warehouse: one SQLite file in WAL mode, through GRDB.
public final class SQLiteWarehouse: Warehouse {
    let pool: DatabasePool
    /// One connection of its own for `PRAGMA data_version`, which counts commits made by *other* connections: the
    /// pool's writer and other processes alike.
    let versionConnection: DatabaseQueue
    public let path: String

    /// Opens (creating if needed) the database at `path`. Call ``migrate()`` before use.
    public init(path: String) throws(WarehouseError) {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            // 16 KiB pages for new databases (an existing one keeps its size): fact tables are written in long
            // ascending runs and read in ranges, and bigger pages make bulk imports about 25% faster.
            try db.execute(sql: "PRAGMA page_size = 16384")
            // WAL with NORMAL sync is durable across application crashes and cheap per commit.
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            // 64 MiB of page cache keeps the upper B-tree levels of large fact tables in memory.
            try db.execute(sql: "PRAGMA cache_size = -65536")
            // Checkpoint every 2048 pages (32 MiB with 16 KiB pages) instead of 1000: each checkpoint fsyncs, and a
            // large load would otherwise checkpoint every few objects.
            try db.execute(sql: "PRAGMA wal_autocheckpoint = 2048")
            // Reads (range queries, roll-ups, checkpoints) through a memory map instead of a copy per page.
            try db.execute(sql: "PRAGMA mmap_size = 1073741824")
        }
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
            var versionConfiguration = Configuration()
            versionConfiguration.busyMode = .timeout(10)
            versionConnection = try DatabaseQueue(path: path, configuration: versionConfiguration)
        } catch {
            throw WarehouseError(operation: "open SQLite database at \(path)", detail: Self.describe(error))
        }
        self.path = path
    }

    public func migrate() async throws(WarehouseError) {
        do {
            try SQLiteSchema.migrator.migrate(pool)
        } catch {
            throw WarehouseError(operation: "migrate schema of \(path)", detail: Self.describe(error))
        }
    }

    // MARK: Loading

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
        WHERE fact_klines.is_final = 0
            AND (excluded.is_final = 1 OR excluded.captured_at > fact_klines.captured_at)
        """

    public func loadKlines(
        _ klines: [Kline], symbol: Symbol, interval: Interval, capturedAt: Int64, object: ProcessedObject
    )
        async throws(WarehouseError) -> LoadResult
    {
        try await write("load \(object.key)") { db in
            try Self.upsertKlines(db, klines, symbol: symbol, interval: interval, capturedAt: capturedAt, object: object)
        }
    }

    /// The load of one object: upserted rows, their hours marked for roll-up, and the ledger row.
    private static func upsertKlines(
        _ db: Database, _ klines: [Kline], symbol: Symbol, interval: Interval, capturedAt: Int64, object: ProcessedObject
    ) throws -> LoadResult {
        let (written, touchedHours) = try writeKlines(
            db, klines, symbol: symbol, interval: interval, capturedAt: capturedAt, sql: upsertKlineSQL)
        try markPending(db, symbol: symbol, period: "1h", openTimes: touchedHours)
        try recordProcessed(db, object, rows: klines.count, unchanged: klines.count - written)
        return LoadResult(rowsWritten: written, rowsUnchanged: klines.count - written)
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
            try files.map { file in try Self.importFile(db, file) }
        }
    }

    private static func importFile(_ db: Database, _ file: KlineImport) throws -> LoadResult {
        let (batch, symbol, capturedAt, object) = (file.batch, file.symbol, file.capturedAt, file.object)
        let klines = batch.klines
        guard let first = klines.first?.openTime, let last = klines.last?.openTime else {
            try recordProcessed(db, object, rows: 0, unchanged: 0)
            return LoadResult(rowsWritten: 0, rowsUnchanged: 0)
        }
        // Checked inside the write transaction, so a concurrent import of the same range waits and then takes the
        // upsert path.
        let rangeIsEmpty =
            try Int.fetchOne(
                db.cachedStatement(
                    sql: "SELECT 1 FROM fact_klines WHERE symbol = ? AND interval = '1m' AND open_time BETWEEN ? AND ? LIMIT 1"),
                arguments: [symbol.rawValue, first, last]) == nil
        guard rangeIsEmpty else {
            return try upsertKlines(db, klines, symbol: symbol, interval: .oneMinute, capturedAt: capturedAt, object: object)
        }
        try insertBatch(db, batch, symbol: symbol, capturedAt: capturedAt)
        let plan = RollupAlgorithm.importPlan(batch.klines, hours: batch.hours, capturedAt: capturedAt)
        try SQLiteRollupStore(db: db).storeHours(plan.complete.map { ($0.candle, Int64($0.minuteCount), true) }, symbol: symbol)
        try markPending(db, symbol: symbol, period: "1h", openTimes: plan.pendingHours)
        try markPending(db, symbol: symbol, period: "1d", openTimes: plan.days)
        try recordProcessed(db, object, rows: klines.count, unchanged: 0)
        return LoadResult(rowsWritten: klines.count, rowsUnchanged: 0)
    }

    /// Plain inserts into an empty range, binding the batch's prepared text in place: the writer does nothing but
    /// bind and step, ``insertChunkRows`` candles at a time.
    private static func insertBatch(_ db: Database, _ batch: KlineBatch, symbol: Symbol, capturedAt: Int64) throws {
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

    /// Binds and steps one statement per candle; returns the rows changed and the hours whose final minutes changed.
    private static func writeKlines(
        _ db: Database, _ klines: [Kline], symbol: Symbol, interval: Interval, capturedAt: Int64, sql: String
    ) throws -> (written: Int, touchedHours: Set<Int64>) {
        let statement = try db.cachedStatement(sql: sql)
        let handle = statement.sqliteStatement
        var written = 0
        var touchedHours = Set<Int64>()
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
                    let isFinal = kline.isClosed(at: capturedAt)
                    sqlite3_bind_int64(handle, 3, kline.openTime)
                    decimals.bindDecimals(of: kline, to: decimalParameters)
                    sqlite3_bind_int64(handle, 9, kline.closeTime)
                    sqlite3_bind_int64(handle, 11, kline.tradeCount)
                    sqlite3_bind_text(handle, 14, kline.ignore, -1, sqliteTransient)
                    sqlite3_bind_int(handle, 15, isFinal ? 1 : 0)
                    try stepToCompletion(handle, db)
                    let changed = Int(sqlite3_changes(db.sqliteConnection))
                    written += changed
                    if changed > 0, interval == .oneMinute, isFinal {
                        touchedHours.insert(Interval.oneHour.openTime(containing: kline.openTime))
                    }
                }
            }
        }
        return (written, touchedHours)
    }

    public func loadOrderBook(
        _ book: OrderBookSnapshot, symbol: Symbol, capturedAt: Int64, object: ProcessedObject
    )
        async throws(WarehouseError) -> LoadResult
    {
        try await write("load \(object.key)") { db in
            let statement = try db.cachedStatement(
                sql: """
                    INSERT INTO fact_orderbook (symbol, captured_at, side, price, quantity, level, last_update_id)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (symbol, captured_at, side, price) DO NOTHING
                    """)
            var written = 0
            for (side, levels) in [(BookSide.bid, book.bids), (BookSide.ask, book.asks)] {
                for (index, level) in levels.enumerated() {
                    try statement.execute(arguments: [
                        symbol.rawValue, capturedAt, side.rawValue, level.price.description, level.quantity.description, index,
                        book.lastUpdateId,
                    ])
                    written += db.changesCount
                }
            }
            let total = book.bids.count + book.asks.count
            try Self.recordProcessed(db, object, rows: total, unchanged: total - written)
            return LoadResult(rowsWritten: written, rowsUnchanged: total - written)
        }
    }

    private static func recordProcessed(_ db: Database, _ object: ProcessedObject, rows: Int, unchanged: Int) throws {
        try db.cachedStatement(
            sql: """
                INSERT INTO processed_files (object_key, bucket, processed_at, rows, rows_unchanged) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (object_key) DO UPDATE SET processed_at = excluded.processed_at, rows = excluded.rows,
                    rows_unchanged = excluded.rows_unchanged
                """
        ).execute(arguments: [object.key, object.bucket, object.processedAt, rows, unchanged])
    }

    public func processedObjectKeys(withPrefix prefix: String) async throws(WarehouseError) -> Set<String> {
        try await read("list processed objects") { db in
            let keys: [String]
            if prefix.isEmpty {
                keys = try String.fetchAll(db, sql: "SELECT object_key FROM processed_files")
            } else {
                // A range scan on the primary key: every key starting with the prefix sorts between these bounds.
                keys = try String.fetchAll(
                    db, sql: "SELECT object_key FROM processed_files WHERE object_key >= ? AND object_key < ?",
                    arguments: [prefix, prefix + "\u{10FFFF}"])
            }
            return Set(keys)
        }
    }

    public func recordRejected(objectKey: String, movedTo: String, reason: String, at time: Int64) async throws(WarehouseError) {
        try await write("record rejected object \(objectKey)") { db in
            try db.execute(
                sql: """
                    INSERT INTO rejected_files (object_key, moved_to, rejected_at, reason) VALUES (?, ?, ?, ?)
                    ON CONFLICT (object_key) DO UPDATE SET moved_to = excluded.moved_to, rejected_at = excluded.rejected_at,
                        reason = excluded.reason
                    """,
                arguments: [objectKey, movedTo, time, reason])
        }
    }

    // MARK: Extraction metadata

    public func extractionState(symbol: Symbol, type: ExtractionDataType) async throws(WarehouseError) -> ExtractionState? {
        try await read("read extraction metadata") { db in
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: "SELECT last_fetch_time, last_open_time, record_count FROM extraction_metadata WHERE symbol = ? AND data_type = ?",
                    arguments: [symbol.rawValue, type.rawValue])
            else { return nil }
            return ExtractionState(
                symbol: symbol, type: type, lastFetchTime: row[0], lastOpenTime: row[1], recordCount: row[2])
        }
    }

    public func recordExtraction(_ update: ExtractionUpdate) async throws(WarehouseError) {
        try await write("update extraction metadata") { db in
            try db.execute(
                sql: """
                    INSERT INTO extraction_metadata (symbol, data_type, last_fetch_time, last_open_time, record_count)
                    VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (symbol, data_type) DO UPDATE SET
                        last_fetch_time = max(last_fetch_time, excluded.last_fetch_time),
                        last_open_time = CASE
                            WHEN excluded.last_open_time IS NULL THEN last_open_time
                            WHEN last_open_time IS NULL THEN excluded.last_open_time
                            ELSE max(last_open_time, excluded.last_open_time) END,
                        record_count = record_count + excluded.record_count
                    """,
                arguments: [update.symbol.rawValue, update.type.rawValue, update.fetchTime, update.lastOpenTime, update.records])
        }
    }

    // MARK: Queries

    public func klines(
        symbol: Symbol, interval: Interval, from: Int64, to: Int64, includeOpen: Bool, limit: Int?
    )
        async throws(WarehouseError) -> [StoredKline]
    {
        try await read("read k-lines") { db in
            try Self.fetchKlines(db, symbol: symbol, interval: interval, from: from, to: to, finalOnly: !includeOpen, limit: limit)
        }
    }

    public func dataSummary() async throws(WarehouseError) -> [DataSummary] {
        try await read("summarise data") { db in
            var summaries: [DataSummary] = []
            let metadata = try Row.fetchAll(db, sql: "SELECT symbol, data_type, last_fetch_time FROM extraction_metadata")
            var lastFetch: [String: Int64] = [:]
            for row in metadata { lastFetch["\(row[0] as String)/\(row[1] as String)"] = row[2] }
            let klineRows = try Row.fetchAll(
                db,
                sql: """
                    SELECT symbol, count(*), min(open_time), max(open_time), max(CASE WHEN is_final = 1 THEN open_time END)
                    FROM fact_klines WHERE interval = '1m' GROUP BY symbol
                    """)
            for row in klineRows {
                guard let symbol = try? Symbol(row[0] as String) else { continue }
                summaries.append(
                    DataSummary(
                        symbol: symbol, type: .klines, rows: row[1], first: row[2], last: row[3], lastFinal: row[4],
                        lastFetchTime: lastFetch["\(symbol)/klines"]))
            }
            let bookRows = try Row.fetchAll(
                db,
                sql: "SELECT symbol, count(DISTINCT captured_at), min(captured_at), max(captured_at) FROM fact_orderbook GROUP BY symbol")
            for row in bookRows {
                guard let symbol = try? Symbol(row[0] as String) else { continue }
                summaries.append(
                    DataSummary(
                        symbol: symbol, type: .depth, rows: row[1], first: row[2], last: row[3], lastFetchTime: lastFetch["\(symbol)/depth"]
                    ))
            }
            // Symbols fetched but not yet transformed still deserve a line.
            for row in metadata {
                guard let symbol = try? Symbol(row[0] as String), let type = ExtractionDataType(rawValue: row[1]) else { continue }
                if !summaries.contains(where: { $0.symbol == symbol && $0.type == type }) {
                    summaries.append(DataSummary(symbol: symbol, type: type, rows: 0, first: nil, last: nil, lastFetchTime: row[2]))
                }
            }
            return summaries.sorted { ($0.symbol.rawValue, $0.type.rawValue) < ($1.symbol.rawValue, $1.type.rawValue) }
        }
    }

    public func tableCounts() async throws(WarehouseError) -> [String: Int] {
        try await read("count rows") { db in
            var counts: [String: Int] = [:]
            for table in [
                "fact_klines", "fact_orderbook", "hourly_klines", "daily_klines", "extraction_metadata", "processed_files",
                "rejected_files", "kline_gaps", "job_runs",
            ] {
                counts[table] = try Int.fetchOne(db, sql: "SELECT count(*) FROM \(table)") ?? 0
            }
            return counts
        }
    }

    // MARK: Plumbing

    func write<T: Sendable>(
        _ operation: String, _ body: @escaping @Sendable (Database) throws -> T
    ) async throws(WarehouseError) -> T {
        do {
            return try await pool.write(body)
        } catch {
            throw WarehouseError(operation: operation, detail: Self.describe(error))
        }
    }

    func read<T: Sendable>(
        _ operation: String, _ body: @escaping @Sendable (Database) throws -> T
    ) async throws(WarehouseError) -> T {
        do {
            return try await pool.read(body)
        } catch {
            throw WarehouseError(operation: operation, detail: Self.describe(error))
        }
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? DatabaseError { return error.message ?? "\(error.resultCode)" }
        return "\(error)"
    }

    /// Direct SQL access for tests and maintenance commands.
    public func execute(_ sql: String) async throws(WarehouseError) {
        try await write("execute SQL") { db in try db.execute(sql: sql) }
    }
}
