import MarketData
import Synchronization

/// The simulated exchange's state and request handling, independent of HTTP so it can be tested directly.
public final class SimulatedExchange: Sendable {
    public let configuration: SimulatorConfiguration
    public let market: SyntheticMarket
    /// First minute with history: the simulator's start minute minus `historyMinutes`.
    public let listingTime: Int64
    private let weight = Mutex(WeightWindow())

    struct WeightWindow {
        var minute: Int64 = 0
        var used = 0
        /// After a 429, until the next minute: a request before then earns a ban, as on Binance.
        var rateLimitedUntil: Int64 = .min
        var bannedUntil: Int64 = .min
        /// The next ban's length; it doubles with each ban, from 2 minutes up to 3 days.
        var nextBanSeconds = 120
        var limitStats = LimitStatistics()
    }

    /// How often the simulator had to enforce its limits: tests and benchmarks check that a client never made it.
    public struct LimitStatistics: Sendable, Hashable {
        public var rateLimited = 0
        public var banned = 0

        public init(rateLimited: Int = 0, banned: Int = 0) {
            self.rateLimited = rateLimited
            self.banned = banned
        }
    }

    public var limitStatistics: LimitStatistics { weight.withLock { $0.limitStats } }

    public init(configuration: SimulatorConfiguration) {
        self.configuration = configuration
        self.market = SyntheticMarket(seed: configuration.seed, symbols: configuration.symbols)
        let startMinute = Interval.oneMinute.openTime(containing: configuration.clock())
        self.listingTime = startMinute - Int64(configuration.historyMinutes) * 60_000
    }

    public var now: Int64 { configuration.clock() }

    /// A simulated HTTP answer: status, JSON body and the weight used in the current minute.
    public struct Reply: Sendable {
        public var status: Int
        public var body: [UInt8]
        public var usedWeight: Int
        public var retryAfterSeconds: Int?
    }

    /// Handles a GET of `path` with decoded query parameters.
    public func handle(path: String, query: [String: String]) -> Reply {
        if let refused = refusedWhileLimited() { return refused }
        switch path {
        case "/api/v3/ping": return reply(weight: BinanceWeights.ping, body: Array("{}".utf8))
        case "/api/v3/time": return reply(weight: BinanceWeights.time, body: Array("{\"serverTime\":\(now)}".utf8))
        case "/api/v3/exchangeInfo": return exchangeInfo(query)
        case "/api/v3/klines": return klines(query)
        case "/api/v3/depth": return depth(query)
        default:
            return Reply(
                status: 404, body: BinanceCodec.encodeError(.init(code: -1000, msg: "Unknown path \(path).")), usedWeight: currentWeight(),
                retryAfterSeconds: nil)
        }
    }

    // MARK: Endpoints

    private func exchangeInfo(_ query: [String: String]) -> Reply {
        var listed = configuration.symbols
        if let one = query["symbol"] {
            guard let symbol = listed.first(where: { $0.rawValue == one }) else { return error(400, -1121, "Invalid symbol.") }
            listed = [symbol]
        }
        let info = ExchangeInfo(
            serverTime: now,
            rateLimits: [
                .init(rateLimitType: "REQUEST_WEIGHT", interval: "MINUTE", intervalNum: 1, limit: configuration.weightLimitPerMinute),
                .init(rateLimitType: "ORDERS", interval: "SECOND", intervalNum: 10, limit: 100),
                .init(rateLimitType: "RAW_REQUESTS", interval: "MINUTE", intervalNum: 5, limit: 61_000),
            ],
            symbols: listed.map { symbol in
                let (base, quote) = Self.splitAssets(symbol.rawValue)
                return .init(symbol: symbol.rawValue, status: "TRADING", baseAsset: base, quoteAsset: quote)
            })
        return reply(weight: BinanceWeights.exchangeInfo, body: Array(BinanceCodec.encodeExchangeInfo(info)))
    }

    private func klines(_ query: [String: String]) -> Reply {
        let symbol: Symbol
        switch requireSymbol(query) {
        case .success(let value): symbol = value
        case .failure(let failure): return failure.reply
        }
        guard let intervalText = query["interval"], !intervalText.isEmpty else { return missing("interval") }
        guard let interval = Interval(rawValue: intervalText) else { return error(400, -1120, "Invalid interval.") }
        var limit = 500
        if let text = query["limit"] {
            guard let value = Int(text) else { return illegal("limit") }
            guard (1...1_000).contains(value) else { return error(400, -1130, "Data sent for parameter 'limit' is not valid.") }
            limit = value
        }
        var startTime: Int64?
        var endTime: Int64?
        if let text = query["startTime"] {
            guard let value = Int64(text) else { return illegal("startTime") }
            startTime = value
        }
        if let text = query["endTime"] {
            guard let value = Int64(text) else { return illegal("endTime") }
            endTime = value
        }
        if let startTime, let endTime, startTime > endTime {
            return error(400, -1023, "Start time is greater than end time.")
        }
        let now = self.now
        let earliest = listingTime
        var candles: [Kline]
        if let startTime {
            candles = market.klines(
                symbol, interval: interval, startTime: max(startTime, earliest), endTime: endTime ?? .max, now: now, limit: limit)
        } else {
            candles = market.latestKlines(symbol, interval: interval, endTime: endTime ?? now, now: now, limit: limit)
            candles.removeAll { $0.openTime < earliest }
        }
        return reply(weight: BinanceWeights.klines, body: BinanceCodec.encodeKlines(candles))
    }

