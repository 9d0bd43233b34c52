import AsyncHTTPClient
import Exchange
import ExchangeSimulator
import Logging
import MarketData
import PipelineTesting
import Testing

/// The client's weight budget against the simulator's Binance-like limits, on a virtual clock.
struct WeightBudgetTests {
    static let btc = try! Symbol("BTCUSDT")
    /// 2026-01-01T00:00:30Z.
    static let start: Int64 = 1_767_225_630_000

    static func client(_ baseURL: String, clock: ManualClock, budget: WeightBudget, usage: ExchangeUsageMonitor = .init()) -> BinanceClient
    {
        // A long request timeout: these tests count requests, and on a loaded machine (the whole suite in parallel) a
        // local answer has taken over 10 s, which the default timeout turned into a retry and an extra request.
        BinanceClient(
            configuration: .init(
                baseURL: baseURL, requestTimeout: .seconds(300),
                retry: .init(maxAttempts: 4, baseDelay: .milliseconds(1), maxDelay: .milliseconds(2)),
                clock: clock.reader,
                usage: usage, budget: budget),
            httpClient: .shared, logger: Logger(label: "test"))
    }

    /// Runs `body` while moving the virtual clock one second whenever something sleeps on it.
    static func driving<T: Sendable>(_ clock: ManualClock, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let task = Task { try await body() }
        let done = Task {
            while !Task.isCancelled {
                if clock.sleeperCount > 0 { clock.advance(milliseconds: 1_000) }
                try? await Task.sleep(for: .milliseconds(1))
            }
        }
        defer { done.cancel() }
        return try await task.value
    }

    static func fetch(_ client: BinanceClient) async throws(ExchangeError) {
        _ = try await client.klines(KlineRequest(symbol: btc, interval: .oneMinute, limit: 5))
    }

    /// The kind of error a fetch fails with, or `nil` when it succeeds.
    static func failure(_ client: BinanceClient) async -> ExchangeError.Kind? {
        do {
            try await fetch(client)
            return nil
        } catch {
            return error.kind
        }
    }

    @Test func requestsStayUnderTheShareOfTheLimitAndWaitForTheNextMinute() async throws {
        let clock = ManualClock(Self.start)
        let exchange = SimulatedExchange(configuration: .init(seed: 1, symbols: [Self.btc], weightLimitPerMinute: 100, clock: clock.reader))
        let budget = WeightBudget(configuration: .init(limitPerMinute: 100, sharePercent: 50), clock: clock.reader)
        try await SimulatorServer.withRunning(exchange) { baseURL in
            let client = Self.client(baseURL, clock: clock, budget: budget)
            try await Self.driving(clock) { for _ in 0..<60 { try await Self.fetch(client) } }
        }
        // 60 requests of weight 2 at 50 a minute: 25 in each of the first two minutes, 10 in the third.
        #expect(exchange.limitStatistics == .init(rateLimited: 0, banned: 0))
        #expect(clock.now >= Self.start + 90_000 && clock.now < Self.start + 150_000, "\(clock.now - Self.start) ms")
        #expect(await budget.statistics.waits == 2)
    }

    @Test func a429PausesForRetryAfterAndNeverEarnsABan() async throws {
        let clock = ManualClock(Self.start)
        // The simulator's limit is far below what the client believes: it will answer 429.
        let exchange = SimulatedExchange(configuration: .init(seed: 1, symbols: [Self.btc], weightLimitPerMinute: 10, clock: clock.reader))
        let budget = WeightBudget(clock: clock.reader)
        let usage = ExchangeUsageMonitor()
        try await SimulatorServer.withRunning(exchange) { baseURL in
            let client = Self.client(baseURL, clock: clock, budget: budget, usage: usage)
            try await Self.driving(clock) { for _ in 0..<6 { try await Self.fetch(client) } }
        }
        // The 6th request got a 429 with Retry-After 30 s at 00:00:30 and succeeded only after waiting it out (the
        // driver moves the clock a second at a time, so the wait ends within a second of the pause).
        #expect(exchange.limitStatistics == .init(rateLimited: 1, banned: 0))
        #expect(clock.now >= Self.start + 30_000 && clock.now <= Self.start + 31_000, "resumed after \(clock.now - Self.start) ms")
        #expect(await budget.statistics.waits == 1)
        #expect(usage.snapshot.failures == 1 && usage.snapshot.requests == 7)
    }

    @Test func a418StopsEveryRequestUntilTheBanEnds() async throws {
        let clock = ManualClock(Self.start)
        let exchange = SimulatedExchange(configuration: .init(seed: 1, symbols: [Self.btc], weightLimitPerMinute: 2, clock: clock.reader))
        // Another client on the same IP ignored a 429: banned for 120 s.
        for _ in 0..<2 { _ = exchange.handle(path: "/api/v3/klines", query: ["symbol": "BTCUSDT", "interval": "1m"]) }
        clock.advance(milliseconds: 2_000)
        _ = exchange.handle(path: "/api/v3/klines", query: ["symbol": "BTCUSDT", "interval": "1m"])
        let budget = WeightBudget(clock: clock.reader)
        let usage = ExchangeUsageMonitor()
        try await SimulatorServer.withRunning(exchange) { baseURL in
            let client = Self.client(baseURL, clock: clock, budget: budget, usage: usage)
            for _ in 0..<2 {
                let kind = await Self.failure(client)
                #expect(kind == .banned(retryAfterSeconds: 120), "\(String(describing: kind))")
            }
            // Only the first reached the exchange; the second was refused by the budget without being sent.
            #expect(usage.snapshot.requests == 1)
            #expect(await budget.statistics.refusedWhileBanned == 1)
            // Still refused a second before the ban ends, without reaching the exchange; served once it has ended.
            clock.advance(milliseconds: 119_000)  // the ban began at the third request
            #expect(await Self.failure(client) == .banned(retryAfterSeconds: 1))
            #expect(usage.snapshot.requests == 1)
            clock.advance(milliseconds: 1_000)
            try await Self.fetch(client)
        }
        #expect(exchange.limitStatistics.banned == 1)
    }
}
