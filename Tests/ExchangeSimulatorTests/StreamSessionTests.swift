import ExchangeSimulator
import Foundation
import MarketData
import Testing

struct StreamSessionTests {
    static let btc = try! Symbol("BTCUSDT")
    static let eth = try! Symbol("ETHUSDT")
    static let start: Int64 = 1_767_225_630_000  // 2026-01-01T00:00:30Z
    static let sol = try! Symbol("SOLUSDT")
    static let market = SyntheticMarket(seed: 7, symbols: [btc, eth, sol])

    /// Decodes every message of `session` due from `from` to `to`, stepping 100 ms.
    static func run(_ session: inout StreamSession, from: Int64, to: Int64) throws -> [StreamMessage] {
        var messages: [StreamMessage] = []
        var now = from
        while now <= to {
            messages += try session.events(at: now).map { try BinanceStreamCodec.decode($0) }
            now += 100
        }
        return messages
    }

    /// A local book from the REST snapshot and the diff stream equals the REST book at every update id the stream
    /// reaches, level for level, across trades, second turnovers and minute boundaries.
    @Test(arguments: [btc, eth, sol])
    func diffsContinueTheRESTSnapshot(_ symbol: Symbol) throws {
        var session = StreamSession(market: Self.market, listed: [Self.btc, Self.eth, Self.sol], combined: true)
        try session.subscribe([StreamName.depth(symbol).description], at: Self.start)
        let snapshotTime = Self.start + 450
        var book = LocalOrderBook(symbol: symbol)
        var events = try Self.run(&session, from: Self.start, to: snapshotTime)
        for case .depth(let event) in events { _ = book.receive(event) }
        // Asked for 5,000 levels, the snapshot holds the simulator's whole book: the local book is then exact at every depth.
        #expect(book.applySnapshot(Self.market.orderBook(symbol, now: snapshotTime, limit: 5_000), limit: 5_000) == .applied)
        // What the collector does: a snapshot of 500 levels, 100 written.
        var partial = LocalOrderBook(symbol: symbol)
        #expect(partial.applySnapshot(Self.market.orderBook(symbol, now: snapshotTime, limit: 500), limit: 500) == .applied)
        var checked = 0
        var now = snapshotTime + 50
        while now < Self.start + 300_000 {
            events = try Self.run(&session, from: now, to: now)
            for case .depth(let event) in events {
                #expect(event.symbol == symbol)
                #expect(book.receive(event) == .applied)
                #expect(partial.receive(event) == .applied)
                #expect(partial.covers(100), "update \(event.finalUpdateId)")
                let top = Self.market.orderBook(symbol, now: now, limit: 100)
                #expect(partial.top(100)?.bids == top.bids && partial.top(100)?.asks == top.asks, "update \(event.finalUpdateId)")
                // The REST book of the same update id: the slot the event ends with.
                let rest = Self.market.orderBook(symbol, now: now, limit: 5_000)
                #expect(rest.lastUpdateId == event.finalUpdateId)
                let local = try #require(book.top(5_000))
                #expect(local.bids == rest.bids, "update \(event.finalUpdateId): \(Self.difference(local.bids, rest.bids))")
                #expect(local.asks == rest.asks, "update \(event.finalUpdateId): \(Self.difference(local.asks, rest.asks))")
                checked += 1
            }
            now += 100
        }
        // About an event a second (levels turn over each second) plus one per trade.
        #expect(checked >= 300)
    }

    static func difference(_ local: [PriceLevel], _ rest: [PriceLevel]) -> String {
        let extra = local.filter { !rest.contains($0) }.prefix(3).map { "\($0.price)x\($0.quantity)" }
        let missing = rest.filter { !local.contains($0) }.prefix(3).map { "\($0.price)x\($0.quantity)" }
        return "\(local.count) vs \(rest.count) levels; only local \(extra); only REST \(missing)"
    }

    @Test func theFinalKlineEventEqualsTheRESTCandle() throws {
        var session = StreamSession(market: Self.market, listed: [Self.btc, Self.eth], combined: false)
        try session.subscribe(["btcusdt@kline_1m"], at: Self.start)
        let messages = try Self.run(&session, from: Self.start, to: Self.start + 185_000)
        let klines = messages.compactMap { message -> KlineStreamEvent? in
            if case .kline(let event) = message { return event }
            return nil
        }
        let finals = klines.filter(\.isFinal)
        #expect(finals.map(\.kline.openTime) == [Self.start - 30_000, Self.start + 30_000, Self.start + 90_000])
        for event in finals {
            let rest = Self.market.klines(
                Self.btc, interval: .oneMinute, startTime: event.kline.openTime, endTime: event.kline.openTime, now: event.eventTime,
                limit: 1)
            #expect(rest == [event.kline])
        }
        // Open candles every 2 s, each the REST answer of its moment.
        let open = klines.filter { !$0.isFinal }
        #expect(open.count >= 90)
        for event in open.prefix(10) {
            let rest = Self.market.klines(
                Self.btc, interval: .oneMinute, startTime: event.kline.openTime, endTime: event.kline.openTime, now: event.eventTime,
                limit: 1)
            #expect(rest == [event.kline])
        }
        // The final event of a minute comes before the next minute's first.
        for final in finals {
            let index = try #require(klines.firstIndex(of: final))
            #expect(!klines[..<index].contains { $0.kline.openTime > final.kline.openTime })
        }
    }

