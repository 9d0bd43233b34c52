import AsyncHTTPClient
import DataLake
import Exchange
import ExchangeSimulator
import Foundation
import Logging
import MarketData
import Pipeline
import PipelineTesting
import PipelineTestingMySQL
import Testing
import Warehouse
import WarehouseMySQL

/// A MariaDB of the test's own is stopped and started again while the pipeline runs. Every outage is caused by an event,
/// never after a delay: the server stops once a load transaction is provably in flight (waiting for a row lock this
/// test holds, its candles already written), and starts again once the warehouse logged that it noticed.
@Suite(.enabled(if: PrivateMariaDB.canLaunch, Comment(rawValue: PrivateMariaDB.skipReason)))
struct MySQLOutageTests {
    static let symbols = [try! Symbol("BTCUSDT"), try! Symbol("ETHUSDT")]
    /// 2026-03-01T00:00:10Z.
    static let start: Int64 = 1_772_323_210_000

    @Test func theServerRestartsMidRunAndNothingIsLostOrDoubled() async throws {
        let server = try await PrivateMariaDB.launch()
        let folder = try TemporaryDirectory("mysql-outage")
        defer { folder.remove() }
        let records = LogRecorder()
        let logger = records.logger()
        var patient = server.configuration
        patient.reconnectWindow = .seconds(60)
        let warehouse = MySQLWarehouse(configuration: patient, logger: logger)
        try await warehouse.migrate()
        let clock = ManualClock(Self.start)
        let exchange = SimulatedExchange(configuration: .init(seed: 31, symbols: Self.symbols, historyMinutes: 4_000, clock: clock.reader))
        let lake = LocalObjectStore(root: folder.path + "/lake")

        try await SimulatorServer.withRunning(exchange) { baseURL in
            let client = BinanceClient(
                configuration: .init(baseURL: baseURL, retry: .none, clock: clock.reader), httpClient: .shared, logger: logger)
            let extractor = Extractor(
                configuration: .init(symbols: Self.symbols, initialCandles: 1_000, depthLimit: 20), source: client, lake: lake,
                warehouse: warehouse, clock: clock.reader, logger: logger)
            // Forty cycles' worth of raw objects in the lake, nothing transformed yet.
            for _ in 0..<40 {
                let report = await extractor.extractAll()
                #expect(report.failures.isEmpty, "\(report.failures.map(\.message))")
                clock.advance(milliseconds: 61_000)
            }
            let objects = try await lake.list(bucket: "crypto-raw", prefix: "").count
            #expect(objects == 160)

            // 1. The server is down for longer than an impatient warehouse waits: the transform fails with the reason,
            //    and loads nothing.
            await server.shutDown()
            var impatient = warehouse.configuration
            impatient.reconnectWindow = .milliseconds(500)
            let hasty = MySQLWarehouse(configuration: impatient, logger: logger)
            let transformer: @Sendable (any Warehouse) -> Transformer = { warehouse in
                Transformer(lake: lake, warehouse: warehouse, clock: clock.reader, logger: logger)
            }
            let failed = await failure { () async throws(PipelineError) in _ = try await transformer(hasty).transformPending() }
            #expect(failed?.description.contains("Can't connect") == true, "\(String(describing: failed))")
            await hasty.shutdown()

            // 2. The server comes back while a patient transform waits (it logged the outage): it goes on.
            let noticedBefore = Self.outagesNoticed(records).count
            async let patient = transformer(warehouse).transformPending()
            try await waitUntil("the patient transform to notice the outage") { Self.outagesNoticed(records).count > noticedBefore }
            try await server.restart()
            let first = try await patient
            #expect(first.objects == 160)

            // 3. The server stops in the middle of a load transaction (three times, at a different object each time) and
            //    comes back: the transaction cut off is run again on a new connection.
            for round in 0..<3 {
                for _ in 0..<15 {
                    _ = await extractor.extractAll()
                    clock.advance(milliseconds: 61_000)
                }
                let processed = try await warehouse.processedObjectKeys(withPrefix: "")
                let pending = try await lake.list(bucket: "crypto-raw", prefix: "").map(\.key).filter { !processed.contains($0) }.sorted()
                try #require(pending.count == 60)
                // Each round cuts a different load of the pass: the 1st, the 21st, the 41st.
                let held = pending[round * 20]
                let lock = try await Self.holdLedgerRow(held, on: server)
                async let transformed = transformer(warehouse).transformPending()
                // The load of `held` inserts its ledger row last, after its candles or levels: it now waits for our lock.
                // InnoDB refreshes its transaction table only when it was not read for 100 ms: check less often than that.
                var written: Int64 = 0
                try await waitUntil("the load of \(held) to wait for the ledger row", checkingEvery: .milliseconds(150)) {
                    written = try await Self.lockWaitRowsModified(lock) ?? 0
                    return written > 0
                }
                let noticed = Self.outagesNoticed(records).count
                await server.shutDown()
                try await waitUntil("the warehouse to notice the outage") { Self.outagesNoticed(records).count > noticed }
                // The cut transaction is the load of `held` with the objects read by then: its notice names the batch.
                let cut = Self.outagesNoticed(records).last ?? ""
                #expect(cut.contains("load \(held)") || cut.contains(" to \(held)") || cut.contains("objects, "), "\(cut)")
                try await server.restart()
                let report = try await transformed
                #expect(report.objects == 60, "round \(round): \(report.objects) objects after cutting a transaction of \(written) rows")
            }
            #expect(try await transformer(warehouse).transformPending().objects == 0)

            let lines = records.all
            // Step 2 and the three cuts each ended with the server back.
            #expect(lines.filter { $0.contains("MySQL server reachable again") }.count >= 4, "\(lines)")

            // Every object is in the ledger once; every closed candle the simulator served is stored once, exactly.
            let ledger = try await warehouse.ledgerSummary()
            #expect(ledger.processedFiles == (try await lake.list(bucket: "crypto-raw", prefix: "").count))
            let lastCapture = clock.now - 61_000
            for symbol in Self.symbols {
                let stored = try await warehouse.klines(
                    symbol: symbol, interval: .oneMinute, from: 0, to: .max, includeOpen: false, limit: nil
                ).map(\.kline)
                let expected = exchange.market.klines(
                    symbol, interval: .oneMinute, startTime: stored.first?.openTime ?? 0, endTime: .max, now: lastCapture, limit: 100_000
                ).filter { $0.closeTime + Kline.finalityMarginMilliseconds < lastCapture }
                #expect(stored.count == expected.count && stored.count > 1_000)
                #expect(stored == expected)
                #expect(Set(stored.map(\.openTime)).count == stored.count)
                #expect(try await warehouse.missingMinutes(symbol: symbol).isEmpty)
                let hours = try await warehouse.klines(
                    symbol: symbol, interval: .oneHour, from: Interval.oneHour.nextOpenTime(after: stored[0].openTime), to: .max,
                    includeOpen: false, limit: nil
                ).map(\.kline)
                let served = exchange.market.klines(
                    symbol, interval: .oneHour, startTime: hours.first?.openTime ?? 0, endTime: hours.last?.openTime ?? 0,
                    now: lastCapture, limit: 100)
                #expect(hours.count >= 15 && hours == served)
            }
        }
        await warehouse.shutdown()
        await server.shutDown()
    }

