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
        try insert(db, compact, symbol: symbol.rawValue, capturedAt: capturedAt)
        // A snapshot already stored is left as it is, and all its levels count as unchanged.
        let written = db.changesCount > 0 ? compact.levelCount : 0
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
    func convertLegacyOrderBooks() async throws(WarehouseError) {
        let hasLegacy = try await read("look for order books in the old layout") { db in
            try db.tableExists("fact_orderbook_v1")
        }
        guard hasLegacy else { return }
        while try await write(
            "convert order books to the compact layout",
            { db in
                try OrderBookLayoutConversion.convertBatch(LegacySteps(db: db))
            }) > 0
        {}
        try await write("drop the old order-book table") { db in try db.execute(sql: "DROP TABLE fact_orderbook_v1") }
    }

    struct LegacySteps: OrderBookLayoutConversion.Steps {
        typealias Failure = any Error
        let db: Database

        func nextSnapshots(limit: Int) throws -> [(symbol: String, capturedAt: Int64)] {
            try Row.fetchAll(
                db,
                sql: "SELECT DISTINCT symbol, captured_at FROM fact_orderbook_v1 ORDER BY symbol, captured_at LIMIT ?",
                arguments: [limit]
            ).map { ($0[0], $0[1]) }
        }

        func levels(symbol: String, from: Int64, through: Int64) throws -> [OrderBookLayoutConversion.LegacyLevel] {
            try Row.fetchAll(
                db,
                sql: """
                    SELECT captured_at, side, price, quantity, last_update_id FROM fact_orderbook_v1
                    WHERE symbol = ? AND captured_at BETWEEN ? AND ? ORDER BY captured_at, side, level
                    """,
                arguments: [symbol, from, through]
            ).map { row in
                OrderBookLayoutConversion.LegacyLevel(
                    capturedAt: row[0], isBid: (row[1] as String) == BookSide.bid.rawValue,
                    level: PriceLevel(
                        price: try ExactDecimal(parsing: row[2] as String), quantity: try ExactDecimal(parsing: row[3] as String)),
                    lastUpdateId: row[4])
            }
        }

        func insert(_ book: CompactOrderBook, symbol: String, capturedAt: Int64) throws {
            try SQLiteWarehouse.insert(db, book, symbol: symbol, capturedAt: capturedAt)
        }

        func deleteLegacy(symbol: String, from: Int64, through: Int64) throws {
            try db.execute(
                sql: "DELETE FROM fact_orderbook_v1 WHERE symbol = ? AND captured_at BETWEEN ? AND ?",
                arguments: [symbol, from, through])
        }
    }
}
