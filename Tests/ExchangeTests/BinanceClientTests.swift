import AsyncHTTPClient
import Exchange
import ExchangeSimulator
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import MarketData
import PipelineTesting
import Synchronization
import Testing

struct BinanceClientTests {
    static let btc = try! Symbol("BTCUSDT")
    static let fastRetry = RetryPolicy(maxAttempts: 3, baseDelay: .milliseconds(1), maxDelay: .milliseconds(5))

    static func client(
        _ baseURL: String, timeout: Duration = .seconds(30), retry: RetryPolicy = fastRetry,
        clock: PipelineClock = .system
    ) -> BinanceClient {
        BinanceClient(
            configuration: .init(baseURL: baseURL, requestTimeout: timeout, retry: retry, clock: clock), httpClient: .shared,
            logger: Logger(label: "test"))
    }

    /// Runs a one-route server whose answers come from `reply(attempt)` and counts the requests it saw.
    static func withFaultServer(
        _ reply: @escaping @Sendable (Int) async throws -> Response, _ body: @Sendable (String, Counter) async throws -> Void
    ) async throws {
        let attempts = Counter()
        let router = Router()
        router.get("/api/v3/klines") { _, _ -> Response in
            try await reply(attempts.increment())
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in
            try await body("http://127.0.0.1:\(try #require(client.port))", attempts)
        }
    }

    static func json(_ status: HTTPResponse.Status, _ text: String, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static let oneKline =
        #"[[1499040000000,"0.01634790","0.80000000","0.01575800","0.01577100","148976.11427815",1499644799999,"2434.19055334",308,"1756.87402397","28.46694368","0"]]"#

    /// A clock sample is one request: a slow or failed one is a poor sample, and the caller takes several anyway.
    @Test func aClockSampleIsNeverRetried() async throws {
        let attempts = Counter()
        let router = Router()
        router.get("/api/v3/time") { _, _ -> Response in
            _ = attempts.increment()
            return Self.json(.serviceUnavailable, #"{"code":-1001,"msg":"Internal error."}"#)
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in
            // The configured policy retries 5xx three times; the clock sample does not.
            let binance = Self.client("http://127.0.0.1:\(try #require(client.port))")
            await #expect(throws: ExchangeError.self) { try await binance.serverTime() }
        }
        #expect(attempts.value == 1)
    }

    @Test func fetchesKlinesAndDepthFromTheSimulatorWithRawBodies() async throws {
        let clock = ManualClock(1_767_225_630_000)
        let exchange = SimulatedExchange(configuration: .init(seed: 3, symbols: [Self.btc], historyMinutes: 100, clock: clock.reader))
        try await SimulatorServer.withRunning(exchange) { baseURL in
            let client = Self.client(baseURL, clock: clock.reader)
            let response = try await client.klines(
                KlineRequest(symbol: Self.btc, interval: .oneMinute, startTime: clock.now - 600_000, limit: 5))
            #expect(response.value.count == 5 && response.usedWeight == 2 && response.capturedAt == clock.now)
            #expect(try BinanceCodec.decodeKlines(response.body) == response.value)
            #expect(
                response.value
                    == exchange.market.klines(
                        Self.btc, interval: .oneMinute, startTime: clock.now - 600_000, endTime: .max, now: clock.now, limit: 5))
            let depth = try await client.depth(symbol: Self.btc, limit: 10)
            #expect(depth.value.bids.count == 10 && depth.usedWeight == 7)
            let info = try await client.exchangeInfo()
            #expect(info.value.symbols.map(\.symbol) == ["BTCUSDT"])
        }
    }

    /// Two clients sending from two loopback addresses (`--source-address`) each get the whole per-IP weight: together
    /// they use more than one address may, and the simulator, which counts per address as Binance does, refuses none.
    @Test(.enabled(if: hasSecondLoopbackAddress, "needs 127.0.0.2 (every 127/8 address is the loopback's on Linux)"))
    func eachSourceAddressGetsTheWholeWeightBudget() async throws {
        let exchange = SimulatedExchange(configuration: .init(seed: 3, symbols: [Self.btc], historyMinutes: 100, weightLimitPerMinute: 40))
        try await SimulatorServer.withRunning(exchange) { baseURL in
            for address in ["127.0.0.1", "127.0.0.2"] {
                let client = BinanceClient(
                    configuration: .init(baseURL: baseURL, sourceAddress: address), httpClient: .shared, logger: Logger(label: "test"))
                // 15 requests of weight 2: 30 of each address's 40, 60 together.
                for _ in 0..<15 { _ = try await client.klines(KlineRequest(symbol: Self.btc, interval: .oneMinute, limit: 1)) }
            }
        }
        #expect(exchange.clients == ["127.0.0.1", "127.0.0.2"])
        #expect(exchange.limitStatistics == .init())
        #expect(exchange.weightHistory(client: "127.0.0.2").values.reduce(0, +) == 30)
    }

    @Test func binanceErrorsAreTypedAndNotRetried() async throws {
        let exchange = SimulatedExchange(configuration: .init(symbols: [Self.btc]))
        try await SimulatorServer.withRunning(exchange) { baseURL in
            do {
                _ = try await Self.client(baseURL).klines(KlineRequest(symbol: try Symbol("ETHUSDT"), interval: .oneMinute))
                Issue.record("no error")
            } catch let error as ExchangeError {
                #expect(error.kind == .rejected(status: 400, code: -1121, message: "Invalid symbol."))
                #expect(!error.isRetryable)
                #expect(error.description.contains("Invalid symbol.") && error.description.contains("/api/v3/klines"))
            }
        }
    }

    @Test func serverErrorsAreRetriedUntilTheySucceed() async throws {
        try await Self.withFaultServer({ attempt in
            attempt < 3 ? Self.json(.badGateway, "<html>bad gateway</html>") : Self.json(.ok, Self.oneKline)
        }) { baseURL, attempts in
            let response = try await Self.client(baseURL).klines(KlineRequest(symbol: Self.btc, interval: .oneMinute))
            #expect(response.value.count == 1)
            #expect(attempts.value == 3)
        }
    }

    @Test func persistentServerErrorsGiveUpAfterTheCap() async throws {
        try await Self.withFaultServer({ _ in Self.json(.serviceUnavailable, "down") }) { baseURL, attempts in
            await #expect {
                _ = try await Self.client(baseURL).klines(KlineRequest(symbol: Self.btc, interval: .oneMinute))
            } throws: { error in
                (error as? ExchangeError)?.kind == .httpStatus(503, bodyPrefix: "down")
            }
            #expect(attempts.value == 3)
        }
    }

