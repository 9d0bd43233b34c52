public import MarketData
public import Warehouse

/// ``OrderBookStore``: one `orderbook_snapshots` row per snapshot (``CompactOrderBook``).
extension MySQLWarehouse {
    public func loadOrderBook(
        _ book: OrderBookSnapshot, symbol: Symbol, capturedAt: Int64, object: ProcessedObject
    ) async throws(WarehouseError) -> LoadResult {
        let compact = CompactOrderBook(book)
        return try await write("load \(object.key)") { connection throws(MySQLError) in
            try Self.loadOrderBook(connection, book, compact: compact, symbol: symbol, capturedAt: capturedAt, object: object)
        }
    }

    static func loadOrderBook(
        _ connection: MySQLConnection, _ book: OrderBookSnapshot, compact: CompactOrderBook, symbol: Symbol, capturedAt: Int64,
        object: ProcessedObject
    ) throws(MySQLError) -> LoadResult {
        // A snapshot already stored is left as it is, and all its levels count as unchanged. A book without levels is
        // not stored (as when a level was a row): the newest book stays the newest one with levels.
        let stored = compact.levelCount > 0 ? try insert(connection, compact, symbol: symbol.rawValue, capturedAt: capturedAt) : 0
        let written = stored > 0 ? compact.levelCount : 0
        let total = book.bids.count + book.asks.count
        try recordProcessed(connection, object, rows: total, unchanged: total - written)
        return LoadResult(rowsWritten: written, rowsUnchanged: total - written)
    }

    /// Affected rows: 1 when stored, 0 when the snapshot was there (the no-op update counts 0).
    static func insert(
        _ connection: MySQLConnection, _ book: CompactOrderBook, symbol: String, capturedAt: Int64
    ) throws(MySQLError)
        -> Int
    {
        var parameters = MySQLParameters(capacity: 8)
        parameters.append(symbol)
        parameters.append(capturedAt)
        parameters.append(book.lastUpdateId)
        parameters.append(book.priceTick)
        parameters.append(book.quantityLot)
        parameters.append(book.levelCount)
        parameters.append(book.bids)
        parameters.append(book.asks)
        return try connection.run(
            """
            INSERT INTO orderbook_snapshots (symbol, captured_at, last_update_id, price_tick, quantity_lot, levels, bids, asks)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE symbol = symbol
            """, parameters)
    }

    public func latestOrderBook(symbol: Symbol, levels: Int) async throws(WarehouseError) -> StoredOrderBook? {
        let stored = try await run("read the latest order book") { connection throws(MySQLError) -> (Int64, CompactOrderBook)? in
            guard
                let row = try connection.query(
                    """
                    SELECT captured_at, last_update_id, price_tick, quantity_lot, levels, bids, asks FROM orderbook_snapshots
                    WHERE symbol = ? ORDER BY captured_at DESC LIMIT 1
                    """, MySQLParameters(symbol.rawValue)
                ).first
            else { return nil }
            return (
                try row.requiredInt(0),
                CompactOrderBook(
                    lastUpdateId: try row.requiredInt(1), priceTick: try row.requiredInt(2), quantityLot: try row.requiredInt(3),
                    levelCount: Int(try row.requiredInt(4)), bids: try row.requiredText(5), asks: try row.requiredText(6))
            )
        }
        guard let (capturedAt, book) = stored else { return nil }
        do {
            let (bids, asks) = try book.levels(limit: levels)
            return StoredOrderBook(symbol: symbol, capturedAt: capturedAt, lastUpdateId: book.lastUpdateId, bids: bids, asks: asks)
        } catch {
            throw WarehouseError(
                .invalidData, operation: "read the order book of \(symbol) at \(UTCTime.iso8601(capturedAt))", detail: error.description)
        }
    }

