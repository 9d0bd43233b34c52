import Foundation
import MarketData
import Synchronization

/// The simulated exchange's state and request handling, independent of HTTP so it can be tested directly.
public final class SimulatedExchange: Sendable {
    public let configuration: SimulatorConfiguration
    /// What is served: the synthetic market of the configuration's seed, or a replay.
    public let market: any SimulatedMarket
    /// First minute with history: the simulator's start minute minus `historyMinutes`.
    public let listingTime: Int64
    /// Each client address's weight, 429s and bans: Binance counts them per IP.
    private let weight = Mutex([String: WeightWindow]())
    /// The address requests are counted under when the caller names none.
    public static let localClient = "127.0.0.1"
    /// At most this many addresses are remembered; the one quiet longest is forgotten first.
    static let maximumClients = 4_096
    private let faults: FaultInjector?
    let streamCounters = StreamCounters()
    private let lifetime = Mutex(Duration.seconds(86_400))

    /// How long a stream connection lives; starts as the configuration's.
    public var webSocketLifetime: Duration {
        get { lifetime.withLock { $0 } }
        set { lifetime.withLock { $0 = newValue } }
    }

    /// The stream connections served so far.
    public var streamStatistics: StreamStatistics { streamCounters.state.withLock { $0 } }

    struct WeightWindow {
        var minute: Int64 = 0
        var used = 0
        /// After a 429, until the next minute: a request before then earns a ban, as on Binance.
        var rateLimitedUntil: Int64 = .min
        /// When the last 429 was sent, for the grace given to requests already in flight.
        var rateLimitedAt: Int64 = .min
        var bannedUntil: Int64 = .min
        /// The next ban's length; it doubles with each ban, from 2 minutes up to 3 days.
        var nextBanSeconds = 120
        var limitStats = LimitStatistics()
        /// Weight used in each of the last hour's minutes, by minute open time.
        var history: [Int64: Int] = [:]
        /// When the address last sent a request: the address quiet longest is forgotten first.
        var lastSeen: Int64 = .min
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

    /// Every client's together.
    public var limitStatistics: LimitStatistics {
        weight.withLock { windows in
            windows.values.reduce(into: LimitStatistics()) {
                $0.rateLimited += $1.limitStats.rateLimited
                $0.banned += $1.limitStats.banned
            }
        }
    }

    /// Weight `client` used per minute (by the minute's open time, UTC epoch ms) over the last hour, the current minute
    /// included.
    public func weightHistory(client: String) -> [Int64: Int] {
        weight.withLock { windows in
            guard let window = windows[client] else { return [:] }
            var history = window.history
            if window.used > 0 { history[window.minute] = window.used }
            return history
        }
    }

    /// Every client's weight per minute together, over the last day (``weightHistory(client:)`` keeps an hour).
    public var weightHistory: [Int64: Int] { totalWeight.withLock { $0 } }
    /// Every client's weight per minute together, by minute open time, for the last day.
    private let totalWeight = Mutex([Int64: Int]())

    /// The addresses requests came from.
    public var clients: [String] { weight.withLock { $0.keys.sorted() } }

    /// Faults injected so far, by kind.
    public var injectedFaults: [FaultKind: Int] { faults?.injected ?? [:] }

    /// Binance's limit on new stream connections: 300 per 5 minutes per IP.
    public static let maximumNewConnections = 300
    private let connectionOpens = Mutex<[String: [Int64]]>([:])

    /// The addresses stream connections were opened from, in the last 5 minutes.
    public var streamClients: [String] {
        let since = now - 300_000
        return connectionOpens.withLock { clients in clients.filter { $0.value.contains { $0 > since } }.keys.sorted() }
    }