    @Test(arguments: ["[[1499040000000,\"0.0163", "{\"unexpected\":true}", "not json"])
    func malformedAndTruncatedBodiesAreTypedErrors(body: String) async throws {
        try await Self.withFaultServer({ _ in Self.json(.ok, body) }) { baseURL, attempts in
            await #expect {
                _ = try await Self.client(baseURL).klines(KlineRequest(symbol: Self.btc, interval: .oneMinute))
            } throws: { error in
                guard (error as? ExchangeError)?.kind.code == .malformedResponse else { return false }
                return true
            }
            #expect(attempts.value == 3)
        }
    }

    @Test func rateLimitsAndBansCarryRetryAfterAndAreNotRetriedBlindly() async throws {
        try await Self.withFaultServer({ attempt in
            Self.json(
                attempt == 1 ? .tooManyRequests : .init(code: 418), #"{"code":-1003,"msg":"Too much request weight used"}"#,
                headers: [HTTPField.Name("Retry-After")!: "7"])
        }) { baseURL, attempts in
            let client = Self.client(baseURL)
            await #expect { _ = try await client.klines(KlineRequest(symbol: Self.btc, interval: .oneMinute)) } throws: { error in
                (error as? ExchangeError)?.kind == .rateLimited(retryAfterSeconds: 7)
            }
            await #expect { _ = try await client.klines(KlineRequest(symbol: Self.btc, interval: .oneMinute)) } throws: { error in
                (error as? ExchangeError)?.kind == .banned(retryAfterSeconds: 7)
            }
            #expect(attempts.value == 2)
        }
    }

    @Test func slowAnswersTimeOut() async throws {
        try await Self.withFaultServer({ _ in
            try await Task.sleep(for: .seconds(2))
            return Self.json(.ok, Self.oneKline)
        }) { baseURL, _ in
            await #expect {
                _ = try await Self.client(baseURL, timeout: .milliseconds(200), retry: .none).klines(
                    KlineRequest(symbol: Self.btc, interval: .oneMinute))
            } throws: { error in
                (error as? ExchangeError)?.kind == .timeout
            }
        }
    }

    @Test func anUnreachableExchangeIsATransportError() async throws {
        await #expect {
            _ = try await Self.client("http://127.0.0.1:1", retry: .none).klines(KlineRequest(symbol: Self.btc, interval: .oneMinute))
        } throws: { error in
            guard (error as? ExchangeError)?.kind.code == .transport else { return false }
            return true
        }
    }

    /// Full jitter: each delay is uniform over [0, min(cap, base·2^(attempt-1))]. Checked on many draws from a fixed seed,
    /// so a delay that is always zero, always the ceiling, always half of it, or only in the upper half fails.
    @Test func backoffUsesFullJitterUnderACap() {
        let policy = RetryPolicy(maxAttempts: 10, baseDelay: .milliseconds(100), maxDelay: .seconds(1))
        var generator = SeededGenerator(seed: 0x5EED_0001)
        for attempt in 1...9 {
            let ceiling = min(Duration.seconds(1), .milliseconds(100) * (1 << (attempt - 1)))
            let delays = (0..<2_000).map { _ in policy.delay(beforeRetry: attempt, using: &generator) }
            let problems = Self.fullJitterProblems(delays, ceiling: ceiling)
            #expect(problems.isEmpty, "attempt \(attempt), ceiling \(ceiling), \(generator.replayHint): \(problems)")
        }
    }

    /// What is wrong with `delays` as draws uniform over [0, ceiling]; empty when nothing is.
    static func fullJitterProblems(_ delays: [Duration], ceiling: Duration) -> [String] {
        let fractions = delays.map { $0 / ceiling }
        var problems: [String] = []
        if let outside = fractions.first(where: { !(0...1).contains($0) }) { problems.append("a delay at \(outside) of the ceiling") }
        let mean = fractions.reduce(0, +) / Double(fractions.count)
        // The mean of 2000 uniform draws is 0.5 ± 0.0065 (one standard deviation).
        if abs(mean - 0.5) > 0.03 { problems.append("mean \(mean) of the ceiling, expected 0.5") }
        for (range, name) in [(0.0..<0.25, "lowest"), (0.75..<1.0000001, "highest")] {
            let share = Double(fractions.filter { range.contains($0) }.count) / Double(fractions.count)
            if abs(share - 0.25) > 0.05 { problems.append("\(share) of the delays in the \(name) quarter, expected 0.25") }
        }
        if Set(delays).count < delays.count / 2 { problems.append("only \(Set(delays).count) distinct delays") }
        return problems
    }
}

final class Counter: Sendable {
    private let count = Mutex(0)
    var value: Int { count.withLock { $0 } }
    func increment() -> Int {
        count.withLock { value in
            value += 1
            return value
        }
    }
}