    /// A replay serves the same streams: final events are the recorded minutes (none for the minutes the recording
    /// lacks) and the diff events continue its REST book.
    @Test func aReplayStreamsItsRecording() throws {
        let market = ReplayTests.market
        let start = ReplayTests.minute(60) + 30_000
        var session = StreamSession(market: market, listed: [ReplayTests.btc], combined: true)
        try session.subscribe(["btcusdt@kline_1m", "btcusdt@depth@100ms"], at: start)
        var book = LocalOrderBook(symbol: ReplayTests.btc)
        #expect(book.applySnapshot(market.orderBook(ReplayTests.btc, now: start, limit: 5_000), limit: 5_000) == .applied)
        var finals: [Kline] = []
        var now = start
        var diffs = 0
        while now <= ReplayTests.minute(95) + 1_000 {
            for message in try session.events(at: now).map({ try BinanceStreamCodec.decode($0) }) {
                switch message {
                case .kline(let event) where event.isFinal: finals.append(event.kline)
                case .depth(let event):
                    #expect(book.receive(event) == .applied)
                    let rest = market.orderBook(ReplayTests.btc, now: now, limit: 5_000)
                    let local = book.top(5_000)
                    #expect(local?.bids == rest.bids && local?.asks == rest.asks)
                    diffs += 1
                default: break
                }
            }
            now += 100
        }
        let expected = stride(from: ReplayTests.minute(60), to: ReplayTests.minute(95), by: 60_000).compactMap {
            market.minuteCandle(ReplayTests.btc, minuteOpen: $0)
        }
        #expect(finals == expected && finals.count == 15, "\(finals.count) finals")
        #expect(diffs > 100)
    }

    @Test func answersRequestsAndEnforcesTheLimits() throws {
        var session = StreamSession(market: Self.market, listed: [Self.btc, Self.eth], combined: true)
        let subscribe = Array(#"{"method":"SUBSCRIBE","params":["btcusdt@kline_1m","ethusdt@depth@100ms"],"id":1}"#.utf8)
        #expect(String(decoding: try session.handle(subscribe, at: Self.start), as: UTF8.self) == #"{"result":null,"id":1}"#)
        let list = try session.handle(Array(#"{"method":"LIST_SUBSCRIPTIONS","id":2}"#.utf8), at: Self.start)
        #expect(String(decoding: list, as: UTF8.self) == #"{"result":["btcusdt@kline_1m","ethusdt@depth@100ms"],"id":2}"#)
        let unknown = try session.handle(Array(#"{"method":"SUBSCRIBE","params":["dogeusdt@kline_1m"],"id":3}"#.utf8), at: Self.start)
        #expect(String(decoding: unknown, as: UTF8.self).contains("\"error\""))
        let garbage = try session.handle(Array("not json".utf8), at: Self.start)
        #expect(String(decoding: garbage, as: UTF8.self).contains("\"error\""))
        // Five messages a second at most: the sixth closes the connection.
        _ = try session.handle(Array(#"{"method":"UNSUBSCRIBE","params":["btcusdt@kline_1m"],"id":4}"#.utf8), at: Self.start)
        #expect(throws: StreamSession.Refusal.tooManyMessages) {
            try session.handle(Array(#"{"method":"LIST_SUBSCRIPTIONS","id":5}"#.utf8), at: Self.start)
        }
        #expect(session.subscriptions == ["ethusdt@depth@100ms"])
        // 1,024 streams a connection at most.
        let many = (0..<1_025).map { index in "s\(index)usdt@kline_1m" }
        let listed = (0..<1_025).map { index in try! Symbol("S\(index)USDT") }
        var big = StreamSession(market: Self.market, listed: listed, combined: true)
        #expect(throws: StreamSession.Refusal.tooManyStreams(1_025)) { try big.subscribe(many, at: Self.start) }
        try big.subscribe(Array(many.prefix(1_024)), at: Self.start)
        #expect(big.streamCount == 1_024)
    }

    @Test func pathsNameTheirStreams() {
        #expect(StreamSession.streams(inPath: "/ws/btcusdt@kline_1m")?.names == ["btcusdt@kline_1m"])
        #expect(StreamSession.streams(inPath: "/ws/btcusdt%40kline_1m")?.combined == false)
        let combined = StreamSession.streams(inPath: "/stream?streams=btcusdt@kline_1m/ethusdt@depth@100ms")
        #expect(combined?.names == ["btcusdt@kline_1m", "ethusdt@depth@100ms"] && combined?.combined == true)
        #expect(StreamSession.streams(inPath: "/stream")?.names == [])
        #expect(StreamSession.streams(inPath: "/api/v3/klines") == nil)
    }
}