    /// Whether a new stream connection from `client` is allowed at `now`; counted when it is.
    func admitStreamConnection(at now: Int64, client: String = SimulatedExchange.localClient) -> Bool {
        connectionOpens.withLock { clients in
            for address in clients.keys {
                clients[address]?.removeAll { $0 <= now - 300_000 }
                if clients[address]?.isEmpty == true { clients[address] = nil }
            }
            var opens = clients[client] ?? []
            guard opens.count < Self.maximumNewConnections else { return false }
            // Too many addresses: the one whose last connection is oldest is forgotten.
            if opens.isEmpty, clients.count >= Self.maximumClients,
                let oldest = clients.min(by: { ($0.value.last ?? .min) < ($1.value.last ?? .min) })?.key
            {
                clients[oldest] = nil
            }
            opens.append(now)
            clients[client] = opens
            return true
        }
    }

    /// A stream connection's fault for its next 10 s, if one is due.
    func drawStreamFault() -> FaultKind? { faults?.drawStream()?.kind }

    /// Serves the synthetic market of `configuration.seed`.
    public convenience init(configuration: SimulatorConfiguration) {
        self.init(configuration: configuration, market: SyntheticMarket(seed: configuration.seed, symbols: configuration.symbols))
    }

    /// Serves `market`; `configuration.symbols` are the ones listed.
    public init(configuration: SimulatorConfiguration, market: any SimulatedMarket) {
        self.configuration = configuration
        self.market = market
        self.faults = configuration.faults.map(FaultInjector.init(configuration:))
        self.lifetime.withLock { $0 = configuration.webSocketLifetime }
        let startMinute = Interval.oneMinute.openTime(containing: configuration.clock.now())
        self.listingTime = startMinute - Int64(configuration.historyMinutes) * 60_000
    }

    public var now: Int64 { configuration.clock.now() }

    /// A simulated HTTP answer: status, JSON body and the weight used in the current minute.
    public struct Reply: Sendable {
        public var status: Int
        public var body: [UInt8]
        public var usedWeight: Int
        public var retryAfterSeconds: Int?
        /// How the answer travels: normally, or late, cut short or not at all when a fault is injected.
        public var delivery: Delivery = .normal
    }

    /// Handles a GET of `path` with decoded query parameters from the address `client`, whose weight it counts.
    public func handle(path: String, query: [String: String], client: String = SimulatedExchange.localClient) -> Reply {
        if let refused = refusedWhileLimited(client) { return refused }
        guard let faults, let fault = faults.draw() else { return charged(answer(path: path, query: query), client) }
        return inject(fault, configuration: faults.configuration, path: path, query: query, client: client)
    }

    /// An answer before its weight is counted.
    struct Answer {
        var status: Int
        var body: [UInt8]
        var weight: Int
    }

    /// Counts `answer`'s weight against `client`: over the limit, a 429 until the minute ends instead.
    private func charged(_ answer: Answer, _ client: String) -> Reply {
        let (used, over) = charge(answer.weight, client)
        guard answer.status != 200 || !over else {
            let now = self.now
            return rateLimited(until: Interval.oneMinute.openTime(containing: now) + 60_000, at: now, used: used, client: client)
        }
        return Reply(status: answer.status, body: answer.body, usedWeight: used, retryAfterSeconds: nil)
    }

    private func answer(path: String, query: [String: String]) -> Answer {
        switch path {
        case "/api/v3/ping": return Answer(status: 200, body: Array("{}".utf8), weight: BinanceWeights.ping)
        case "/api/v3/time": return Answer(status: 200, body: Array("{\"serverTime\":\(now)}".utf8), weight: BinanceWeights.time)
        case "/api/v3/exchangeInfo": return exchangeInfo(query)
        case "/api/v3/klines": return klines(query)
        case "/api/v3/depth": return depth(query)
        default: return Answer(status: 404, body: BinanceCodec.encodeError(.init(code: -1000, msg: "Unknown path \(path).")), weight: 0)
        }
    }

    // MARK: Endpoints