    /// Moves order books still stored a row per level (by a version before `v3-compact-books`) into
    /// `orderbook_snapshots`, a batch per transaction, then drops the old table; a stopped run continues at the next.
    func convertLegacyOrderBooks() async throws(WarehouseError) {
        var position: OrderBookLayoutConversion.SnapshotKey?
        var left = 0
        while true {
            let after = position
            let outcome = try await write("convert order books to the compact layout") { connection throws(MySQLError) in
                do throws(MySQLError) {
                    return try OrderBookLayoutConversion.convertBatch(LegacySteps(connection: connection), after: after)
                } catch  where error.code == Self.noSuchTable {
                    // Another process starting with this one finished the move and dropped the table after we saw it.
                    return OrderBookLayoutConversion.BatchOutcome()
                }
            }
            left += outcome.left
            guard let last = outcome.last else { break }
            position = last
        }
        guard left == 0 else { return }
        try await run("drop the old order-book table") { connection throws(MySQLError) in
            let steps = LegacySteps(connection: connection)
            do throws(MySQLError) {
                if try steps.legacyTableExists(), try connection.query("SELECT COUNT(*) FROM fact_orderbook_v1").first?.int64(0) == 0 {
                    try connection.execute("DROP TABLE IF EXISTS fact_orderbook_v1")
                }
            } catch  where error.code == Self.noSuchTable {
                // Dropped by another process between our look and our count: what this step was for.
            }
        }
    }

    /// `ER_NO_SUCH_TABLE`: what a statement on `fact_orderbook_v1` answers once another process dropped it.
    static let noSuchTable: UInt32 = 1146

    struct LegacySteps: OrderBookLayoutConversion.Steps {
        let connection: MySQLConnection

        func legacyTableExists() throws(MySQLError) -> Bool {
            try connection.query(
                "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'fact_orderbook_v1'"
            ).first?.int64(0) == 1
        }

        func nextSnapshots(
            after key: OrderBookLayoutConversion.SnapshotKey?, limit: Int
        ) throws(MySQLError)
            -> [OrderBookLayoutConversion.SnapshotKey]
        {
            var parameters = MySQLParameters()
            var condition = ""
            if let key {
                condition = "WHERE symbol > ? OR (symbol = ? AND captured_at > ?)"
                parameters.append(key.symbol)
                parameters.append(key.symbol)
                parameters.append(key.capturedAt)
            }
            parameters.append(limit)
            var keys: [OrderBookLayoutConversion.SnapshotKey] = []
            for row in try connection.query(
                "SELECT DISTINCT symbol, captured_at FROM fact_orderbook_v1 \(condition) ORDER BY symbol, captured_at LIMIT ?", parameters
            ).all {
                keys.append(.init(symbol: try row.requiredText(0), capturedAt: try row.requiredInt(1)))
            }
            return keys
        }

        func levels(symbol: String, from: Int64, through: Int64) throws(MySQLError) -> [OrderBookLayoutConversion.LegacyLevel] {
            var parameters = MySQLParameters(symbol)
            parameters.append(from)
            parameters.append(through)
            var levels: [OrderBookLayoutConversion.LegacyLevel] = []
            for row in try connection.query(
                """
                SELECT captured_at, side, price, quantity, last_update_id FROM fact_orderbook_v1
                WHERE symbol = ? AND captured_at BETWEEN ? AND ? ORDER BY captured_at, side, level
                """, parameters
            ).all {
                levels.append(
                    .init(
                        capturedAt: try row.requiredInt(0), isBid: try row.requiredText(1) == BookSide.bid.rawValue,
                        level: PriceLevel(price: try row.requiredDecimal(2), quantity: try row.requiredDecimal(3)),
                        lastUpdateId: try row.requiredInt(4)))
            }
            return levels
        }

        func insert(_ book: CompactOrderBook, symbol: String, capturedAt: Int64) throws(MySQLError) {
            _ = try MySQLWarehouse.insert(connection, book, symbol: symbol, capturedAt: capturedAt)
        }

        func deleteLegacy(_ key: OrderBookLayoutConversion.SnapshotKey) throws(MySQLError) {
            var parameters = MySQLParameters(key.symbol)
            parameters.append(key.capturedAt)
            try connection.run("DELETE FROM fact_orderbook_v1 WHERE symbol = ? AND captured_at = ?", parameters)
        }
    }
}
