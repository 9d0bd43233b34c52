public import MarketData
import Synchronization

/// What one market-data WebSocket connection of the simulator sends, independent of the socket so it can be tested
/// directly: `@kline_1m` events every 2 s and the final one right after the minute closes, and `@depth@100ms` diff
/// events for every 100 ms slot in which the book changed, whose update ids continue the REST snapshot's.
public struct StreamSession: Sendable {
    /// Binance's limits per connection.
    public static let maximumStreams = 1_024
    public static let maximumIncomingPerSecond = 5
    /// How often an open candle's state is pushed.
    static let klinePushMilliseconds: Int64 = 2_000

    let market: any SimulatedMarket
    let listed: Set<Symbol>
    /// Combined streams wrap each event as `{"stream":…,"data":…}`.
    public let combined: Bool
    private(set) var klines: [Symbol: KlineState] = [:]
    private(set) var depths: [Symbol: Int64] = [:]
    private var incoming: (second: Int64, count: Int) = (0, 0)
    /// Injected faults in effect: events stopped, the next diff event skipped, the next final kline event held back.
    private(set) var stalled = false
    private var skipNextDiff = false
    private var holdNextFinal = false
    /// Messages held back, with when they are due.
    private var delayed: [(due: Int64, message: [UInt8])] = []

    struct KlineState {
        /// The minute whose candle was last pushed.
        var minute: Int64
        var lastPush: Int64 = .min
    }

    /// Why the server ends a connection.
    public enum Refusal: Error, Sendable, Hashable, CustomStringConvertible {
        case tooManyMessages
        case tooManyStreams(Int)
        case unknownStream(String)

        public var description: String {
            switch self {
            case .tooManyMessages: "more than \(StreamSession.maximumIncomingPerSecond) incoming messages in a second"
            case .tooManyStreams(let count): "\(count) streams requested; at most \(StreamSession.maximumStreams) per connection"
            case .unknownStream(let name): "invalid stream '\(name)'"
            }
        }
    }

    public init(market: any SimulatedMarket, listed: [Symbol], combined: Bool) {
        self.market = market
        self.listed = Set(listed)
        self.combined = combined
    }

    public var streamCount: Int { klines.count + depths.count }

    /// Subscribes `names` at `now`; throws for an unknown stream or one over the limit, subscribing none.
    public mutating func subscribe(_ names: [String], at now: Int64) throws(Refusal) {
        var streams: [StreamName] = []
        for name in names {
            guard let stream = StreamName(name), listed.contains(stream.symbol) else { throw .unknownStream(String(name.prefix(64))) }
            streams.append(stream)
        }
        let added = Set(streams).filter { stream in
            switch stream {
            case .kline(let symbol): klines[symbol] == nil
            case .depth(let symbol): depths[symbol] == nil
            }
        }
        guard streamCount + added.count <= Self.maximumStreams else { throw .tooManyStreams(streamCount + added.count) }
        for stream in added {
            switch stream {
            case .kline(let symbol): klines[symbol] = KlineState(minute: Interval.oneMinute.openTime(containing: now))
            // Events start after the book's last change, as on Binance, where update ids count changes: every
            // connection then sends the same events, and a replacement connection continues the old one's.
            case .depth(let symbol):
                depths[symbol] = SimulatedBook(market: market).lastChange(symbol, atOrBefore: SimulatedBook.completedSlot(at: now))
            }
        }
    }

    public mutating func unsubscribe(_ names: [String]) {
        for stream in names.compactMap(StreamName.init) {
            switch stream {
            case .kline(let symbol): klines[symbol] = nil
            case .depth(let symbol): depths[symbol] = nil
            }
        }
    }

    public var subscriptions: [String] {
        (klines.keys.map { StreamName.kline($0).description } + depths.keys.map { StreamName.depth($0).description }).sorted()
    }

