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
        /// The local clock (UTC epoch ms) for the budget and the usage figures; tests inject a virtual one.
        public var clock: PipelineClock
        /// Stamps responses with their capture time on the exchange's clock and cross-checks every `Date` header;
        /// ``BinanceClient/serverTime()`` readings are recorded by its owner (the pipeline's clock synchronizer).
        public var exchangeClock: ExchangeClock
        /// Receives the weight used and every success and failure, for status pages and metrics.
        public var usage: ExchangeUsageMonitor
        /// Charges each request its weight before sending and honours 429/418 for every request; `nil` sends
        /// without a budget (tests of raw behaviour).
        public var budget: WeightBudget?
        /// The local address requests are sent from (`--source-address`), `nil` for the system's choice: Binance
        /// counts weight per IP, so processes on one machine sending from different addresses each get the whole budget.
        public var sourceAddress: String?

        public init(
            baseURL: String = "https://api.binance.com", requestTimeout: Duration = .seconds(10), retry: RetryPolicy = RetryPolicy(),
            maxBodyBytes: Int = 16 << 20,
            clock: PipelineClock = .system, usage: ExchangeUsageMonitor = ExchangeUsageMonitor(),
            budget: WeightBudget? = nil, exchangeClock: ExchangeClock? = nil, sourceAddress: String? = nil
        ) {
            self.budget = budget
            self.sourceAddress = sourceAddress
            self.exchangeClock = exchangeClock ?? ExchangeClock(local: clock)
            self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
            self.requestTimeout = requestTimeout
            self.retry = retry
            self.maxBodyBytes = maxBodyBytes
            self.clock = clock
            self.usage = usage
        }
    }

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

    /// One sample of the exchange's clock, within the request timeout but never retried: a slow answer is a poor
    /// sample, and the caller takes several.
    public func serverTime() async throws(ExchangeError) -> ServerTimeSample {
        let fetched = try await fetch(
            "/api/v3/time", query: [], weight: BinanceWeights.time, retry: RetryPolicy.none
        ) { body throws(ExchangeError) in
            do {
                return try BinanceCodec.decodeServerTime(Data(body))
            } catch {
                throw ExchangeError(.malformedResponse("time: \(error)"), endpoint: "/api/v3/time")
            }
        }
        return ServerTimeSample(
            serverTime: fetched.value, sentAt: fetched.arrival.sentAt, receivedAt: fetched.arrival.receivedAt,
            dateHeader: fetched.arrival.dateHeader)
    }

    // MARK: Transport

    /// A response body with what came with it; times on the local clock.
    struct Arrival {
        var body: [UInt8]
        var usedWeight: Int?
        var sentAt: Int64
        var receivedAt: Int64
        /// The `Date` header (epoch ms of its second), when it parsed.
        var dateHeader: Int64?
        /// The clock's reading when the request went out: the response is stamped and checked by it, whatever was
        /// measured while it was in flight.
        var reading: ExchangeClock.Reading?
        /// Whether the header contradicted that reading (now or earlier, not yet measured again).
        var contradicted: Bool
    }

    private func get<Value: Sendable>(
        _ path: String, query: [(String, String)], weight: Int, decode: ([UInt8]) throws(ExchangeError) -> Value
    ) async throws(ExchangeError) -> FetchedResponse<Value> {
        let fetched = try await fetch(path, query: query, weight: weight, decode: decode)
        return FetchedResponse(
            value: fetched.value, body: fetched.arrival.body, usedWeight: fetched.arrival.usedWeight,
            capturedAt: stamp(fetched.arrival))
    }

    /// The exchange time a response is stamped with: the earliest the exchange's clock can have shown when the
    /// request went out (the offset less half its measuring round trip), since the answer was made after that. Finality
    /// is decided on it, so an uncertain offset delays a candle's finality rather than advancing it.
    ///
    /// When the `Date` header contradicted the offset (a stepped clock), the header's second less the round trip is
    /// the bound if it is the earlier one: the header was written after the answer was made, at most a round trip
    /// after the request went out. A header later than the offset says nothing safe and is not used, so a proxy's or
    /// a broken server's `Date` can only ever delay finality.
    ///
    /// Before any measurement the local send time is the estimate; a header whose second ended before it (the local
    /// clock runs ahead) caps it the same way.
    func stamp(_ arrival: Arrival) -> Int64 {
        let earliest = arrival.reading?.earliestExchangeTime(atLocal: arrival.sentAt) ?? arrival.sentAt
        guard let date = arrival.dateHeader else { return earliest }
        let localAhead = arrival.reading == nil && date + 999 < arrival.sentAt
        guard arrival.contradicted || localAhead else { return earliest }
        let (roundTrip, overflow) = arrival.receivedAt.subtractingReportingOverflow(arrival.sentAt)
        return min(earliest, ExchangeClock.adding(-(overflow ? .max : max(0, roundTrip)), to: date))
    }

    /// One read with retries (by default the configured ones) and the budget; the body, its decoded value and the
    /// local times of the attempt that succeeded.
    private func fetch<Value: Sendable>(
        _ path: String, query: [(String, String)], weight: Int, retry: RetryPolicy? = nil,
        decode: ([UInt8]) throws(ExchangeError) -> Value
    ) async throws(ExchangeError) -> (value: Value, arrival: Arrival) {
        let retry = retry ?? configuration.retry
        let queryText = query.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
        let endpoint = queryText.isEmpty ? path : "\(path)?\(queryText)"
        var generator = SystemRandomNumberGenerator()
        var attempt = 1
        while true {
            do {
                try await configuration.budget?.acquire(weight: weight, endpoint: endpoint)
                let arrival = try await send(endpoint, timeout: configuration.requestTimeout)
                return (try decode(arrival.body), arrival)
            } catch {
                // With a budget, a 429 pauses every request and this one is tried again after the pause.
                let pausedByBudget = configuration.budget != nil && error.isRateLimited
                guard error.isRetryable || pausedByBudget, attempt < retry.maxAttempts, !Task.isCancelled else { throw error }
                logger.info(
                    "retrying exchange request",
                    metadata: ["exchange.endpoint": "\(endpoint)", "exchange.error": "\(error)", "retry.attempt": "\(attempt)"])
                attempt += 1
                if pausedByBudget { continue }
                do {
                    try await Task.sleep(for: retry.delay(beforeRetry: attempt - 1, using: &generator))
                } catch {
                    throw ExchangeError(.transport("cancelled"), endpoint: endpoint)
                }
            }
        }
    }

    /// One HTTP exchange, reported to the usage monitor.
    private func send(_ endpoint: String, timeout: Duration) async throws(ExchangeError) -> Arrival {
        var usedWeight: Int?
        do {
            let arrival = try await exchange(endpoint, timeout: timeout, usedWeight: &usedWeight)
            configuration.usage.recordSuccess(usedWeight: arrival.usedWeight, at: arrival.receivedAt)
            if let weight = arrival.usedWeight { await configuration.budget?.observe(usedWeight: weight, at: arrival.receivedAt) }
            return arrival
        } catch {
            let now = configuration.clock.now()
            configuration.usage.recordFailure(error, usedWeight: usedWeight, at: now)
            if let budget = configuration.budget {
                if let usedWeight { await budget.observe(usedWeight: usedWeight, at: now) }
                let seconds = error.kind.retryAfterSeconds
                switch error.kind.code {
                case .rateLimited:
                    await budget.rateLimited(retryAfterSeconds: seconds, at: now)
                    logger.warning(
                        "rate limited by the exchange (429); pausing all requests", metadata: ["retry_after_s": "\(seconds ?? 60)"])
                case .banned:
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
    private func exchange(
        _ endpoint: String, timeout: Duration, usedWeight weightSeen: inout Int?
    ) async throws(ExchangeError) -> Arrival {
        var request = HTTPClientRequest(url: configuration.baseURL + endpoint)
        request.method = .GET
        request.localAddress = configuration.sourceAddress
        request.headers.add(name: "User-Agent", value: "cryptopipe")
        let deadline = NIODeadline.now() + TimeAmount.nanoseconds(timeout.nanoseconds)
        let reading = configuration.exchangeClock.reading
        let sentAt = configuration.clock.now()
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
        let receivedAt = configuration.clock.now()
        let body = Array(buffer.readableBytesView)
        let usedWeight = response.headers.first(name: "X-MBX-USED-WEIGHT-1M").flatMap { Int($0) }
        weightSeen = usedWeight
        let date = response.headers.first(name: "Date").flatMap(UTCTime.parseHTTPDate)
        let check = date.map {
            configuration.exchangeClock.crossCheck(dateHeader: $0, sentAt: sentAt, receivedAt: receivedAt, reading: reading)
        }
        if let date, check == .contradicted {
            // At notice the first time and every hundredth: a clock that keeps stepping should not flood the log.
            let count = configuration.exchangeClock.contradictions
            logger.log(
                level: count == 1 || count % 100 == 0 ? .notice : .debug,
                "the exchange's Date header disagrees with the measured clock offset; measuring it again",
                metadata: ["exchange.date": "\(UTCTime.iso8601(date))", "exchange.endpoint": "\(endpoint)"])
        }
        let retryAfter = response.headers.first(name: "Retry-After").flatMap { Int($0) }
        switch response.status.code {
        case 200:
            return Arrival(
                body: body, usedWeight: usedWeight, sentAt: sentAt, receivedAt: receivedAt, dateHeader: date, reading: reading,
                contradicted: check.map { $0 != .consistent } ?? false)
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
