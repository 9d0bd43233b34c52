public import AsyncHTTPClient
import Foundation
public import Logging
public import MarketData
import NIOCore
import NIOFoundationCompat

/// A client of Binance's public spot REST API (or anything that speaks it, such as the simulator).
public struct BinanceClient: MarketDataSource {
    public struct Configuration: Sendable {
        /// Base URL without a trailing slash, e.g. `https://api.binance.com`.
        public var baseURL: String
        /// Deadline for one request including its body.
        public var requestTimeout: Duration
        /// Retries of failed idempotent reads (5xx, timeouts, broken or truncated bodies).
        public var retry: RetryPolicy
        /// Largest body accepted; a klines page of 1000 is about 170 KB, a 5000-level book about 200 KB.
        public var maxBodyBytes: Int
        /// Stamps responses with their arrival time (UTC epoch ms); tests inject a virtual clock.
        public var clock: @Sendable () -> Int64
        /// Receives the weight used and every success and failure, for status pages and metrics.
        public var usage: ExchangeUsageMonitor
        /// Charges each request its weight before sending and honours 429/418 for every request; `nil` sends
        /// without a budget (tests of raw behaviour).
        public var budget: WeightBudget?

        public init(
            baseURL: String = "https://api.binance.com", requestTimeout: Duration = .seconds(10), retry: RetryPolicy = RetryPolicy(),
            maxBodyBytes: Int = 16 << 20,
            clock: @escaping @Sendable () -> Int64 = BinanceClient.wallClock, usage: ExchangeUsageMonitor = ExchangeUsageMonitor(),
            budget: WeightBudget? = nil
        ) {
            self.budget = budget
            self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
            self.requestTimeout = requestTimeout
            self.retry = retry
            self.maxBodyBytes = maxBodyBytes
            self.clock = clock
            self.usage = usage
        }
    }

    @Sendable public static func wallClock() -> Int64 { Int64((Date().timeIntervalSince1970 * 1_000).rounded(.down)) }

    public let configuration: Configuration
    let httpClient: HTTPClient
    let logger: Logger

    public init(configuration: Configuration, httpClient: HTTPClient, logger: Logger) {
        self.configuration = configuration
        self.httpClient = httpClient
        self.logger = logger
    }

    public func klines(_ request: KlineRequest) async throws(ExchangeError) -> FetchedResponse<[Kline]> {
        try await get("/api/v3/klines", query: request.queryItems, weight: BinanceWeights.klines) { body throws(ExchangeError) in
            do {
                return try BinanceCodec.decodeKlines(body)
            } catch {
                throw ExchangeError(.malformedResponse("\(error)"), endpoint: "/api/v3/klines")
            }
        }
    }

    public func depth(symbol: Symbol, limit: Int) async throws(ExchangeError) -> FetchedResponse<OrderBookSnapshot> {
        try await get(
            "/api/v3/depth", query: [("symbol", symbol.rawValue), ("limit", String(limit))], weight: BinanceWeights.depth(limit: limit)
        ) { body throws(ExchangeError) in
            do {
                return try BinanceCodec.decodeDepth(body)
            } catch {
                throw ExchangeError(.malformedResponse("\(error)"), endpoint: "/api/v3/depth")
            }
        }
    }

    public func exchangeInfo() async throws(ExchangeError) -> FetchedResponse<ExchangeInfo> {
        try await get("/api/v3/exchangeInfo", query: [], weight: BinanceWeights.exchangeInfo) { body throws(ExchangeError) in
            do {
                return try BinanceCodec.decodeExchangeInfo(Data(body))
            } catch {
                throw ExchangeError(.malformedResponse("exchangeInfo: \(error)"), endpoint: "/api/v3/exchangeInfo")
            }
        }
    }

    // MARK: Transport