    /// Answers one incoming text message (`SUBSCRIBE`, `UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`); throws when the
    /// connection must close (over the message rate).
    public mutating func handle(_ message: [UInt8], at now: Int64) throws(Refusal) -> [UInt8] {
        let second = now / 1_000
        if incoming.second != second { incoming = (second, 0) }
        incoming.count += 1
        guard incoming.count <= Self.maximumIncomingPerSecond else { throw .tooManyMessages }
        guard let request = ControlRequest.parse(message) else {
            return Array(#"{"error":{"code":3,"msg":"Invalid JSON: expected {\"method\":…,\"params\":[…],\"id\":…}"},"id":null}"#.utf8)
        }
        let id = request.id.map(String.init) ?? "null"
        switch request.method {
        case "SUBSCRIBE":
            do {
                try subscribe(request.params, at: now)
            } catch {
                if case .tooManyStreams = error { throw error }
                var bytes = Array(#"{"error":{"code":2,"msg":"#.utf8)
                JSONText.appendString("\(error)", to: &bytes)
                bytes.append(contentsOf: #"},"id":\#(id)}"#.utf8)
                return bytes
            }
            return Array(#"{"result":null,"id":\#(id)}"#.utf8)
        case "UNSUBSCRIBE":
            unsubscribe(request.params)
            return Array(#"{"result":null,"id":\#(id)}"#.utf8)
        case "LIST_SUBSCRIPTIONS":
            var bytes = Array(#"{"result":["#.utf8)
            for (index, name) in subscriptions.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                JSONText.appendString(name, to: &bytes)
            }
            bytes.append(contentsOf: #"],"id":\#(id)}"#.utf8)
            return bytes
        default:
            return Array(#"{"error":{"code":1,"msg":"Unknown method"},"id":\#(id)}"#.utf8)
        }
    }

    /// Applies a stream fault other than a dropped connection (which the server does itself).
    public mutating func inject(_ fault: FaultKind) {
        switch fault {
        case .streamStall: stalled = true
        case .streamGap: skipNextDiff = true
        case .streamLate: holdNextFinal = true
        default: break
        }
    }

    /// The events due at `now`, each a complete message.
    public mutating func events(at now: Int64) -> [[UInt8]] {
        guard !stalled else { return [] }
        var messages: [[UInt8]] = []
        let minute = Interval.oneMinute.openTime(containing: now)
        var held: [[UInt8]] = []
        for symbol in klines.keys.sorted() {
            guard var state = klines[symbol] else { continue }
            if state.minute < minute {
                // The closed minutes' final events first (a few at most, after a stall of the loop), then the new one.
                var closed = max(state.minute, minute - 5 * 60_000)
                while closed < minute {
                    if let candle = market.minuteCandle(symbol, minuteOpen: closed) {
                        let final = wrap(
                            .kline(symbol),
                            BinanceStreamCodec.encode(KlineStreamEvent(symbol: symbol, eventTime: now, kline: candle, isFinal: true))
                        )
                        if holdNextFinal {
                            // ws-late: the new minute's first event goes out first, the final one a second later.
                            holdNextFinal = false
                            held.append(final)
                        } else {
                            messages.append(final)
                        }
                    }
                    closed += 60_000
                }
                state = KlineState(minute: minute)
            }
            if state.lastPush == .min || now - state.lastPush >= Self.klinePushMilliseconds,
                let open = market.klines(symbol, interval: .oneMinute, startTime: minute, endTime: minute, now: now, limit: 1).first
            {
                messages.append(
                    wrap(
                        .kline(symbol),
                        BinanceStreamCodec.encode(KlineStreamEvent(symbol: symbol, eventTime: now, kline: open, isFinal: false))))
                state.lastPush = now
            }
            klines[symbol] = state
        }
        let slot = SimulatedBook.completedSlot(at: now)
        let book = SimulatedBook(market: market)
        for symbol in depths.keys.sorted() {
            guard let sent = depths[symbol], slot > sent, let diff = book.diff(symbol, from: sent, to: slot) else { continue }
            if skipNextDiff {
                // ws-gap: the event is lost; the next one starts where this one would have ended.
                skipNextDiff = false
                depths[symbol] = slot
                continue
            }
            let event = DepthDiffEvent(
                symbol: symbol, eventTime: now, firstUpdateId: SimulatedBook.updateId(symbol, slot: sent) + 1,
                finalUpdateId: SimulatedBook.updateId(symbol, slot: slot), bids: diff.bids, asks: diff.asks)
            messages.append(wrap(.depth(symbol), BinanceStreamCodec.encode(event)))
            depths[symbol] = slot
        }
        let (due, later) = (delayed.filter { $0.due <= now }, delayed.filter { $0.due > now })
        messages += due.map(\.message)
        delayed = later + held.map { (now + 1_000, $0) }
        return messages
    }

    private func wrap(_ stream: StreamName, _ data: [UInt8]) -> [UInt8] {
        combined ? BinanceStreamCodec.combined(stream: stream, data: data) : data
    }

    /// The streams a connection's path names: `/ws/<stream>` (raw), `/stream?streams=a/b/c` (combined); `/ws` and
    /// `/stream` alone start with none. `nil` for any other path.
    public static func streams(inPath path: String) -> (names: [String], combined: Bool)? {
        let decoded = path.replacingPercentAt()
        let (route, query) = decoded.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).map(String.init).pair
        if route == "/ws" || route == "/ws/" { return ([], false) }
        if route.hasPrefix("/ws/") { return (route.dropFirst(4).split(separator: "/").map(String.init), false) }
        guard route == "/stream" || route == "/stream/" else { return nil }
        var names: [String] = []
        for parameter in (query ?? "").split(separator: "&") where parameter.hasPrefix("streams=") {
            names += parameter.dropFirst("streams=".count).split(separator: "/").map(String.init)
        }
        return (names, true)
    }
}

extension String {
    /// `%40` is how some clients send the `@` of a stream name.
    fileprivate func replacingPercentAt() -> String {
        guard contains("%") else { return self }
        return replacing("%40", with: "@")
    }
}

extension Array where Element == String {
    fileprivate var pair: (String, String?) { (first ?? "", count > 1 ? self[1] : nil) }
}

/// `{"method":"SUBSCRIBE","params":["btcusdt@kline_1m"],"id":1}`, read totally.
struct ControlRequest {
    var method: String
    var params: [String]
    var id: Int64?

    static func parse(_ bytes: [UInt8]) -> ControlRequest? {
        bytes.withUnsafeBufferPointer { buffer -> ControlRequest? in
            var scanner = JSONScanner(buffer)
            var method: String?
            var params: [String] = []
            var id: Int64?
            do throws(JSONScanError) {
                try scanner.expect(UInt8(ascii: "{"))
                if !scanner.consume(UInt8(ascii: "}")) {
                    repeat {
                        let key = try scanner.readString()
                        try scanner.expect(UInt8(ascii: ":"))
                        switch key {
                        case "method": method = try scanner.readString()
                        case "id": id = Int64(try scanner.readScalarText())
                        case "params":
                            try scanner.expect(UInt8(ascii: "["))
                            if !scanner.consume(UInt8(ascii: "]")) {
                                repeat { params.append(try scanner.readString()) } while try scanner.nextElement(closing: UInt8(ascii: "]"))
                            }
                        default: try scanner.skipValue()
                        }
                    } while try scanner.nextElement(closing: UInt8(ascii: "}"))
                }
                try scanner.expectEnd()
            } catch {
                return nil
            }
            guard let method else { return nil }
            return ControlRequest(method: method, params: params, id: id)
        }
    }

    init(method: String, params: [String], id: Int64?) {
        self.method = method
        self.params = params
        self.id = id
    }
}

/// Counts of the simulator's stream connections, for tests and the benchmark.
public struct StreamStatistics: Sendable, Hashable {
    public var connectionsOpened = 0
    public var connectionsOpen = 0
    public var events = 0
    public var bytes = 0
    public var refused = 0

    public init() {}
}

final class StreamCounters: Sendable {
    let state = Mutex(StreamStatistics())
}
