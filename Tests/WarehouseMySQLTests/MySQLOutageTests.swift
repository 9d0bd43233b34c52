import AsyncHTTPClient
import DataLake
import Exchange
import ExchangeSimulator
import Foundation
import Logging
import MarketData
import Pipeline
import PipelineTesting
import Testing
import Warehouse
import WarehouseMySQL

/// A MariaDB of the test's own is stopped and started again while the pipeline runs.
@Suite(.enabled(if: PrivateMariaDB.isAvailable && MySQLTestServer.isAvailable, Comment(rawValue: MySQLTestServer.skipReason)))
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
                warehouse: warehouse, clock: PipelineClock(now: clock.reader), logger: logger)
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
            let transformer = { (warehouse: any Warehouse) in
                Transformer(lake: lake, warehouse: warehouse, clock: PipelineClock(now: clock.reader), logger: logger)
            }
            let failed = await failure { () async throws(PipelineError) in _ = try await transformer(hasty).transformPending() }
            #expect(failed?.description.contains("Can't connect") == true, "\(String(describing: failed))")
            await hasty.shutdown()

            // 2. The server comes back while a patient transform waits: it goes on.
            let restart = Task.detached {
                try await Task.sleep(for: .milliseconds(800))
                try await server.restart()
            }
            let first = try await transformer(warehouse).transformPending()
            try await restart.value
            #expect(first.objects > 0)

            // 3. The server stops in the middle of a transform (three times) and comes back: transactions cut off are
            //    run again on new connections.
            for round in 0..<3 {
                for _ in 0..<15 {
                    _ = await extractor.extractAll()
                    clock.advance(milliseconds: 61_000)
                }
                let outage = Task.detached {
                    try await Task.sleep(for: .milliseconds(30 + 40 * round))
                    await server.shutDown()
                    try await Task.sleep(for: .milliseconds(700))
                    try await server.restart()
                }
                _ = try await transformer(warehouse).transformPending()
                try await outage.value
            }
            // Whatever a cut-off cycle left behind, the next one loads.
            _ = try await transformer(warehouse).transformPending()

            let lines = records.all
            #expect(lines.contains { $0.contains("MySQL server unreachable; retrying") })
            #expect(lines.filter { $0.contains("MySQL server reachable again") }.count >= 2)
            // At least one raw object's load transaction was cut off and run again.
            #expect(lines.contains { $0.contains("MySQL server unreachable; retrying") && $0.contains("load 2026-03-01/") }, "\(lines)")

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
}
