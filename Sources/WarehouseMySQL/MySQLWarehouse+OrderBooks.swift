public import MarketData
public import Warehouse

/// ``OrderBookStore``: one row per level of each snapshot.
extension MySQLWarehouse {
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

    public func latestOrderBook(symbol: Symbol, levels: Int) async throws(WarehouseError) -> StoredOrderBook? {
        try await run("read the latest order book") { connection throws(MySQLError) in
            var parameters = MySQLParameters(symbol.rawValue)
            guard
                let capturedAt = try connection.query("SELECT max(captured_at) FROM fact_orderbook WHERE symbol = ?", parameters).first?
                    .int64(0)
            else { return nil }
            parameters.append(capturedAt)
            parameters.append(levels)
            let rows = try connection.query(
                """
                SELECT side, price, quantity, last_update_id FROM fact_orderbook
                WHERE symbol = ? AND captured_at = ? AND level < ? ORDER BY side, level
                """, parameters)
            var book = StoredOrderBook(symbol: symbol, capturedAt: capturedAt, lastUpdateId: 0, bids: [], asks: [])
            for row in rows.all {
                let level = PriceLevel(price: try row.requiredDecimal(1), quantity: try row.requiredDecimal(2))
                book.lastUpdateId = try row.requiredInt(3)
                if try row.requiredText(0) == BookSide.bid.rawValue { book.bids.append(level) } else { book.asks.append(level) }
            }
            return book
        }
    }
}