    private func depth(_ query: [String: String]) -> Reply {
        let symbol: Symbol
        switch requireSymbol(query) {
        case .success(let value): symbol = value
        case .failure(let failure): return failure.reply
        }
        var limit = 100
        if let text = query["limit"] {
            guard let value = Int(text) else { return illegal("limit") }
            guard value >= 1 else { return error(400, -1130, "Data sent for parameter 'limit' is not valid.") }
            limit = min(value, 5_000)
        }
        return reply(
            weight: BinanceWeights.depth(limit: limit), body: BinanceCodec.encodeDepth(market.orderBook(symbol, now: now, limit: limit)))
    }

    private func requireSymbol(_ query: [String: String]) -> Result<Symbol, ReplyError> {
        guard let text = query["symbol"], !text.isEmpty else { return .failure(ReplyError(missing("symbol"))) }
        guard let symbol = try? Symbol(text) else {
            return .failure(
                ReplyError(
                    error(400, -1100, "Illegal characters found in parameter 'symbol'; legal range is '^[A-Z0-9-_.]{1,20}$'.")))
        }
        guard configuration.symbols.contains(symbol) else { return .failure(ReplyError(error(400, -1121, "Invalid symbol."))) }
        return .success(symbol)
    }

    struct ReplyError: Error {
        let reply: Reply
        init(_ reply: Reply) { self.reply = reply }
    }

    private func missing(_ name: String) -> Reply {
        error(400, -1102, "Mandatory parameter '\(name)' was not sent, was empty/null, or malformed.")
    }

    private func illegal(_ name: String) -> Reply {
        error(400, -1100, "Illegal characters found in parameter '\(name)'; legal range is '^[0-9]{1,20}$'.")
    }

    private func error(_ status: Int, _ code: Int, _ message: String) -> Reply {
        // Binance charges the endpoint's weight even for rejected requests; one unit keeps it simple.
        Reply(
            status: status, body: BinanceCodec.encodeError(.init(code: code, msg: message)), usedWeight: charge(1).used,
            retryAfterSeconds: nil)
    }

    private func reply(weight: Int, body: [UInt8]) -> Reply {
        let (used, over) = charge(weight)
        guard over else { return Reply(status: 200, body: body, usedWeight: used, retryAfterSeconds: nil) }
        // Over the limit: 429 until the minute ends.
        let now = self.now
        let nextMinute = Interval.oneMinute.openTime(containing: now) + 60_000
        self.weight.withLock { window in
            window.rateLimitedUntil = nextMinute
            window.limitStats.rateLimited += 1
        }
        return Reply(
            status: 429,
            body: BinanceCodec.encodeError(
                .init(
                    code: -1003, msg: "Too many requests; current limit of IP is \(configuration.weightLimitPerMinute) requests per minute."
                )),
            usedWeight: used, retryAfterSeconds: Int((nextMinute - now + 999) / 1_000))
    }

    /// A 418 for a banned client, or for one that ignored a 429 (which starts or lengthens the ban); `nil` otherwise.
    private func refusedWhileLimited() -> Reply? {
        let now = self.now
        let verdict: (seconds: Int, used: Int)? = weight.withLock { window in
            let used = window.minute == Interval.oneMinute.openTime(containing: now) ? window.used : 0
            if window.bannedUntil > now { return (Int((window.bannedUntil - now + 999) / 1_000), used) }
            guard window.rateLimitedUntil > now else { return nil }
            let seconds = window.nextBanSeconds
            window.bannedUntil = now + Int64(seconds) * 1_000
            window.nextBanSeconds = min(seconds * 2, 3 * 86_400)
            window.limitStats.banned += 1
            return (seconds, used)
        }
        guard let verdict else { return nil }
        return Reply(
            status: 418,
            body: BinanceCodec.encodeError(.init(code: -1003, msg: "Way too many requests; IP banned for \(verdict.seconds) s.")),
            usedWeight: verdict.used, retryAfterSeconds: verdict.seconds)
    }

    /// Adds `amount` to the current minute's weight; returns the total, as `X-MBX-USED-WEIGHT-1M` reports it, and
    /// whether it is over the limit.
    private func charge(_ amount: Int) -> (used: Int, over: Bool) {
        let minute = Interval.oneMinute.openTime(containing: now)
        let limit = configuration.weightLimitPerMinute
        return weight.withLock { window in
            if window.minute != minute {
                window.minute = minute
                window.used = 0
            }
            window.used += amount
            return (window.used, window.used > limit)
        }
    }

    private func currentWeight() -> Int {
        let minute = Interval.oneMinute.openTime(containing: now)
        return weight.withLock { $0.minute == minute ? $0.used : 0 }
    }

    static func splitAssets(_ symbol: String) -> (String, String) {
        for quote in ["USDT", "FDUSD", "USDC", "BUSD", "TUSD", "BTC", "ETH", "BNB", "EUR", "TRY"] where symbol.hasSuffix(quote) {
            return (String(symbol.dropLast(quote.count)), quote)
        }
        return (String(symbol.dropLast(3)), String(symbol.suffix(3)))
    }
}
