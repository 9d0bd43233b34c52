import GRDB
import GRDBSQLite
public import MarketData

/// ``OrderBookStore``: one row per level of each snapshot.
extension SQLiteWarehouse {
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

    public func latestOrderBook(symbol: Symbol, levels: Int) async throws(WarehouseError) -> StoredOrderBook? {
        try await read("read the latest order book") { db in
            guard
                let capturedAt = try Int64.fetchOne(
                    db, sql: "SELECT max(captured_at) FROM fact_orderbook WHERE symbol = ?", arguments: [symbol.rawValue])
            else { return nil }
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT side, price, quantity, last_update_id FROM fact_orderbook
                    WHERE symbol = ? AND captured_at = ? AND level < ? ORDER BY side, level
                    """,
                arguments: [symbol.rawValue, capturedAt, levels])
            var book = StoredOrderBook(symbol: symbol, capturedAt: capturedAt, lastUpdateId: 0, bids: [], asks: [])
            for row in rows {
                let level = PriceLevel(
                    price: try ExactDecimal(parsing: row[1] as String), quantity: try ExactDecimal(parsing: row[2] as String))
                book.lastUpdateId = row[3]
                if (row[0] as String) == BookSide.bid.rawValue { book.bids.append(level) } else { book.asks.append(level) }
            }
            return book
        }
    }
}
