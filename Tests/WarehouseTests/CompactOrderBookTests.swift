import Foundation
import GRDB
import MarketData
import PipelineTesting
import Testing

@testable import Warehouse

struct CompactOrderBookTests {
    static func level(_ price: String, _ quantity: String) -> PriceLevel {
        PriceLevel(price: try! ExactDecimal(parsing: price), quantity: try! ExactDecimal(parsing: quantity))
    }

    /// A book shaped like Binance's: prices a few ticks apart, quantities multiples of the lot.
    static func binanceLikeBook(levels: Int, seed: UInt64) -> OrderBookSnapshot {
        var random = SeededGenerator(seed: seed)
        var bid: Int128 = 9_612_345 * 1_000_000
        var ask = bid + 1_000_000
        var bids: [PriceLevel] = []
        var asks: [PriceLevel] = []
        for _ in 0..<levels {
            bids.append(
                PriceLevel(
                    price: ExactDecimal(units: bid), quantity: ExactDecimal(units: Int128.random(in: 1...500_000, using: &random) * 1_000)))
            asks.append(
                PriceLevel(
                    price: ExactDecimal(units: ask), quantity: ExactDecimal(units: Int128.random(in: 1...500_000, using: &random) * 1_000)))
            bid -= Int128.random(in: 1...4, using: &random) * 1_000_000
            ask += Int128.random(in: 1...4, using: &random) * 1_000_000
        }
        return OrderBookSnapshot(lastUpdateId: 77, bids: bids, asks: asks)
    }

    @Test func aBinanceLikeBookRoundTripsInAboutTenBytesALevel() throws {
        let book = Self.binanceLikeBook(levels: 100, seed: 7)
        let compact = CompactOrderBook(book)
        #expect(compact.priceTick == 1_000_000 && compact.quantityLot == 1_000)
        let bytesPerLevel = Double(compact.bids.utf8.count + compact.asks.utf8.count) / 200
        #expect(bytesPerLevel < 12, "\(bytesPerLevel) bytes per level")
        let all = try compact.levels(limit: 1_000)
        #expect(all.bids == book.bids && all.asks == book.asks)
        let top = try compact.levels(limit: 5)
        #expect(top.bids == Array(book.bids.prefix(5)) && top.asks == Array(book.asks.prefix(5)))
    }

    @Test func theStoredTextIsStepsAndLots() {
        let book = OrderBookSnapshot(
            lastUpdateId: 1, bids: [Self.level("96123.45", "0.00123"), Self.level("96123.44", "0.00005")],
            asks: [Self.level("96123.46", "0.00007"), Self.level("96123.48", "1")])
        let compact = CompactOrderBook(book)
        #expect(compact.priceTick == 1_000_000 && compact.quantityLot == 1_000 && compact.levelCount == 4)
        #expect(compact.bids == "[[9612345,123],[1,5]]")
        #expect(compact.asks == "[[9612346,7],[2,100000]]")
        #expect(CompactOrderBook(OrderBookSnapshot(lastUpdateId: 1, bids: [], asks: [])).bids == "[]")
    }

    @Test func integersAreWrittenAsTheirDecimalDigits() {
        for value in [0, 7, -7, 10, 1_234_567_890, Int64.max, Int64.min, Int64.min + 1] {
            var bytes: [UInt8] = []
            CompactOrderBook.appendDecimal(value, to: &bytes)
            #expect(String(decoding: bytes, as: UTF8.self) == String(value))
        }
    }

    @Test func valuesBeyondTheCompactRangeKeepThePlainForm() throws {
        let book = OrderBookSnapshot(
            lastUpdateId: 1, bids: [Self.level("46116860184.27387904", "1")], asks: [Self.level("-1", "2")])
        let compact = CompactOrderBook(book)
        #expect(compact.priceTick == 0)
        #expect(compact.bids == #"[["46116860184.27387904","1.00000000"]]"#)
        let levels = try compact.levels(limit: 10)
        #expect(levels.bids == book.bids && levels.asks == book.asks)
        // The largest compact value still is.
        let edge = CompactOrderBook(
            OrderBookSnapshot(
                lastUpdateId: 1, bids: [Self.level("46116860184.27387903", "46116860184.27387903"), Self.level("0", "0")], asks: []))
        #expect(edge.priceTick != 0)
        #expect(try edge.levels(limit: 10).bids == [Self.level("46116860184.27387903", "46116860184.27387903"), Self.level("0", "0")])
    }

