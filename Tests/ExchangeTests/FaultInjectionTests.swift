import Exchange
import ExchangeSimulator
import Logging
import MarketData
import PipelineTesting
import Testing

/// Every fault the simulator injects reaches the real client as the error it should be: retryable for server faults,
/// timeouts, resets and broken bodies; a 429 that pauses everything, and a ban for a client that does not pause.
struct FaultInjectionTests {
    static let btc = try! Symbol("BTCUSDT")
    static let start: Int64 = 1_767_225_630_000

    static func exchange(_ kinds: [FaultKind], clock: ManualClock, rate: Double = 1) -> SimulatedExchange {
        SimulatedExchange(
            configuration: .init(
                seed: 3, symbols: [btc], historyMinutes: 100, clock: clock.reader,
                faults: FaultConfiguration(rate: rate, seed: 9, kinds: kinds, hang: .seconds(3), burstSeconds: 3)))
    }

    /// A short timeout only where a hang is expected: tests run in parallel on a busy machine.
    static func client(_ baseURL: String, clock: ManualClock, timeout: Duration = .seconds(60)) -> BinanceClient {
        BinanceClient(
            configuration: .init(baseURL: baseURL, requestTimeout: timeout, retry: .none, clock: clock.reader),
            httpClient: .shared, logger: Logger(label: "test"))
    }

    static let request = KlineRequest(symbol: btc, interval: .oneMinute, limit: 50)

    @Test(arguments: [FaultKind.serverError, .hang, .connectionReset, .malformedJSON, .truncatedJSON])
    func eachFaultIsARetryableErrorForTheClient(_ kind: FaultKind) async throws {
        let clock = ManualClock(Self.start)
        let exchange = Self.exchange([kind], clock: clock)
        try await SimulatorServer.withRunning(exchange) { baseURL in
            // A local answer has taken over 10 s with the whole suite running on two cores: only a hang times out.
            let client = Self.client(baseURL, clock: clock, timeout: kind == .hang ? .milliseconds(500) : .seconds(60))
            // Several requests, so both variants of the truncated and 5xx faults are seen.
            for _ in 0..<6 {
                let error = await #expect(throws: ExchangeError.self) { try await client.klines(Self.request) }
                #expect(error?.isRetryable == true, "\(kind): \(String(describing: error))")
                switch (kind, error?.kind.code) {
                case (.serverError, .httpStatus?), (.serverError, .rejected?): #expect((error?.kind.status ?? 0) >= 500)
                case (.hang, .timeout?): break
                case (.connectionReset, .transport?), (.truncatedJSON, .transport?): break
                case (.malformedJSON, .malformedResponse?), (.truncatedJSON, .malformedResponse?): break
                default: Issue.record("\(kind) gave \(String(describing: error))")
                }
            }
        }
        #expect(exchange.injectedFaults == [kind: 6])
    }

    @Test func anInjected429BansAClientThatKeepsAskingButNotRequestsInFlight() throws {
        let clock = ManualClock(Self.start)
        let exchange = Self.exchange([.rateLimitBurst], clock: clock)
        let query = ["symbol": "BTCUSDT", "interval": "1m", "limit": "5"]
        let limited = exchange.handle(path: "/api/v3/klines", query: query)
        #expect(limited.status == 429 && limited.retryAfterSeconds == 3)
        // Within the grace for requests already on their way: another 429, no ban.
        clock.advance(milliseconds: 500)
        #expect(exchange.handle(path: "/api/v3/klines", query: query).status == 429)
        // Asking again later during the back-off: banned.
        clock.advance(milliseconds: 1_000)
        let banned = exchange.handle(path: "/api/v3/klines", query: query)
        #expect(banned.status == 418 && banned.retryAfterSeconds == 120)
        #expect(exchange.limitStatistics == .init(rateLimited: 0, banned: 1))
    }

    @Test func theBudgetWaitsOutAnInjected429SoNoBanFollows() async throws {
        let clock = ManualClock(Self.start)
        // Faults on every other request or so; the budget's waits move the virtual clock.
        let exchange = Self.exchange([.rateLimitBurst], clock: clock, rate: 0.5)
        let budget = WeightBudget(clock: PipelineClock(AdvancingClock(manual: clock)))
        try await SimulatorServer.withRunning(exchange) { baseURL in
            let client = BinanceClient(
                configuration: .init(
                    baseURL: baseURL, requestTimeout: .seconds(30), retry: RetryPolicy(maxAttempts: 20, baseDelay: .milliseconds(1)),
                    clock: clock.reader, budget: budget),
                httpClient: .shared, logger: Logger(label: "test"))
            for _ in 0..<20 {
                let response = try await client.klines(Self.request)
                #expect(response.value.count == 50)
            }
        }
        let injected = exchange.injectedFaults[.rateLimitBurst] ?? 0
        #expect(injected >= 5)
        #expect(exchange.limitStatistics.banned == 0)
        // Each 429 paused for its Retry-After of 3 s.
        #expect(await budget.statistics.waitedMilliseconds >= Int64(injected) * 3_000)
    }

    @Test func theSameSeedInjectsTheSameFaults() {
        func sequence() -> [String] {
            let clock = ManualClock(Self.start)
            let exchange = SimulatedExchange(
                configuration: .init(
                    seed: 3, symbols: [Self.btc], clock: clock.reader, faults: FaultConfiguration(rate: 0.3, seed: 77)))
            return (0..<200).map { _ in
                let reply = exchange.handle(path: "/api/v3/depth", query: ["symbol": "BTCUSDT", "limit": "5"])
                clock.advance(milliseconds: 10_000)
                return "\(reply.status) \(reply.delivery) \(reply.body.count)"
            }
        }
        let first = sequence()
        #expect(first == sequence())
        #expect(Set(first).count > 5)
    }
}
