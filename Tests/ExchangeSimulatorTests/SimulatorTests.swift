import ExchangeSimulator
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import MarketData
import Synchronization
import Testing

struct SimulatorTests {
    static let btc = try! Symbol("BTCUSDT")
    static let eth = try! Symbol("ETHUSDT")
    static let start: Int64 = 1_767_225_630_000  // 2026-01-01T00:00:30Z

    static func exchange(seed: UInt64 = 7, now: Int64 = start, history: Int = 3_000) -> SimulatedExchange {
        SimulatedExchange(configuration: .init(seed: seed, symbols: [btc, eth], historyMinutes: history, clock: PipelineClock { now }))
    }

    static func get(_ exchange: SimulatedExchange, _ uri: String) async throws -> (HTTPResponse.Status, HTTPFields, [UInt8]) {
        let app = Application(router: SimulatorServer.router(for: exchange))
        let captured = Mutex<(HTTPResponse.Status, HTTPFields, [UInt8])?>(nil)
        try await app.test(.router) { client in
            try await client.execute(uri: uri, method: .get) { response in
                captured.withLock { $0 = (response.status, response.headers, Array(response.body.readableBytesView)) }
            }
        }
        return try #require(captured.withLock { $0 })
    }

    @Test func klinesFollowBinanceParameterSemantics() async throws {
        let exchange = Self.exchange()
        // No startTime: the newest `limit` candles, oldest first, the last still open.
        let (status, headers, body) = try await Self.get(exchange, "/api/v3/klines?symbol=BTCUSDT&interval=1m&limit=3")
        #expect(status == .ok)
        #expect(headers[HTTPField.Name("X-MBX-USED-WEIGHT-1M")!] == "2")
        let latest = try BinanceCodec.decodeKlines(body)
        #expect(latest.map(\.openTime) == [Self.start - 150_000, Self.start - 90_000, Self.start - 30_000])
        // Default limit 500; startTime and endTime are inclusive bounds on open time.
        let all = try BinanceCodec.decodeKlines(
            try await Self.get(exchange, "/api/v3/klines?symbol=BTCUSDT&interval=1m&startTime=\(Self.start - 3_600_000)").2)
        #expect(all.count == 60 && all.first?.openTime == Self.start - 3_570_000)
        let bounded = try BinanceCodec.decodeKlines(
            try await Self.get(
                exchange, "/api/v3/klines?symbol=BTCUSDT&interval=1m&startTime=\(Self.start - 630_000)&endTime=\(Self.start - 270_000)"
            ).2)
        #expect(bounded.map(\.openTime) == stride(from: Self.start - 630_000, through: Self.start - 270_000, by: 60_000).map { $0 })
        let many = try BinanceCodec.decodeKlines(try await Self.get(exchange, "/api/v3/klines?symbol=BTCUSDT&interval=1m&startTime=0").2)
        #expect(many.count == 500 && many.first?.openTime == exchange.listingTime)
    }

    @Test(arguments: [
        ("/api/v3/klines?symbol=BTCUSDX&interval=1m", -1121), ("/api/v3/klines?interval=1m", -1102),
        ("/api/v3/klines?symbol=BTCUSDT", -1102),
        ("/api/v3/klines?symbol=BTCUSDT&interval=2m", -1120), ("/api/v3/klines?symbol=BTCUSDT&interval=1m&limit=1001", -1130),
        ("/api/v3/klines?symbol=BTCUSDT&interval=1m&limit=x", -1100),
        ("/api/v3/klines?symbol=BTCUSDT&interval=1m&startTime=5&endTime=4", -1023),
        ("/api/v3/klines?symbol=BTCUSDT&interval=1M&startTime=9223372036854775807", -1100),
        ("/api/v3/klines?symbol=BTCUSDT&interval=1w&startTime=-9223372036854775808", -1100),
        ("/api/v3/klines?symbol=BTCUSDT&interval=1m&endTime=9223372036854775807", -1100),
        ("/api/v3/klines?symbol=btc-usdt&interval=1m", -1100), ("/api/v3/depth?symbol=BTCUSDT&limit=0", -1130),
        ("/api/v3/depth?symbol=ETHBTC", -1121),
    ])
    func badParametersGetBinanceErrors(uri: String, code: Int) async throws {
        let (status, _, body) = try await Self.get(Self.exchange(), uri)
        #expect(status == .badRequest)
        #expect(BinanceCodec.decodeError(Data(body))?.code == code)
    }

    @Test func sameSeedServesIdenticalClosedCandlesWhateverTheStartTime() throws {
        let early = Self.exchange(seed: 11, now: Self.start)
        let late = Self.exchange(seed: 11, now: Self.start + 7_200_000)
        let other = Self.exchange(seed: 12, now: Self.start)
        let window = (Self.start - 1_800_000, Self.start - 60_000)
        let a = early.market.klines(Self.btc, interval: .oneMinute, startTime: window.0, endTime: window.1, now: early.now, limit: 1_000)
        let b = late.market.klines(Self.btc, interval: .oneMinute, startTime: window.0, endTime: window.1, now: late.now, limit: 1_000)
        let c = other.market.klines(Self.btc, interval: .oneMinute, startTime: window.0, endTime: window.1, now: other.now, limit: 1_000)
        #expect(a.count == 29 && a == b)
        #expect(a != c)
    }