    /// Every listed symbol, or those `symbol` or `symbols` (a JSON array, as Binance takes it) name.
    private func exchangeInfo(_ query: [String: String]) -> Answer {
        var listed = configuration.symbols
        if query["symbol"] != nil, query["symbols"] != nil {
            return error(400, -1_101, "Only one of 'symbol' and 'symbols' may be sent.")
        }
        if let one = query["symbol"] {
            guard let symbol = listed.first(where: { $0.rawValue == one }) else { return error(400, -1_121, "Invalid symbol.") }
            listed = [symbol]
        } else if let list = query["symbols"] {
            let names: [String]
            do {
                names = try JSONDecoder().decode([String].self, from: Data(list.utf8))
            } catch {
                return self.error(400, -1_100, "Illegal characters found in parameter 'symbols'; send a JSON array of symbols.")
            }
            var chosen: [Symbol] = []
            for name in names {
                guard let symbol = listed.first(where: { $0.rawValue == name }) else { return error(400, -1_121, "Invalid symbol.") }
                if !chosen.contains(symbol) { chosen.append(symbol) }
            }
            listed = chosen
        }
        let document = ExchangeInfoDocument(
            serverTime: now, weightLimitPerMinute: configuration.weightLimitPerMinute,
            listings: listed.map { symbol in
                let (base, quote) = Self.splitAssets(symbol.rawValue)
                return .init(symbol: symbol, baseAsset: base, quoteAsset: quote, rules: market.tradingRules(symbol))
            })
        return Answer(status: 200, body: document.encoded(), weight: BinanceWeights.exchangeInfo)
    }

    private func klines(_ query: [String: String]) -> Answer {
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
            // Years 1970–9999 only, so the candle arithmetic after it cannot overflow.
            guard let value = Int64(text), (0...Self.latestTime).contains(value) else { return illegal("startTime") }
            startTime = value
        }
        if let text = query["endTime"] {
            guard let value = Int64(text), (0...Self.latestTime).contains(value) else { return illegal("endTime") }
            endTime = value
        }
        if let startTime, let endTime, startTime > endTime {
            return error(400, -1023, "Start time is greater than end time.")
        }
        let now = self.now
        let earliest = listingTime
        let candles: [Kline]
        if let startTime {
            candles = market.klines(
                symbol, interval: interval, startTime: max(startTime, earliest), endTime: endTime ?? .max, now: now, limit: limit)
        } else {
            // Nothing opens before the listing. Walk the `limit` newest opens back (cheap) and, when the listing comes
            // first, ask for the candles from there only: making 500 daily candles of a two-hour history, and dropping
            // all but one, took seconds of CPU a request (monthly ones, minutes), a fuzzer found.
            let end = min(endTime ?? now, now)
            var oldest = interval.openTime(containing: end)
            var opens = 1
            while opens < limit, oldest >= earliest {
                let previous = interval.openTime(containing: oldest - 1)
                guard previous >= earliest else { break }
                oldest = previous
                opens += 1
            }
            if opens < limit || oldest < earliest {
                candles = market.klines(symbol, interval: interval, startTime: earliest, endTime: end, now: now, limit: limit)
            } else {
                candles = market.latestKlines(symbol, interval: interval, endTime: end, now: now, limit: limit)
            }
        }
        return Answer(status: 200, body: BinanceCodec.encodeKlines(candles), weight: BinanceWeights.klines)
    }

    private func depth(_ query: [String: String]) -> Answer {
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
        return Answer(
            status: 200, body: BinanceCodec.encodeDepth(market.orderBook(symbol, now: now, limit: limit)),
            weight: BinanceWeights.depth(limit: limit))
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
        let reply: Answer
        init(_ reply: Answer) { self.reply = reply }
    }

    private func missing(_ name: String) -> Answer {
        error(400, -1102, "Mandatory parameter '\(name)' was not sent, was empty/null, or malformed.")
    }

