import GRDB
import GRDBSQLite
public import MarketData

/// ``OrderBookStore``: one `orderbook_snapshots` row per snapshot (``CompactOrderBook``).
extension SQLiteWarehouse {
    public func loadOrderBook(
        _ book: OrderBookSnapshot, symbol: Symbol, capturedAt: Int64, object: ProcessedObject
    )
        async throws(WarehouseError) -> LoadResult
    {
        let compact = CompactOrderBook(book)
        return try await write("load \(object.key)") { db in
            try Self.loadOrderBook(db, book, compact: compact, symbol: symbol, capturedAt: capturedAt, object: object)
        }
    }

    static func loadOrderBook(
        _ db: Database, _ book: OrderBookSnapshot, compact: CompactOrderBook, symbol: Symbol, capturedAt: Int64, object: ProcessedObject
    ) throws -> LoadResult {
        // A snapshot already stored is left as it is, and all its levels count as unchanged. A book without levels is
        // not stored (as when a level was a row): the newest book stays the newest one with levels.
        var written = 0
        if compact.levelCount > 0 {
            try insert(db, compact, symbol: symbol.rawValue, capturedAt: capturedAt)
            written = db.changesCount > 0 ? compact.levelCount : 0
        }
        let total = book.bids.count + book.asks.count
        try recordProcessed(db, object, rows: total, unchanged: total - written)
        return LoadResult(rowsWritten: written, rowsUnchanged: total - written)
    }

    static func insert(_ db: Database, _ book: CompactOrderBook, symbol: String, capturedAt: Int64) throws {
        let statement = try db.cachedStatement(
            sql: """
                INSERT INTO orderbook_snapshots (symbol, captured_at, last_update_id, price_tick, quantity_lot, levels, bids, asks)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (symbol, captured_at) DO NOTHING
                """)
        try statement.execute(arguments: [
            symbol, capturedAt, book.lastUpdateId, book.priceTick, book.quantityLot, book.levelCount, book.bids, book.asks,
        ])
    }

    public func latestOrderBook(symbol: Symbol, levels: Int) async throws(WarehouseError) -> StoredOrderBook? {
        let stored = try await read("read the latest order book") { db in
            try Row.fetchOne(
                db,
                sql: """
                    SELECT captured_at, last_update_id, price_tick, quantity_lot, levels, bids, asks FROM orderbook_snapshots
                    WHERE symbol = ? ORDER BY captured_at DESC LIMIT 1
                    """,
                arguments: [symbol.rawValue]
            ).map { row in
                (
                    capturedAt: row[0] as Int64,
                    book: CompactOrderBook(
                        lastUpdateId: row[1], priceTick: row[2], quantityLot: row[3], levelCount: row[4], bids: row[5], asks: row[6])
                )
            }
        }
        guard let stored else { return nil }
        do {
            let (bids, asks) = try stored.book.levels(limit: levels)
            return StoredOrderBook(
                symbol: symbol, capturedAt: stored.capturedAt, lastUpdateId: stored.book.lastUpdateId, bids: bids, asks: asks)
        } catch {
            throw WarehouseError(
                .invalidData, operation: "read the order book of \(symbol) at \(UTCTime.iso8601(stored.capturedAt))",
                detail: error.description)
        }
    }

    /// Moves order books still stored a row per level (by a version before `v6-compact-books`) into
    /// `orderbook_snapshots`, a batch per transaction, then drops the old table; a stopped run continues at the next.
    /// Snapshots whose stored values are not decimals stay in `fact_orderbook_v1` (and the table with them).
    func convertLegacyOrderBooks() async throws(WarehouseError) {
        var position: OrderBookLayoutConversion.SnapshotKey?
        var left = 0
        while true {
            let after = position
            let outcome = try await write("convert order books to the compact layout") { db in
                try OrderBookLayoutConversion.convertBatch(LegacySteps(db: db), after: after)
            }
            left += outcome.left
            guard let last = outcome.last else { break }
            position = last
        }
        guard left == 0 else { return }
        try await write("drop the old order-book table") { db in
            if try db.tableExists("fact_orderbook_v1"), try Int.fetchOne(db, sql: "SELECT count(*) FROM fact_orderbook_v1") == 0 {
                try db.execute(sql: "DROP TABLE fact_orderbook_v1")
            }
        }
    }

