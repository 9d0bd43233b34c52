import ArgumentParser
import DataLake
import Foundation
import Logging
import MarketData
import Warehouse
import WarehouseMySQL

/// Bytes per stored order-book level in MySQL/MariaDB (data + index after `ANALYZE TABLE`): the books of the live
/// workload in `orderbook_snapshots`, against the same levels as rows of the per-level table versions before
/// `v3-compact-books` kept.
struct MySQLBookStorageBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mysql-books",
        abstract: "Order-book storage in MySQL/MariaDB: compact snapshots vs a row per level (server from --mysql-url or scripts/mysql-test-server)."
    )

    @Option(help: "Server URL (default: CRYPTOPIPE_TEST_MYSQL_URL; password in CRYPTOPIPE_MYSQL_PASSWORD or CRYPTOPIPE_TEST_MYSQL_PASSWORD).")
    var mysqlURL: String?
    @Option(help: "Symbols of the live workload.") var symbols = 20
    @Option(help: "Minutes per symbol (a book every second minute).") var minutes = 120
    @Option(help: "Levels per side of each book.") var depth = 100
    @Option(help: "Folder to keep the generated lake in and reuse on later runs (default: a temporary folder).") var data: String?

    /// The per-level table as `v1-warehouse` created it.
    static let perLevelTable = """
        CREATE TABLE per_level_orderbook (
            symbol VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
            captured_at BIGINT NOT NULL,
            side VARCHAR(3) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
            price DECIMAL(40,8) NOT NULL,
            quantity DECIMAL(40,8) NOT NULL,
            level INT NOT NULL,
            last_update_id BIGINT NOT NULL,
            PRIMARY KEY (symbol, captured_at, side, price)
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
        """

    func run() async throws {
        LoggingSystem.bootstrap { _ in SwiftLogNoOpLogHandler() }
        let environment = ProcessInfo.processInfo.environment
        guard let url = mysqlURL ?? environment["CRYPTOPIPE_TEST_MYSQL_URL"] else {
            throw ValidationError("give --mysql-url, or start a server with: eval \"$(scripts/mysql-test-server)\"")
        }
        var server = try MySQLConfiguration(url: url)
        server.password = server.password ?? environment["CRYPTOPIPE_MYSQL_PASSWORD"] ?? environment["CRYPTOPIPE_TEST_MYSQL_PASSWORD"]
        let folder = data ?? NSTemporaryDirectory() + "cryptopipe-bench-\(UUID().uuidString)"
        defer { if data == nil { try? FileManager.default.removeItem(atPath: folder) } }
        let lake = LocalObjectStore(root: folder + "/lake")
        _ = try await LiveBenchmark.generateLake(lake, symbols: symbols, minutes: minutes, depth: depth)
        var books: [ObjectLoad] = []
        for object in try await lake.list(bucket: "crypto-raw", prefix: "") where object.key.contains("_depth_") {
            guard let name = LakeLayout.parse(key: object.key) else { continue }
            let bytes = try await lake.get(bucket: "crypto-raw", key: object.key)
            let book = try bytes.withUnsafeBufferPointer { buffer in
                let envelope = try RawEnvelope.decode(buffer)
                return try BinanceCodec.decodeDepth(Array(buffer[envelope.dataRange]))
            }
            books.append(
                .orderBook(
                    book, symbol: name.symbol, capturedAt: name.capturedAt,
                    object: ProcessedObject(bucket: "crypto-raw", key: object.key, processedAt: 0)))
        }
        let levels = books.reduce(0) { total, load in
            guard case .orderBook(let book, _, _, _) = load else { return total }
            return total + book.bids.count + book.asks.count
        }
        let admin = MySQLWarehouse(configuration: server)
        print("server: \(try await admin.serverVersion()); \(books.count) books, \(levels) levels")
        try await MySQLTransformBenchmark().withDatabase(admin, server) { configuration in
            let warehouse = MySQLWarehouse(configuration: configuration)
            try await warehouse.migrate()
            for start in stride(from: 0, to: books.count, by: 64) {
                _ = try await warehouse.loadObjects(Array(books[start..<min(start + 64, books.count)]))
            }
            try await warehouse.execute(Self.perLevelTable)
            for start in stride(from: 0, to: books.count, by: 10) {
                var rows: [String] = []
                for case .orderBook(let book, let symbol, let capturedAt, _) in books[start..<min(start + 10, books.count)] {
                    for (side, sideLevels) in [("bid", book.bids), ("ask", book.asks)] {
                        for (index, level) in sideLevels.enumerated() {
                            rows.append("('\(symbol)', \(capturedAt), '\(side)', \(level.price), \(level.quantity), \(index), \(book.lastUpdateId))")
                        }
                    }
                }
                try await warehouse.execute("INSERT INTO per_level_orderbook VALUES " + rows.joined(separator: ", "))
            }
            try await warehouse.execute("ANALYZE TABLE orderbook_snapshots, per_level_orderbook")
            let connection = try MySQLConnection(configuration)
            var sizes: [String: Int] = [:]
            for row in try connection.query(
                "SELECT TABLE_NAME, DATA_LENGTH + INDEX_LENGTH FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()"
            ).all {
                if let name = row.string(0), let bytes = row.int64(1) { sizes[name] = Int(bytes) }
            }
            let compact = Double(sizes["orderbook_snapshots"] ?? 0) / Double(levels)
            let perLevel = Double(sizes["per_level_orderbook"] ?? 0) / Double(levels)
            print(String(format: "orderbook_snapshots: %.1f bytes per level (data + index: %d bytes)", compact, sizes["orderbook_snapshots"] ?? 0))
            print(String(format: "a row per level:     %.1f bytes per level (data + index: %d bytes)", perLevel, sizes["per_level_orderbook"] ?? 0))
            print(String(format: "ratio: %.2f of the per-level table's bytes", compact / perLevel))
            await warehouse.shutdown()
        }
        await admin.shutdown()
    }
}