    @Test func theOpenCandleGrowsAndConvergesToTheClosedOne() throws {
        let market = SyntheticMarket(seed: 7, symbols: [Self.btc, Self.eth])
        let minute = Interval.oneMinute.openTime(containing: Self.start)
        let closed = try #require(market.minuteCandle(Self.btc, minuteOpen: minute))
        var previousTrades: Int64 = -1
        for second in stride(from: 0, through: 59, by: 5) {
            let partial = try #require(market.minuteCandle(Self.btc, minuteOpen: minute, asOf: minute + Int64(second) * 1_000 + 999))
            #expect(partial.tradeCount >= previousTrades && partial.volume <= closed.volume)
            previousTrades = partial.tradeCount
        }
        #expect(market.minuteCandle(Self.btc, minuteOpen: minute, asOf: minute + 59_999) == closed)
        #expect(market.minuteCandle(Self.btc, minuteOpen: minute, asOf: minute - 1) == nil)
    }

    @Test func emptyMinutesFollowBinancesRuleAndCandlesAreConsistent() throws {
        let market = SyntheticMarket(seed: 7, symbols: [Self.btc, Self.eth])
        let candles = market.klines(
            Self.eth, interval: .oneMinute, startTime: Self.start - 3_000 * 60_000, endTime: Self.start - 60_000, now: Self.start,
            limit: 3_000)
        var empty = 0
        for (previous, candle) in zip(candles, candles.dropFirst()) {
            #expect(candle.low <= candle.open && candle.open <= candle.high && candle.low <= candle.close && candle.close <= candle.high)
            #expect(candle.takerBuyBaseVolume <= candle.volume && candle.takerBuyQuoteVolume <= candle.quoteVolume)
            if candle.tradeCount == 0 {
                empty += 1
                #expect(candle.volume.isZero && candle.quoteVolume.isZero)
                #expect([candle.open, candle.high, candle.low, candle.close].allSatisfy { $0 == previous.close })
            }
        }
        #expect(empty > 30 && empty < 300)
    }

    @Test func hourlyCandlesAreRolledUpFromMinutes() throws {
        let market = SyntheticMarket(seed: 7, symbols: [Self.btc, Self.eth])
        let hourOpen = Interval.oneHour.openTime(containing: Self.start) - 3_600_000
        let hour = try #require(
            market.klines(Self.btc, interval: .oneHour, startTime: hourOpen, endTime: hourOpen, now: Self.start, limit: 1).first)
        let minutes = market.klines(
            Self.btc, interval: .oneMinute, startTime: hourOpen, endTime: hourOpen + 3_599_999, now: Self.start, limit: 60)
        #expect(minutes.count == 60)
        #expect(hour == KlineRollup.combine(minutes, openTime: hourOpen, closeTime: hourOpen + 3_599_999))
    }

    @Test func secondCandlesRollUpToTheirMinute() throws {
        let market = SyntheticMarket(seed: 7, symbols: [Self.btc, Self.eth])
        for minute in stride(from: Self.start - 3_600_000, to: Self.start - 60_000, by: 60_000).map({
            Interval.oneMinute.openTime(containing: $0)
        }) {
            let seconds = market.klines(
                Self.eth, interval: .oneSecond, startTime: minute, endTime: minute + 59_999, now: Self.start, limit: 60)
            #expect(seconds.count == 60 && seconds.allSatisfy { $0.closeTime == $0.openTime + 999 })
            #expect(
                KlineRollup.combine(seconds, openTime: minute, closeTime: minute + 59_999)
                    == market.minuteCandle(Self.eth, minuteOpen: minute))
        }
    }

    @Test func depthIsConsistentWithTheLastPriceAndChargedByLimit() async throws {
        let exchange = Self.exchange()
        let (status, headers, body) = try await Self.get(exchange, "/api/v3/depth?symbol=BTCUSDT&limit=500")
        #expect(status == .ok && headers[HTTPField.Name("X-MBX-USED-WEIGHT-1M")!] == "25")
        let book = try BinanceCodec.decodeDepth(body)
        #expect(book.bids.count == 500 && book.asks.count == 500)
        let bestBid = try #require(book.bids.first?.price)
        let bestAsk = try #require(book.asks.first?.price)
        let last = try #require(
            SyntheticMarket(seed: 7, symbols: [Self.btc, Self.eth]).minuteCandle(
                Self.btc, minuteOpen: Interval.oneMinute.openTime(containing: Self.start), asOf: Self.start)?.close
        )
        #expect(bestBid < bestAsk && bestBid <= last && last <= bestAsk)
        #expect(zip(book.bids, book.bids.dropFirst()).allSatisfy { $0.price > $1.price })
        #expect(zip(book.asks, book.asks.dropFirst()).allSatisfy { $0.price < $1.price })
        #expect(
            BinanceWeights.depth(limit: 100) == 5 && BinanceWeights.depth(limit: 1_000) == 50
                && BinanceWeights.depth(limit: 5_000) == 250)
    }

    @Test func pingTimeAndExchangeInfo() async throws {
        let exchange = Self.exchange()
        #expect(try await Self.get(exchange, "/api/v3/ping").2 == Array("{}".utf8))
        #expect(String(decoding: try await Self.get(exchange, "/api/v3/time").2, as: UTF8.self) == "{\"serverTime\":\(Self.start)}")
        let info = try BinanceCodec.decodeExchangeInfo(Data(try await Self.get(exchange, "/api/v3/exchangeInfo").2))
        #expect(
            info.symbols.map(\.symbol) == ["BTCUSDT", "ETHUSDT"] && info.symbols[0].baseAsset == "BTC"
                && info.symbols[0].quoteAsset == "USDT")
        #expect(info.rateLimits.contains { $0.rateLimitType == "REQUEST_WEIGHT" && $0.limit == 6_000 })
    }
}