    /// The old table's rows, read defensively: its file may have been edited, so a value of another type is skipped
    /// or read as unreadable, never a trap.
    struct LegacySteps: OrderBookLayoutConversion.Steps {
        typealias Failure = any Error
        let db: Database

        func legacyTableExists() throws -> Bool { try db.tableExists("fact_orderbook_v1") }

        func nextSnapshots(
            after key: OrderBookLayoutConversion.SnapshotKey?, limit: Int
        ) throws
            -> [OrderBookLayoutConversion.SnapshotKey]
        {
            let typed = "typeof(symbol) = 'text' AND typeof(captured_at) = 'integer'"
            let rows =
                if let key {
                    try Row.fetchAll(
                        db,
                        sql: """
                            SELECT DISTINCT symbol, captured_at FROM fact_orderbook_v1
                            WHERE \(typed) AND (symbol > ? OR (symbol = ? AND captured_at > ?)) ORDER BY symbol, captured_at LIMIT ?
                            """,
                        arguments: [key.symbol, key.symbol, key.capturedAt, limit])
                } else {
                    try Row.fetchAll(
                        db,
                        sql:
                            "SELECT DISTINCT symbol, captured_at FROM fact_orderbook_v1 WHERE \(typed) ORDER BY symbol, captured_at LIMIT ?",
                        arguments: [limit])
                }
            return rows.compactMap { row in
                guard let symbol = String.fromDatabaseValue(row[0]), let capturedAt = Int64.fromDatabaseValue(row[1]) else { return nil }
                return OrderBookLayoutConversion.SnapshotKey(symbol: symbol, capturedAt: capturedAt)
            }
        }

        func levels(symbol: String, from: Int64, through: Int64) throws -> [OrderBookLayoutConversion.LegacyLevel] {
            try Row.fetchAll(
                db,
                sql: """
                    SELECT captured_at, side, price, quantity, last_update_id FROM fact_orderbook_v1
                    WHERE symbol = ? AND captured_at BETWEEN ? AND ? AND typeof(captured_at) = 'integer'
                    ORDER BY captured_at, side, level
                    """,
                arguments: [symbol, from, through]
            ).compactMap { row in
                guard let capturedAt = Int64.fromDatabaseValue(row[0]) else { return nil }
                func decimal(_ index: Int) -> ExactDecimal? {
                    String.fromDatabaseValue(row[index]).flatMap { try? ExactDecimal(parsing: $0) }
                }
                let level = decimal(2).flatMap { price in decimal(3).map { PriceLevel(price: price, quantity: $0) } }
                return OrderBookLayoutConversion.LegacyLevel(
                    capturedAt: capturedAt, isBid: String.fromDatabaseValue(row[1]) == BookSide.bid.rawValue,
                    // An update id that is not an integer makes the level unreadable too.
                    level: Int64.fromDatabaseValue(row[4]) == nil ? nil : level, lastUpdateId: Int64.fromDatabaseValue(row[4]) ?? 0)
            }
        }

        func insert(_ book: CompactOrderBook, symbol: String, capturedAt: Int64) throws {
            try SQLiteWarehouse.insert(db, book, symbol: symbol, capturedAt: capturedAt)
        }

        func deleteLegacy(_ key: OrderBookLayoutConversion.SnapshotKey) throws {
            try db.cachedStatement(sql: "DELETE FROM fact_orderbook_v1 WHERE symbol = ? AND captured_at = ?")
                .execute(arguments: [key.symbol, key.capturedAt])
        }
    }
}