    /// Log lines of a warehouse noticing that the server went away.
    static func outagesNoticed(_ records: LogRecorder) -> [String] {
        records.all.filter { $0.contains("MySQL server unreachable; retrying") }
    }

    /// Opens a connection of its own that inserts `key`'s ledger row and keeps the transaction open, so a load of that
    /// object blocks at its last statement until the connection goes (rolled back with it when the server stops).
    static func holdLedgerRow(_ key: String, on server: PrivateMariaDB) async throws -> MySQLConnection {
        let configuration = server.configuration
        return try await PrivateMariaDB.offThePool {
            let connection = try MySQLConnection(configuration)
            try connection.execute("START TRANSACTION")
            _ = try connection.run(
                "INSERT INTO processed_files (object_key, bucket, processed_at, `rows`) VALUES (?, 'crypto-raw', 0, 0)",
                MySQLParameters(key))
            return connection
        }
    }

    /// Rows written by a transaction that waits for a lock (`nil` when none waits).
    static func lockWaitRowsModified(_ connection: MySQLConnection) async throws -> Int64? {
        try await PrivateMariaDB.offThePool {
            try connection.query("SELECT trx_rows_modified FROM information_schema.INNODB_TRX WHERE trx_state = 'LOCK WAIT'").first?
                .int64(0)
        }
    }
}