    /// 9999-12-31T23:59:59.999Z: the latest time a query may name.
    static let latestTime: Int64 = 253_402_300_799_999

    private func illegal(_ name: String) -> Answer {
        error(400, -1100, "Illegal characters found in parameter '\(name)'; legal range is '^[0-9]{1,20}$'.")
    }

    private func error(_ status: Int, _ code: Int, _ message: String) -> Answer {
        // Binance charges the endpoint's weight even for rejected requests; one unit keeps it simple.
        Answer(status: status, body: BinanceCodec.encodeError(.init(code: code, msg: message)), weight: 1)
    }

    /// A 429 lasting until `until`: a request that comes later than the grace and before `until` earns a ban. Injected
    /// ones are counted with the faults, not in ``limitStatistics``, which tells whether the client went over the limit.
    private func rateLimited(until: Int64, at now: Int64, used: Int, injected: Bool = false, client: String) -> Reply {
        withWindow(client) { window in
            window.rateLimitedUntil = max(window.rateLimitedUntil, until)
            window.rateLimitedAt = now
            if !injected { window.limitStats.rateLimited += 1 }
        }
        return tooManyRequests(retryAfterSeconds: Int((until - now + 999) / 1_000), used: used)
    }

    private func tooManyRequests(retryAfterSeconds: Int, used: Int) -> Reply {
        Reply(
            status: 429,
            body: BinanceCodec.encodeError(
                .init(
                    code: -1003, msg: "Too many requests; current limit of IP is \(configuration.weightLimitPerMinute) requests per minute."
                )),
            usedWeight: used, retryAfterSeconds: retryAfterSeconds)
    }

    /// A 418 for a banned client, or for one that ignored a 429 (which starts or lengthens the ban); another 429 for a
    /// request that was in flight when the 429 went out; `nil` otherwise.
    private func refusedWhileLimited(_ client: String) -> Reply? {
        enum Verdict {
            case banned(seconds: Int, used: Int)
            case stillLimited(seconds: Int, used: Int)
        }
        let now = self.now
        let grace = configuration.banGraceMilliseconds
        let verdict: Verdict? = withWindow(client) { window in
            let used = window.minute == Interval.oneMinute.openTime(containing: now) ? window.used : 0
            if window.bannedUntil > now { return .banned(seconds: Int((window.bannedUntil - now + 999) / 1_000), used: used) }
            guard window.rateLimitedUntil > now else { return nil }
            if now - window.rateLimitedAt < grace {
                return .stillLimited(seconds: Int((window.rateLimitedUntil - now + 999) / 1_000), used: used)
            }
            let seconds = window.nextBanSeconds
            window.bannedUntil = now + Int64(seconds) * 1_000
            window.nextBanSeconds = min(seconds * 2, 3 * 86_400)
            window.limitStats.banned += 1
            return .banned(seconds: seconds, used: used)
        }
        switch verdict {
        case nil: return nil
        case .stillLimited(let seconds, let used): return tooManyRequests(retryAfterSeconds: seconds, used: used)
        case .banned(let seconds, let used):
            return Reply(
                status: 418,
                body: BinanceCodec.encodeError(.init(code: -1003, msg: "Way too many requests; IP banned for \(seconds) s.")),
                usedWeight: used, retryAfterSeconds: seconds)
        }
    }

    // MARK: Faults

