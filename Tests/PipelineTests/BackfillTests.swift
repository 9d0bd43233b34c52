import AsyncHTTPClient
import DataLake
import Exchange
import ExchangeSimulator
import Logging
import MarketData
import Pipeline
import PipelineTesting
import Synchronization
import Testing
import Warehouse

/// A backfill goes through the lake, and one killed half-way continues from its checkpoint: complete, nothing twice.
struct BackfillTests {
    static let btc = try! Symbol("BTCUSDT")
    static let eth = try! Symbol("ETHUSDT")
    /// 2026-02-01T12:00:30Z.
    static let now: Int64 = 1_769_947_230_000

    /// Passes requests to the simulator's client until `failAfter` have been answered, then fails every one, like a
    /// process killed while it waits for the exchange; records the start times asked for.
    final class DyingSource: MarketDataSource {
        let inner: any MarketDataSource
        let failAfter: Int
        let starts = Mutex<[Int64]>([])

        init(_ inner: any MarketDataSource, failAfter: Int = .max) {
            self.inner = inner
            self.failAfter = failAfter
        }

        func klines(_ request: KlineRequest) async throws(ExchangeError) -> FetchedResponse<[Kline]> {
            let count = starts.withLock { starts in
                starts.append(request.startTime ?? 0)
                return starts.count
            }
            if count > failAfter { throw ExchangeError(.transport("killed"), endpoint: "/api/v3/klines") }
            return try await inner.klines(request)
        }
        func depth(symbol: Symbol, limit: Int) async throws(ExchangeError) -> FetchedResponse<OrderBookSnapshot> {
            try await inner.depth(symbol: symbol, limit: limit)
        }
        func exchangeInfo() async throws(ExchangeError) -> FetchedResponse<ExchangeInfo> { try await inner.exchangeInfo() }
        func serverTime() async throws(ExchangeError) -> ServerTimeSample { try await inner.serverTime() }
    }

    @Test func aBackfillKilledHalfWayResumesAndEndsCompleteWithoutDuplicates() async throws {
        let clock = ManualClock(Self.now)
        let exchange = SimulatedExchange(
            configuration: .init(seed: 17, symbols: [Self.btc, Self.eth], historyMinutes: 10_000, clock: clock.reader))
        let folder = try TemporaryDirectory("backfill")
        defer { folder.remove() }
        let lake = LocalObjectStore(root: folder.path + "/lake")
        let warehouse = try SQLiteWarehouse(path: folder.path + "/warehouse.sqlite")
        try await warehouse.migrate()
        let logger = Logger(label: "backfill")
        let pipelineClock = clock.reader
        // 3,500 minutes per symbol: four pages each.
        let minute = Interval.oneMinute.openTime(containing: Self.now)
        let from = minute - 4_000 * 60_000
        let to = minute - 501 * 60_000

        try await SimulatorServer.withRunning(exchange) { baseURL in
            let client = BinanceClient(
                configuration: .init(baseURL: baseURL, retry: .none, clock: clock.reader), httpClient: .shared, logger: logger)
            func backfiller(_ source: any MarketDataSource) -> Backfiller {
                let extractor = Extractor(
                    configuration: .init(symbols: [Self.btc, Self.eth]), source: source, lake: lake, warehouse: warehouse,
                    clock: pipelineClock, logger: logger)
                return Backfiller(
                    extractor: extractor, transformer: Transformer(lake: lake, warehouse: warehouse, clock: pipelineClock, logger: logger),
                    pagesPerTransform: 3)
            }

            // Killed during BTC's 3rd page... after the 6th request: BTC done, ETH half-way.
            let dying = DyingSource(client, failAfter: 6)
            await #expect(throws: PipelineError.self) {
                _ = try await backfiller(dying).run(symbols: [Self.btc, Self.eth], from: from, to: to)
            }
            let checkpoint = try #require(try await warehouse.setting(Backfiller.checkpointKey(Self.eth)))
            #expect(checkpoint == "\(from):\(from + 2_000 * 60_000)")

            // The restarted process runs later: its capture times, and so its object names, differ from the first run's.
            clock.advance(milliseconds: 5_000)
            // As if the kill had also come between ETH's 2nd page reaching the lake and its checkpoint: that page again.
            try await warehouse.saveSetting(Backfiller.checkpointKey(Self.eth), value: "\(from):\(from + 1_000 * 60_000)", at: Self.now)
            let second = DyingSource(client)
            let report = try await backfiller(second).run(symbols: [Self.btc, Self.eth], from: from, to: to)
            #expect(!report.interrupted && report.symbolsCompleted == 2)
            #expect(Set(report.resumed) == [Self.btc, Self.eth])
            // BTC was complete: no request for it; ETH continued from the checkpoint.
            #expect(second.starts.withLock { $0 } == [from + 1_000 * 60_000, from + 2_000 * 60_000, from + 3_000 * 60_000])

            // A third run of the same command has nothing left to fetch.
            clock.advance(milliseconds: 5_000)
            let third = DyingSource(client)
            _ = try await backfiller(third).run(symbols: [Self.btc, Self.eth], from: from, to: to)
            #expect(third.starts.withLock { $0 }.isEmpty)
        }

        for symbol in [Self.btc, Self.eth] {
            let stored = try await warehouse.klines(symbol: symbol, interval: .oneMinute, from: 0, to: .max, includeOpen: true, limit: nil)
                .map(\.kline)
            let expected = exchange.market.klines(symbol, interval: .oneMinute, startTime: from, endTime: to, now: Self.now, limit: 10_000)
            #expect(stored.count == 3_500 && stored == expected, "\(symbol)")
        }
        // Every page went through the lake: 4 per symbol, and ETH's 2nd page twice.
        let objects = try await lake.list(bucket: "crypto-raw", prefix: "")
        #expect(objects.count == 9)
    }
}
