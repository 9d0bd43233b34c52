import AsyncHTTPClient
import DataLake
import Exchange
import ExchangeSimulator
import Logging
import MarketData
import Pipeline
import PipelineTesting
import Testing
import Warehouse

/// Hours of extract-transform cycles against a simulator that answers one request in five with a fault, on a virtual
/// clock: nothing stops the pipeline, the exchange never bans it, and after gap filling the warehouse holds exactly
/// the exchange's closed candles.
struct ChaosTests {
    static let symbols: [Symbol] = ["BTCUSDT", "ETHUSDT", "SOLUSDT"].map { try! Symbol($0) }
    /// 2026-03-01T00:00:05Z.
    static let start: Int64 = 1_772_323_205_000
    static let cycles = 240

    @Test func fourHoursAtTwentyPercentFaultsEndWithTheExchangesCandlesExactly() async throws {
        let clock = ManualClock(Self.start)
        let exchange = SimulatedExchange(
            configuration: .init(
                seed: 2_024, symbols: Self.symbols, historyMinutes: 600, clock: clock.reader,
                faults: FaultConfiguration(rate: 0.2, seed: 11, hang: .milliseconds(800), burstSeconds: 2)))
        let folder = try TemporaryDirectory("chaos")
        defer { folder.remove() }
        let lake = LocalObjectStore(root: folder.path + "/lake")
        let warehouse = try SQLiteWarehouse(path: folder.path + "/warehouse.sqlite")
        try await warehouse.migrate()
        let logger = {
            var logger = Logger(label: "chaos")
            // Hundreds of retries are expected here; only errors are worth reading.
            logger.logLevel = .error
            return logger
        }()
        // Waiting for the budget (after a 429) is the only thing that moves virtual time besides the cycles.
        // The budget's sleeps are the clock's: a wait moves it.
        let budget = WeightBudget(clock: PipelineClock(AdvancingClock(manual: clock)))

        // The simulator's handlers and the pipeline run on a thread of their own: a request's 300 ms timeout is real
        // time, and on the shared cooperative pool (two threads here) other tests' work could hold a normal answer back
        // past it. The faults stay the only reason a request times out.
        let executor = DedicatedThreadExecutor(label: "chaos")
        let (failures, fill) = try await withTaskExecutorPreference(executor) {
            try await Self.run(exchange, clock: clock, budget: budget, lake: lake, warehouse: warehouse, logger: logger, executor: executor)
        }

        #expect(fill.failures.isEmpty, "\(fill.failures)")
        let injected = exchange.injectedFaults
        #expect(Set(injected.keys) == Set(FaultKind.requestKinds), "\(injected)")
        #expect(injected.values.reduce(0, +) > 300, "\(injected)")
        #expect(exchange.limitStatistics.banned == 0)
        #expect(exchange.limitStatistics.rateLimited == 0)

        let end = clock.now
        for symbol in Self.symbols {
            let stored = try await warehouse.klines(symbol: symbol, interval: .oneMinute, from: 0, to: .max, includeOpen: false, limit: nil)
                .map(\.kline)
            let first = try #require(stored.first).openTime
            let expected = exchange.market.klines(symbol, interval: .oneMinute, startTime: first, endTime: .max, now: end, limit: 100_000)
                .filter { $0.closeTime + Kline.finalityMarginMilliseconds < end }
            #expect(stored.count >= Self.cycles && stored.count == expected.count, "\(symbol): \(stored.count) vs \(expected.count)")
            #expect(zip(stored, expected).first { $0 != $1 } == nil, "\(symbol) differs")
            #expect(try await warehouse.missingMinutes(symbol: symbol).isEmpty)
            // Complete hours rolled up equal the exchange's own 1h candles.
            let hours = try await warehouse.klines(
                symbol: symbol, interval: .oneHour, from: first + 3_600_000, to: end - 7_200_000, includeOpen: false, limit: nil
            ).map(\.kline)
            let firstHour = try #require(hours.first).openTime
            let lastHour = try #require(hours.last).openTime
            let exchangeHours = exchange.market.klines(
                symbol, interval: .oneHour, startTime: firstHour, endTime: lastHour, now: end, limit: 1_000)
            #expect(hours.count >= 2 && hours == exchangeHours)
        }
        // Four attempts at one-in-five faults: running out of retries is rare, and never stops the run.
        #expect(failures < Self.cycles / 10, "\(failures) symbols ran out of retries")
    }

    static func run(
        _ exchange: SimulatedExchange, clock: ManualClock, budget: WeightBudget, lake: LocalObjectStore, warehouse: SQLiteWarehouse,
        logger: Logger, executor: DedicatedThreadExecutor
    ) async throws -> (failures: Int, fill: GapFiller.FillReport) {
        let pipelineClock = clock.reader
        return try await SimulatorServer.withRunning(exchange, executor: executor) { baseURL in
            let client = BinanceClient(
                configuration: .init(
                    baseURL: baseURL, requestTimeout: .milliseconds(300),
                    retry: RetryPolicy(maxAttempts: 4, baseDelay: .milliseconds(1), maxDelay: .milliseconds(20)), clock: clock.reader,
                    budget: budget),
                httpClient: .shared, logger: logger)
            let extractor = Extractor(
                configuration: .init(symbols: Self.symbols, initialCandles: 60, depthLimit: 20), source: client, lake: lake,
                warehouse: warehouse, clock: pipelineClock, logger: logger)
            let transformer = Transformer(lake: lake, warehouse: warehouse, clock: pipelineClock, logger: logger)
            var failures = 0
            var lastFailures = 0
            for _ in 0..<Self.cycles {
                clock.advance(milliseconds: 60_000)
                let report = await extractor.extractAll()
                // A symbol whose retries ran out is reported and picked up by the next cycle; the run goes on.
                failures += report.failures.count
                lastFailures = report.failures.count
                let transformed = try await transformer.transformPending()
                #expect(transformed.rejected == 0)
            }
            // The last cycle's failures have no next cycle to pick them up (a gap fill covers only minutes between
            // stored ones): further cycles at the same time do, as they would in a running pipeline.
            for _ in 0..<5 where lastFailures > 0 {
                lastFailures = await extractor.extractAll().failures.count
                #expect(try await transformer.transformPending().rejected == 0)
            }
            let filler = GapFiller(
                extractor: extractor, transformer: transformer, warehouse: warehouse, clock: pipelineClock, logger: logger)
            var fill = GapFiller.FillReport()
            for _ in 0..<5 {
                fill = try await filler.fill(Self.symbols)
                if fill.failures.isEmpty { break }
            }
            // Waiting out a 429 moves the virtual clock, so a minute can close after its symbol's last extraction. The
            // comparison is made at the time of a final extraction that completed without moving the clock: the
            // warehouse then holds every candle closed by that time, which is what the exchange is compared at.
            var settled = false
            for _ in 0..<50 where !settled {
                let before = clock.now
                let report = await extractor.extractAll()
                #expect(try await transformer.transformPending().rejected == 0)
                settled = report.failures.isEmpty && clock.now == before
            }
            #expect(settled, "no extraction completed without waiting for the exchange's limits")
            return (failures, fill)
        }
    }
}
