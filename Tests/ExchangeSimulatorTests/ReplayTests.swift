import ExchangeSimulator
import Foundation
import Hummingbird
import HummingbirdTesting
import MarketData
import Synchronization
import Testing

/// The replay market serves recorded candles as they open on the simulator's clock, folds longer intervals from them as
/// Binance does, and runs on a virtual clock at any speed.
struct ReplayTests {
    static let btc = try! Symbol("BTCUSDT")
    /// 2025-06-01T00:00:00Z.
    static let first: Int64 = 1_748_736_000_000
    static func minute(_ index: Int) -> Int64 { first + Int64(index) * 60_000 }

    /// Three hours of a synthetic market's candles with minutes 70..<90 missing, as in an exchange outage.
    static let recorded: [Kline] = {
        let source = SyntheticMarket(seed: 3, symbols: [btc])
        return (0..<180).filter { !(70..<90).contains($0) }.compactMap { source.minuteCandle(btc, minuteOpen: minute($0)) }
    }()

    /// The recording is handed over in an order drawn from a seeded generator (any order must give the same market).
    /// Every expectation names the seed; `CRYPTOPIPE_TEST_SEED=<seed>` replays that order.
    static let shuffleSeed: UInt64 = {
        if let text = ProcessInfo.processInfo.environment["CRYPTOPIPE_TEST_SEED"], let seed = UInt64(text) { return seed }
        return UInt64.random(in: 0...UInt64.max)
    }()
    static let seedNote = "shuffle seed \(shuffleSeed) (replay with CRYPTOPIPE_TEST_SEED=\(shuffleSeed))"

    static let market: ReplayMarket = {
        var generator = SplitMix64(seed: shuffleSeed)
        return ReplayMarket(candles: [btc: recorded.shuffled(using: &generator)])
    }()

    @Test func minutesAreServedAsTheyOpenAndLongerIntervalsAreFoldedFromThem() {
        let market = Self.market
        #expect(market.symbols == [Self.btc] && market.span == Self.minute(0)...Self.minute(179), "\(Self.seedNote)")
        let now = Self.minute(150) + 30_000
        let minutes = market.klines(Self.btc, interval: .oneMinute, startTime: Self.minute(60), endTime: .max, now: now, limit: 1_000)
        #expect(minutes == Self.recorded.filter { $0.openTime >= Self.minute(60) && $0.openTime <= Self.minute(150) }, "\(Self.seedNote)")
        #expect(market.minuteCandle(Self.btc, minuteOpen: Self.minute(75)) == nil, "\(Self.seedNote)")
        let latest = market.latestKlines(Self.btc, interval: .oneMinute, endTime: .max, now: now, limit: 3)
        #expect(latest.map(\.openTime) == [Self.minute(148), Self.minute(149), Self.minute(150)], "\(Self.seedNote)")

        // The hour with the outage is folded from the minutes there are; the others equal the source's own 1h candles.
        let hours = market.klines(Self.btc, interval: .oneHour, startTime: Self.first, endTime: .max, now: .max, limit: 10)
        let source = SyntheticMarket(seed: 3, symbols: [Self.btc])
        let sourceHours = source.klines(
            Self.btc, interval: .oneHour, startTime: Self.first, endTime: .max, now: Self.minute(180), limit: 10)
        #expect(hours.count == 3 && hours[0] == sourceHours[0] && hours[2] == sourceHours[2], "\(Self.seedNote)")
        let outageHour = Self.recorded.filter { $0.openTime >= Self.minute(60) && $0.openTime < Self.minute(120) }
        #expect(hours[1] == KlineRollup.combine(outageHour, openTime: Self.minute(60), closeTime: Self.minute(120) - 1), "\(Self.seedNote)")
        // Seen during the third hour, that hour holds only the minutes opened so far.
        let partial = market.latestKlines(Self.btc, interval: .oneHour, endTime: .max, now: now, limit: 2)
        #expect(partial.count == 2 && partial[1].volume < hours[2].volume, "\(Self.seedNote)")
        // Long after the recording ends, the newest candles are its last ones.
        #expect(market.latestKlines(Self.btc, interval: .oneHour, endTime: .max, now: .max, limit: 5) == hours, "\(Self.seedNote)")
    }