    /// Applies an injected fault: some replace the answer, others spoil or delay a normal one.
    private func inject(
        _ fault: FaultInjector.Draw, configuration: FaultConfiguration, path: String, query: [String: String], client: String
    ) -> Reply {
        switch fault.kind {
        case .streamDrop, .streamStall, .streamGap, .streamLate:
            // Stream faults are drawn for connections, never for requests.
            return charged(answer(path: path, query: query), client)
        case .serverError:
            let statuses = [500, 502, 503, 504]
            let status = statuses[Int(fault.variant % UInt64(statuses.count))]
            let body =
                status == 502 || status == 504
                ? Array("<html><head><title>\(status)</title></head><body>Gateway error</body></html>".utf8)
                : BinanceCodec.encodeError(.init(code: -1001, msg: "Internal error; unable to process your request. Please try again."))
            return Reply(status: status, body: body, usedWeight: currentWeight(client), retryAfterSeconds: nil)
        case .rateLimitBurst:
            let now = self.now
            return rateLimited(
                until: now + Int64(configuration.burstSeconds) * 1_000, at: now, used: currentWeight(client), injected: true, client: client
            )
        case .connectionReset:
            var reply = Reply(status: 200, body: [], usedWeight: currentWeight(client), retryAfterSeconds: nil)
            reply.delivery = .resetAfterHead
            return reply
        case .hang:
            var reply = charged(answer(path: path, query: query), client)
            reply.delivery = .delayed(configuration.hang)
            return reply
        case .malformedJSON:
            var reply = charged(answer(path: path, query: query), client)
            guard reply.status == 200 else { return reply }
            // A stray comma before the closing bracket: almost JSON, as a broken proxy might produce.
            reply.body = Array(reply.body.dropLast()) + Array(",\(reply.body.last.map { String(UnicodeScalar($0)) } ?? "}")".utf8)
            return reply
        case .truncatedJSON:
            var reply = charged(answer(path: path, query: query), client)
            guard reply.status == 200 else { return reply }
            let kept = reply.body.count / 2
            if fault.variant % 2 == 0 {
                reply.delivery = .cutAfter(bytes: kept)
            } else {
                // The length header matches, but the body itself ends half-way.
                reply.body = Array(reply.body.prefix(kept))
            }
            return reply
        }
    }

    /// Adds `amount` to the current minute's weight; returns the total, as `X-MBX-USED-WEIGHT-1M` reports it, and
    /// whether it is over the limit.
    private func charge(_ amount: Int, _ client: String) -> (used: Int, over: Bool) {
        let minute = Interval.oneMinute.openTime(containing: now)
        let limit = configuration.weightLimitPerMinute
        if amount > 0 {
            totalWeight.withLock { total in
                total[minute, default: 0] += amount
                if total.count > 1_440, let oldest = total.keys.min() { total[oldest] = nil }
            }
        }
        return withWindow(client) { window in
            if window.minute != minute {
                if window.used > 0 { window.history[window.minute] = window.used }
                if window.history.count > 60, let oldest = window.history.keys.min() { window.history[oldest] = nil }
                window.minute = minute
                window.used = 0
            }
            window.used += amount
            return (window.used, window.used > limit)
        }
    }

    private func currentWeight(_ client: String) -> Int {
        let minute = Interval.oneMinute.openTime(containing: now)
        return withWindow(client) { $0.minute == minute ? $0.used : 0 }
    }

    /// Runs `body` on `client`'s window, made when new (forgetting the address quiet longest when there are too many:
    /// every request, refused ones too, counts as being seen, so a client that keeps asking while banned stays banned).
    private func withWindow<T>(_ client: String, _ body: (inout WeightWindow) -> T) -> T {
        let now = self.now
        return weight.withLock { windows in
            if windows[client] == nil, windows.count >= Self.maximumClients,
                let quietest = windows.min(by: { $0.value.lastSeen < $1.value.lastSeen })?.key
            {
                windows[quietest] = nil
            }
            windows[client, default: WeightWindow()].lastSeen = now
            return body(&windows[client, default: WeightWindow()])
        }
    }

    static func splitAssets(_ symbol: String) -> (String, String) {
        for quote in ["USDT", "FDUSD", "USDC", "BUSD", "TUSD", "BTC", "ETH", "BNB", "EUR", "TRY"] where symbol.hasSuffix(quote) {
            return (String(symbol.dropLast(quote.count)), quote)
        }
        return (String(symbol.dropLast(3)), String(symbol.suffix(3)))
    }
}
