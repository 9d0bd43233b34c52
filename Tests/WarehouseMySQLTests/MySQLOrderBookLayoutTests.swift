import MarketData
import PipelineTesting
import PipelineTestingMySQL
import Testing
import Warehouse

@testable import WarehouseMySQL

/// The `fact_orderbook` view over `orderbook_snapshots`, and the move of books stored by versions before
/// `v3-compact-books`, on MariaDB.
@Suite(.enabled(if: MySQLTestServer.isAvailable, Comment(rawValue: MySQLTestServer.skipReason)))
struct MySQLOrderBookLayoutTests {
    static let viewQuery = """
        SELECT symbol, captured_at, side, CAST(price AS CHAR), CAST(quantity AS CHAR), level, last_update_id
        FROM fact_orderbook ORDER BY symbol, captured_at, side, level
        """

    static func rows(_ sql: MySQLConnection) throws -> [[String]] {
        try sql.query(viewQuery).all.map { row in (0..<7).map { row.string($0) ?? "NULL" } }
    }

    static func level(_ price: String, _ quantity: String) -> PriceLevel {
        PriceLevel(price: try! ExactDecimal(parsing: price), quantity: try! ExactDecimal(parsing: quantity))
    }

    /// Books of several shapes: Binance-like, with values only the plain form holds, one empty side.
    static let books: [(symbol: String, capturedAt: Int64, book: OrderBookSnapshot)] = {
        var books: [(String, Int64, OrderBookSnapshot)] = []
        for minute in 0..<5 {
            var bids: [PriceLevel] = []
            var asks: [PriceLevel] = []
            for index in 0..<40 {
                bids.append(level("\(43_000 - index * 3).\(10 + minute)", "0.\(String(format: "%05d", 17 * index + 3))"))
                asks.append(level("\(43_001 + index * 2).05", "\(index + 1).5"))
            }
            books.append(
                (
                    "BTCUSDT", 1_700_000_000_000 + Int64(minute) * 120_000,
                    OrderBookSnapshot(lastUpdateId: Int64(1_000 + minute), bids: bids, asks: asks)
                ))
        }
        books.append(
            (
                "ETHUSDT", 1_700_000_000_000,
                OrderBookSnapshot(lastUpdateId: 5, bids: [level("99999999999999999999.5", "1"), level("-2", "0")], asks: [])
            ))
        return books
    }()

    /// Takes the database back to the previous version's schema and fills the per-level table with its statement.
    static func makePreviousVersion(_ sql: MySQLConnection) throws {
        try sql.execute("DROP VIEW fact_orderbook")
        try sql.execute("DROP TABLE orderbook_snapshots")
        try sql.execute("DELETE FROM schema_migrations WHERE id = 'v3-compact-books'")
        try sql.execute(MySQLSchema.migrations[0].statements[1])
        for (symbol, capturedAt, book) in books {
            for (side, levels) in [("bid", book.bids), ("ask", book.asks)] {
                for (index, level) in levels.enumerated() {
                    var parameters = MySQLParameters(symbol)
                    parameters.append(capturedAt)
                    parameters.append(side)
                    parameters.append(level.price)
                    parameters.append(level.quantity)
                    parameters.append(index)
                    parameters.append(book.lastUpdateId)
                    try sql.run(
                        """
                        INSERT INTO fact_orderbook (symbol, captured_at, side, price, quantity, level, last_update_id)
                        VALUES (?, ?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE symbol = symbol
                        """, parameters)
                }
            }
        }
    }

    @Test func aWarehouseOfThePreviousVersionMovesToTheCompactLayoutExactlyEvenWhenStopped() async throws {
        try await MySQLTestServer.withWarehouse { warehouse, configuration in
            let sql = try MySQLConnection(configuration)
            try Self.makePreviousVersion(sql)
            let before = try Self.rows(sql)
            #expect(before.count == 5 * 80 + 2)
            // The schema migrated and one batch of two snapshots moved, then the process stopped.
            try MySQLSchema.migrate(sql, originalViews: nil, warehouse: configuration.database)
            let batch = try sql.transaction { connection throws(MySQLError) in
                try OrderBookLayoutConversion.convertBatch(MySQLWarehouse.LegacySteps(connection: connection), after: nil, limit: 2)
            }
            #expect(batch.moved == 2 && batch.left == 0)
            #expect(try Self.rows(sql).count == 160)
            // The next start continues and ends with every level as it was, and the old table gone.
            try await warehouse.migrate()
            #expect(try Self.rows(sql) == before)
            let legacy = try sql.query(
                "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'fact_orderbook_v1'")
            #expect(legacy.first?.int64(0) == 0)
            #expect(try await warehouse.tableCounts()["fact_orderbook"] == before.count)
            let latest = try await warehouse.latestOrderBook(symbol: try Symbol("BTCUSDT"), levels: 1_000)
            let newest = try #require(Self.books.filter { $0.symbol == "BTCUSDT" }.last)
            #expect(latest?.bids == newest.book.bids && latest?.asks == newest.book.asks)
            let eth = try await warehouse.latestOrderBook(symbol: try Symbol("ETHUSDT"), levels: 1_000)
            #expect(eth?.bids == Self.books.last?.book.bids && eth?.asks == [])
        }
    }

    @Test func theViewUnfoldsWhatTheWarehouseLoadsAndFindsOneSnapshotByKey() async throws {
        try await MySQLTestServer.withWarehouse { warehouse, configuration in
            var expected: [[String]] = []
            for (index, (symbol, capturedAt, book)) in Self.books.enumerated() {
                _ = try await warehouse.loadOrderBook(
                    book, symbol: try Symbol(symbol), capturedAt: capturedAt,
                    object: ProcessedObject(bucket: "crypto-raw", key: "b\(index)", processedAt: 1))
                for (side, levels) in [("ask", book.asks), ("bid", book.bids)] {
                    for (position, level) in levels.enumerated() {
                        expected.append([
                            symbol, "\(capturedAt)", side, level.price.description, level.quantity.description, "\(position)",
                            "\(book.lastUpdateId)",
                        ])
                    }
                }
            }
            let sql = try MySQLConnection(configuration)
            #expect(try Self.rows(sql) == expected)
            let plan = try sql.query(
                "EXPLAIN SELECT * FROM fact_orderbook WHERE symbol = 'BTCUSDT' AND captured_at = 1700000000000"
            ).all.map { "\($0.string(2) ?? "") \($0.string(3) ?? "") \($0.string(5) ?? "")" }
            #expect(plan.contains("s const PRIMARY"), "\(plan)")
        }
    }
}