    @Test(arguments: [
        "", "[", "[[1,2]", "[[1]]", "[1,2]", "[[1,2],]", "[[a,1]]", "[[99999999999999999999,1]]", #"[["1","2"]]"#, "[[-,1]]",
        "[[4611686018427387903,4611686018427387903]]", "[[1,2][3,4]]",
    ])
    func damagedStoredSidesAreErrors(text: String) {
        // A tick of 4 makes the large pair overflow; text pairs are not the compact form.
        let book = CompactOrderBook(lastUpdateId: 1, priceTick: 4, quantityLot: 4, levelCount: 1, bids: text, asks: "[]")
        #expect(throws: CompactOrderBookError.self) { try book.levels(limit: 10) }
    }

    @Test func damagedPlainSidesAndBadDivisorsAreErrors() {
        for (tick, lot, text) in [
            (0, 1, "[[1,2]]"), (0, 1, #"[["1.5","x"]]"#), (0, 1, #"[["1.5","2]]"#), (-1, 1, "[[1,2]]"), (1, 0, "[[1,2]]"),
        ] {
            let book = CompactOrderBook(
                lastUpdateId: 1, priceTick: Int64(tick), quantityLot: Int64(lot), levelCount: 1, bids: text, asks: "[]")
            #expect(throws: CompactOrderBookError.self, "\(tick) \(lot) \(text)") { try book.levels(limit: 10) }
        }
    }
}

/// The `fact_orderbook` view and the move of books stored by versions before `v6-compact-books`.
struct SQLiteOrderBookLayoutTests {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/warehouse-before-compact-books.sql")

    static let viewQuery = """
        SELECT symbol, CAST(captured_at AS TEXT), side, price, quantity, CAST(level AS TEXT), CAST(last_update_id AS TEXT)
        FROM fact_orderbook ORDER BY symbol, captured_at, side, level
        """

    static func rows(_ db: Database) throws -> [[String]] {
        try Row.fetchAll(db, sql: viewQuery).map { row in (0..<row.count).map { row[$0] as String } }
    }

    /// A warehouse the previous version filled (its `.dump`: `extract` of two symbols' books from the simulator,
    /// then `transform`), and the old table's rows before any migration.
    static func oldWarehouse(in folder: TemporaryDirectory) throws -> (path: String, levels: [[String]]) {
        let path = folder.path + "/warehouse.sqlite"
        let queue = try DatabaseQueue(path: path)
        try queue.writeWithoutTransaction { db in try db.execute(sql: String(contentsOf: fixture, encoding: .utf8)) }
        let levels = try queue.read { db in try rows(db) }
        try queue.close()
        return (path, levels)
    }

    @Test func aWarehouseOfThePreviousVersionMovesToTheCompactLayoutExactly() async throws {
        let folder = try TemporaryDirectory("books")
        defer { folder.remove() }
        let (path, before) = try Self.oldWarehouse(in: folder)
        #expect(before.count == 240)
        let warehouse = try SQLiteWarehouse(path: path)
        try await warehouse.migrate()
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        let (after, snapshots, legacy) = try await queue.read { db in
            (
                try Self.rows(db), try Int.fetchOne(db, sql: "SELECT count(*) FROM orderbook_snapshots"),
                try db.tableExists("fact_orderbook_v1")
            )
        }
        #expect(after == before)
        #expect(snapshots == 6 && !legacy)
        #expect(try await warehouse.tableCounts()["fact_orderbook"] == 240)
        let latest = try #require(try await warehouse.latestOrderBook(symbol: Symbol("ETHUSDT"), levels: 100))
        let capturedAt = String(latest.capturedAt)
        let newest: [[String]] = before.filter { row in row[0] == "ETHUSDT" && row[1] == capturedAt }
        #expect(newest.count == 40 && latest.bids.count == 20 && latest.asks.count == 20)
        let bidPrices: [String] = newest.filter { row in row[2] == "bid" }.map { row in row[3] }
        let askQuantities: [String] = newest.filter { row in row[2] == "ask" }.map { row in row[4] }
        #expect(bidPrices == latest.bids.map { level in level.price.description })
        #expect(askQuantities == latest.asks.map { level in level.quantity.description })
        // Migrating again finds nothing to do.
        try await warehouse.migrate()
        #expect(try await queue.read { db in try Self.rows(db) } == before)
    }