    private func get<Value: Sendable>(
        _ path: String, query: [(String, String)], weight: Int, decode: ([UInt8]) throws(ExchangeError) -> Value
    ) async throws(ExchangeError) -> FetchedResponse<Value> {
        let queryText = query.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
        let endpoint = queryText.isEmpty ? path : "\(path)?\(queryText)"
        var generator = SystemRandomNumberGenerator()
        var attempt = 1
        while true {
            do {
                try await configuration.budget?.acquire(weight: weight, endpoint: endpoint)
                let (body, usedWeight, receivedAt) = try await send(endpoint)
                return FetchedResponse(value: try decode(body), body: body, usedWeight: usedWeight, receivedAt: receivedAt)
            } catch {
                // With a budget, a 429 pauses every request and this one is tried again after the pause.
                let pausedByBudget = configuration.budget != nil && error.isRateLimited
                guard error.isRetryable || pausedByBudget, attempt < configuration.retry.maxAttempts, !Task.isCancelled else { throw error }
                logger.info(
                    "retrying exchange request",
                    metadata: ["exchange.endpoint": "\(endpoint)", "exchange.error": "\(error)", "retry.attempt": "\(attempt)"])
                attempt += 1
                if pausedByBudget { continue }
                do {
                    try await Task.sleep(for: configuration.retry.delay(beforeRetry: attempt - 1, using: &generator))
                } catch {
                    throw ExchangeError(.transport("cancelled"), endpoint: endpoint)
                }
            }
        }
    }

    /// One HTTP exchange, reported to the usage monitor.
    private func send(_ endpoint: String) async throws(ExchangeError) -> ([UInt8], Int?, Int64) {
        var usedWeight: Int?
        do {
            let result = try await exchange(endpoint, usedWeight: &usedWeight)
            configuration.usage.recordSuccess(usedWeight: result.1, at: result.2)
            if let weight = result.1 { await configuration.budget?.observe(usedWeight: weight, at: result.2) }
            return result
        } catch {
            let now = configuration.clock()
            configuration.usage.recordFailure(error, usedWeight: usedWeight, at: now)
            if let budget = configuration.budget {
                if let usedWeight { await budget.observe(usedWeight: usedWeight, at: now) }
                switch error.kind {
                case .rateLimited(let seconds):
                    await budget.rateLimited(retryAfterSeconds: seconds, at: now)
                    logger.warning(
                        "rate limited by the exchange (429); pausing all requests", metadata: ["retry_after_s": "\(seconds ?? 60)"])
                case .banned(let seconds):
                    await budget.banned(retryAfterSeconds: seconds, at: now)
                    logger.critical(
                        "IP BANNED by the exchange (418); no request is sent until the ban ends",
                        metadata: ["ban_s": "\(seconds ?? 120)", "exchange.endpoint": "\(endpoint)"])
                default: break
                }
            }
            throw error
        }
    }

    /// One HTTP exchange: returns the body of a 200, or throws the typed error for anything else.
    private func exchange(_ endpoint: String, usedWeight weightSeen: inout Int?) async throws(ExchangeError) -> ([UInt8], Int?, Int64) {
        var request = HTTPClientRequest(url: configuration.baseURL + endpoint)
        request.method = .GET
        request.headers.add(name: "User-Agent", value: "cryptopipe")
        let deadline = NIODeadline.now() + TimeAmount.nanoseconds(configuration.requestTimeout.nanoseconds)
        let response: HTTPClientResponse
        let buffer: ByteBuffer
        do {
            response = try await httpClient.execute(request, deadline: deadline, logger: logger)
            buffer = try await response.body.collect(upTo: configuration.maxBodyBytes)
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            throw ExchangeError(.timeout, endpoint: endpoint)
        } catch {
            throw ExchangeError(.transport(Self.describe(error)), endpoint: endpoint)
        }
        let receivedAt = configuration.clock()
        let body = Array(buffer.readableBytesView)
        let usedWeight = response.headers.first(name: "X-MBX-USED-WEIGHT-1M").flatMap { Int($0) }
        weightSeen = usedWeight
        let retryAfter = response.headers.first(name: "Retry-After").flatMap { Int($0) }
        switch response.status.code {
        case 200:
            return (body, usedWeight, receivedAt)
        case 429:
            throw ExchangeError(.rateLimited(retryAfterSeconds: retryAfter), endpoint: endpoint)
        case 418:
            throw ExchangeError(.banned(retryAfterSeconds: retryAfter), endpoint: endpoint)
        default:
            let status = Int(response.status.code)
            if let binance = BinanceCodec.decodeError(Data(body)) {
                throw ExchangeError(.rejected(status: status, code: binance.code, message: binance.msg), endpoint: endpoint)
            }
            let prefix = String(decoding: body.prefix(120), as: UTF8.self).replacingOccurrences(of: "\n", with: " ")
            throw ExchangeError(.httpStatus(status, bodyPrefix: prefix), endpoint: endpoint)
        }
    }

    private static func describe(_ error: any Error) -> String {
        let text = String(describing: error)
        return text.count > 200 ? String(text.prefix(200)) + "…" : text
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
