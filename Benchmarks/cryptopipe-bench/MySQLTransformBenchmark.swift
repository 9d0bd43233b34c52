import ArgumentParser
import DataLake
import Foundation
import Logging
import MarketData
import Pipeline
import Warehouse
import WarehouseMySQL

/// Transform throughput into MySQL/MariaDB: k-lines per second from lake JSON into `MySQLWarehouse` (multi-row upserts,
/// one transaction per object, roll-ups included), against the original design's loader in the same run: one
/// `INSERT … ON DUPLICATE KEY UPDATE` per row with autocommit, on the same server and connection library.
struct MySQLTransformBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mysql-transform",
        abstract: "Transform into MySQL/MariaDB vs one autocommitted upsert per row (server from --mysql-url or scripts/mysql-test-server)."
    )

    @Option(
        help:
            "Server URL, a user that may create databases (default: CRYPTOPIPE_TEST_MYSQL_URL; password in CRYPTOPIPE_MYSQL_PASSWORD or CRYPTOPIPE_TEST_MYSQL_PASSWORD)."
    )
    var mysqlURL: String?
    @Option(help: "Lake objects to generate.") var files = 100
    @Option(help: "K-lines per object (Binance's page size is 1000).") var klinesPerFile = 1_000
    @Option(help: "Objects the per-row baseline loads (its rate is what counts; it is slow).") var baselineFiles = 10
    @Option(help: "Timed repetitions; the best is reported.") var repetitions = 2
    @Option(help: "Folder to keep the generated lake in and reuse on later runs (default: a temporary folder).") var data: String?

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
        try await TransformBenchmark.generateLake(lake, files: files, klinesPerFile: klinesPerFile)
        let total = files * klinesPerFile
        let admin = MySQLWarehouse(configuration: server)
        print("server: \(try await admin.serverVersion()) at \(server.host):\(server.port)")

        var best = Double.infinity
        for _ in 1...repetitions {
            try await withDatabase(admin, server) { configuration in
                let warehouse = MySQLWarehouse(configuration: configuration)
                try await warehouse.migrate()
                let transformer = Transformer(lake: lake, warehouse: warehouse, logger: Logger(label: "bench"))
                let elapsed = try await ContinuousClock().measure {
                    let report = try await transformer.transformPending()
                    precondition(report.rowsWritten == total, "loaded \(report.rowsWritten) of \(total)")
                }
                let counts = try await warehouse.tableCounts()
                precondition(counts["fact_klines"] == total && (counts["hourly_klines"] ?? 0) >= total / 60 - 1)
                await warehouse.shutdown()
                best = min(best, elapsed.seconds)
            }
        }
        let ours = Double(total) / best
        print(
            String(
                format: "cryptopipe transform into MySQL: %d k-lines in %.3f s = %.0f k-lines/s, hourly and daily roll-ups included",
                total, best, ours))

        let objects = try await lake.list(bucket: "crypto-raw", prefix: "").prefix(baselineFiles)
        var baselineBest = Double.infinity
        var baselineRows = 0
        for _ in 1...repetitions {
            try await withDatabase(admin, server) { configuration in
                let warehouse = MySQLWarehouse(configuration: configuration)
                try await warehouse.migrate()
                await warehouse.shutdown()
                var pages: [(RawEnvelope, [Kline])] = []
                for object in objects {
                    let bytes = try await lake.get(bucket: "crypto-raw", key: object.key)
                    let envelope = try bytes.withUnsafeBufferPointer { try RawEnvelope.decode($0) }
                    pages.append((envelope, try BinanceCodec.decodeKlines(Array(bytes[envelope.dataRange]))))
                }
                let connection = try MySQLConnection(configuration)
                let elapsed = try ContinuousClock().measure { baselineRows = try Self.perRowLoad(connection, pages) }
                baselineBest = min(baselineBest, elapsed.seconds)
            }
        }
        await admin.shutdown()
        let baseline = Double(baselineRows) / baselineBest
        print(
            String(
                format:
                    "baseline, one autocommitted INSERT … ON DUPLICATE KEY UPDATE per row (no roll-ups): %d k-lines in %.3f s = %.0f k-lines/s",
                baselineRows, baselineBest, baseline))
        print(String(format: "ratio: %.1f× the baseline", ours / baseline))
    }

    /// The original design's loader: every candle its own statement and its own commit, then the ledger row.
    static func perRowLoad(_ connection: MySQLConnection, _ pages: [(RawEnvelope, [Kline])]) throws -> Int {
        let sql = """
            INSERT INTO fact_klines (symbol, `interval`, open_time, open, high, low, close, volume, close_time, quote_volume,
                trade_count, taker_buy_base_volume, taker_buy_quote_volume, `ignore`, is_final, captured_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON DUPLICATE KEY UPDATE open = VALUES(open), high = VALUES(high), low = VALUES(low), close = VALUES(close),
                volume = VALUES(volume), close_time = VALUES(close_time), quote_volume = VALUES(quote_volume),
                trade_count = VALUES(trade_count), taker_buy_base_volume = VALUES(taker_buy_base_volume),
                taker_buy_quote_volume = VALUES(taker_buy_quote_volume), captured_at = VALUES(captured_at)
            """
        var rows = 0
        for (envelope, klines) in pages {
            for kline in klines {
                var parameters = MySQLParameters(capacity: 16)
                parameters.append(envelope.symbol.rawValue)
                parameters.append("1m")
                parameters.append(kline.openTime)
                for value in [kline.open, kline.high, kline.low, kline.close, kline.volume] { parameters.append(value) }
                parameters.append(kline.closeTime)
                parameters.append(kline.quoteVolume)
                parameters.append(kline.tradeCount)
                parameters.append(kline.takerBuyBaseVolume)
                parameters.append(kline.takerBuyQuoteVolume)
                parameters.append(kline.ignore)
                parameters.append(kline.isClosed(at: envelope.capturedAt))
                parameters.append(envelope.capturedAt)
                try connection.run(sql, parameters)
                rows += 1
            }
        }
        return rows
    }

    /// Runs `body` with a configuration for a new database, dropped afterwards.
    func withDatabase(
        _ admin: MySQLWarehouse, _ server: MySQLConfiguration, _ body: (MySQLConfiguration) async throws -> Void
    ) async throws {
        let name = "cryptopipe_bench_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(12)
        try await admin.execute("CREATE DATABASE \(name)")
        var configuration = server
        configuration.database = name
        do {
            try await body(configuration)
        } catch {
            try? await admin.execute("DROP DATABASE \(name)")
            throw error
        }
        try await admin.execute("DROP DATABASE \(name)")
    }
}