    @Test func aStoppedMoveContinuesAtTheNextStart() async throws {
        let folder = try TemporaryDirectory("books")
        defer { folder.remove() }
        let (path, before) = try Self.oldWarehouse(in: folder)
        // The schema migrated and one batch of two snapshots moved, then the process stopped.
        let queue = try DatabaseQueue(path: path)
        try SQLiteSchema.migrator.migrate(queue)
        let batch = try await queue.write { db in
            try OrderBookLayoutConversion.convertBatch(SQLiteWarehouse.LegacySteps(db: db), after: nil, limit: 2)
        }
        #expect(batch.moved == 2 && batch.left == 0)
        let (halfway, left) = try await queue.read { db in
            (try Self.rows(db), try Int.fetchOne(db, sql: "SELECT count(DISTINCT captured_at || symbol) FROM fact_orderbook_v1"))
        }
        #expect(halfway.count == 80 && left == 4)
        try queue.close()
        let warehouse = try SQLiteWarehouse(path: path)
        try await warehouse.migrate()
        let reopened = try DatabaseQueue(path: path)
        defer { try? reopened.close() }
        #expect(try await reopened.read { db in try Self.rows(db) } == before)
    }

    /// An edited file: rows whose values are not decimals, or whose time is not an integer, stay in the old table; the
    /// move ends, and every other snapshot is moved.
    @Test func unreadableOldRowsStayBehindAndTheMoveEnds() async throws {
        let folder = try TemporaryDirectory("books")
        defer { folder.remove() }
        let (path, before) = try Self.oldWarehouse(in: folder)
        let queue = try DatabaseQueue(path: path)
        try await queue.write { db in
            try db.execute(
                sql: """
                    INSERT INTO fact_orderbook VALUES ('BTCUSDT', 5, 'bid', 'abc', '1.00000000', 0, 1);
                    INSERT INTO fact_orderbook VALUES ('BTCUSDT', 5, 'ask', '2.00000000', '1.00000000', 0, 1);
                    INSERT INTO fact_orderbook VALUES ('BTCUSDT', 6.5, 'bid', '1.00000000', '1.00000000', 0, 1);
                    INSERT INTO fact_orderbook VALUES ('ZZZUSDT', 7, 'bid', '1.00000000', '1.00000000', 0, 'x');
                    """)
        }
        try queue.close()
        let warehouse = try SQLiteWarehouse(path: path)
        try await warehouse.migrate()
        try await warehouse.migrate()
        let reopened = try DatabaseQueue(path: path)
        defer { try? reopened.close() }
        let (after, left) = try await reopened.read { db in
            (try Self.rows(db), try Int.fetchOne(db, sql: "SELECT count(*) FROM fact_orderbook_v1"))
        }
        #expect(after == before)
        #expect(left == 4)
    }

    @Test func theViewUnfoldsCompactAndPlainSnapshotsAsTheOldTableHeldThem() async throws {
        let folder = try TemporaryDirectory("books")
        defer { folder.remove() }
        let path = folder.path + "/warehouse.sqlite"
        let warehouse = try SQLiteWarehouse(path: path)
        try await warehouse.migrate()
        let btc = try Symbol("BTCUSDT")
        let book = CompactOrderBookTests.binanceLikeBook(levels: 30, seed: 3)
        let plain = OrderBookSnapshot(
            lastUpdateId: 9, bids: [CompactOrderBookTests.level("99999999999999999999.5", "1")],
            asks: [CompactOrderBookTests.level("-2", "0")])
        for (index, snapshot) in [book, plain].enumerated() {
            _ = try await warehouse.loadOrderBook(
                snapshot, symbol: btc, capturedAt: Int64(index + 1),
                object: ProcessedObject(bucket: "crypto-raw", key: "b\(index)", processedAt: 1))
        }
        var expected: [[String]] = []
        for (index, snapshot) in [book, plain].enumerated() {
            for (side, levels) in [("ask", snapshot.asks), ("bid", snapshot.bids)] {
                for (position, level) in levels.enumerated() {
                    expected.append([
                        "BTCUSDT", "\(index + 1)", side, level.price.description, level.quantity.description, "\(position)",
                        "\(snapshot.lastUpdateId)",
                    ])
                }
            }
        }
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        let unfolded = try await queue.read { db in
            try SQLiteOrderBookLayoutTests.rows(db)
        }
        #expect(unfolded == expected)
        let one = try await queue.read { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM fact_orderbook WHERE symbol = 'BTCUSDT' AND captured_at = 2")
        }
        #expect(one == 2)
    }
}