    @Test func theOrderBookSurroundsTheLastPrice() throws {
        let now = Self.minute(100) + 10_000
        let book = Self.market.orderBook(Self.btc, now: now, limit: 20)
        let last = try #require(Self.market.minuteCandle(Self.btc, minuteOpen: Self.minute(100)), "\(Self.seedNote)").close
        #expect(book.bids.count == 20 && book.asks.count == 20, "\(Self.seedNote)")
        #expect(book.bids.allSatisfy { $0.price <= last } && book.asks.allSatisfy { $0.price > last }, "\(Self.seedNote)")
        #expect(zip(book.bids, book.bids.dropFirst()).allSatisfy { $0.price > $1.price }, "\(Self.seedNote)")
        #expect(book.bids.allSatisfy { !$0.quantity.isZero }, "\(Self.seedNote)")
    }

    @Test func theExchangeServesTheReplayOnAVirtualClock() throws {
        let wall = Mutex<Int64>(1_000_000)
        let start = Self.minute(120)
        let clock = PipelineClock { wall.withLock { $0 } }.scaled(startingAt: start, speed: 60)
        let exchange = SimulatedExchange(
            configuration: .init(symbols: Self.market.symbols, historyMinutes: 120, clock: clock), market: Self.market)
        func klines(_ query: [String: String]) throws -> [Kline] {
            let reply = exchange.handle(path: "/api/v3/klines", query: query.merging(["symbol": "BTCUSDT", "interval": "1m"]) { $1 })
            #expect(reply.status == 200, "\(Self.seedNote)")
            return try BinanceCodec.decodeKlines(reply.body)
        }
        #expect(try klines(["limit": "2"]).map(\.openTime) == [Self.minute(119), Self.minute(120)], "\(Self.seedNote)")
        // Ten wall seconds at 60× are ten minutes.
        wall.withLock { $0 += 10_000 }
        #expect(exchange.now == start + 600_000, "\(Self.seedNote)")
        #expect(try klines(["limit": "1"]).map(\.openTime) == [Self.minute(130)], "\(Self.seedNote)")
        // Asking from before the recording starts begins at its first candle.
        #expect(try klines(["startTime": String(Self.first - 3_600_000), "limit": "1"]).first == Self.recorded.first, "\(Self.seedNote)")
        let info = String(decoding: exchange.handle(path: "/api/v3/exchangeInfo", query: [:]).body, as: UTF8.self)
        #expect(info.contains("BTCUSDT"), "\(Self.seedNote)")
    }

    /// `serverTime` and the `Date` header both tell the replay's virtual time, as Binance's two agree on its own.
    @Test func theDateHeaderAndServerTimeAgreeWithTheVirtualClock() async throws {
        let start = Self.minute(120) + 12_345
        let exchange = SimulatedExchange(
            configuration: .init(
                symbols: Self.market.symbols, historyMinutes: 120,
                clock: PipelineClock { 1_000_000 }.scaled(startingAt: start, speed: 1)), market: Self.market)
        let app = Application(router: SimulatorServer.router(for: exchange))
        try await app.test(.router) { client in
            try await client.execute(uri: "/api/v3/time", method: .get) { response in
                let serverTime = try BinanceCodec.decodeServerTime(Data(response.body.readableBytesView))
                #expect(serverTime == start, "\(Self.seedNote)")
                let date = try #require(response.headers[.date].flatMap(UTCTime.parseHTTPDate))
                #expect(date == start - start % 1_000, "\(Self.seedNote)")
            }
        }
    }
}

/// SplitMix64: a seeded generator whose sequence is the same on every platform and run.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
