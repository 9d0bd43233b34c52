import ExchangeSimulator
import MarketData
import Synchronization
import Testing

/// The simulator enforces the request-weight limit as Binance does: 429 with `Retry-After` over the limit, 418 with a
/// growing ban for requests during the back-off.
struct RateLimitTests {
    final class Clock: Sendable {
        let time = Mutex<Int64>(1_767_225_630_000)  // 2026-01-01T00:00:30Z
        var now: Int64 { time.withLock { $0 } }
        func advance(seconds: Int64) { time.withLock { $0 += seconds * 1_000 } }
    }

    static func klines(_ exchange: SimulatedExchange) -> SimulatedExchange.Reply {
        exchange.handle(path: "/api/v3/klines", query: ["symbol": "BTCUSDT", "interval": "1m", "limit": "5"])
    }

    @Test func overTheLimitIs429UntilTheMinuteEndsAndIgnoringItEarnsAGrowingBan() {
        let clock = Clock()
        let exchange = SimulatedExchange(
            configuration: .init(seed: 1, symbols: [try! Symbol("BTCUSDT")], weightLimitPerMinute: 10, clock: PipelineClock { clock.now }))
        for expected in stride(from: 2, through: 10, by: 2) {
            let reply = Self.klines(exchange)
            #expect(reply.status == 200 && reply.usedWeight == expected)
        }
        let limited = Self.klines(exchange)
        #expect(limited.status == 429 && limited.usedWeight == 12 && limited.retryAfterSeconds == 30)
        #expect(String(decoding: limited.body, as: UTF8.self).contains("-1003"))
        // Asking again during the back-off: banned for 2 minutes.
        clock.advance(seconds: 10)
        let banned = Self.klines(exchange)
        #expect(banned.status == 418 && banned.retryAfterSeconds == 120)
        clock.advance(seconds: 119)
        #expect(Self.klines(exchange).status == 418)
        clock.advance(seconds: 1)
        #expect(Self.klines(exchange).status == 200)
        // A second offence doubles the ban.
        for _ in 0..<4 { _ = Self.klines(exchange) }
        #expect(Self.klines(exchange).status == 429)
        // A request within a second of the 429 was already in flight: another 429, not yet a ban.
        #expect(Self.klines(exchange).status == 429)
        clock.advance(seconds: 2)
        let again = Self.klines(exchange)
        #expect(again.status == 418 && again.retryAfterSeconds == 240)
        #expect(exchange.limitStatistics == .init(rateLimited: 2, banned: 2))
    }

    /// Binance counts weight per IP: one address over its limit is refused and banned alone, another goes on.
    @Test func eachClientAddressHasAWeightLimitOfItsOwn() {
        let clock = Clock()
        let exchange = SimulatedExchange(
            configuration: .init(seed: 1, symbols: [try! Symbol("BTCUSDT")], weightLimitPerMinute: 4, clock: PipelineClock { clock.now }))
        func klines(from client: String) -> SimulatedExchange.Reply {
            exchange.handle(path: "/api/v3/klines", query: ["symbol": "BTCUSDT", "interval": "1m", "limit": "5"], client: client)
        }
        #expect(klines(from: "10.0.0.1").usedWeight == 2 && klines(from: "10.0.0.2").usedWeight == 2)
        #expect(klines(from: "10.0.0.1").usedWeight == 4 && klines(from: "10.0.0.2").usedWeight == 4)
        #expect(klines(from: "10.0.0.1").status == 429)
        clock.advance(seconds: 2)
        #expect(klines(from: "10.0.0.1").status == 418)
        // The second address is at its limit, not over it, and was never told to wait.
        #expect(klines(from: "10.0.0.2").status == 429)
        clock.advance(seconds: 60)
        #expect(klines(from: "10.0.0.2").status == 200 && klines(from: "10.0.0.1").status == 418)
        #expect(exchange.clients == ["10.0.0.1", "10.0.0.2"])
        #expect(exchange.limitStatistics == .init(rateLimited: 2, banned: 1))
        let minute = Interval.oneMinute.openTime(containing: 1_767_225_630_000)
        #expect(exchange.weightHistory(client: "10.0.0.2")[minute] == 6 && exchange.weightHistory[minute] == 12)
    }

    @Test func waitingOutThe429IsNotPunished() {
        let clock = Clock()
        let exchange = SimulatedExchange(
            configuration: .init(seed: 1, symbols: [try! Symbol("BTCUSDT")], weightLimitPerMinute: 4, clock: PipelineClock { clock.now }))
        _ = Self.klines(exchange)
        _ = Self.klines(exchange)
        let limited = Self.klines(exchange)
        #expect(limited.status == 429)
        clock.advance(seconds: Int64(limited.retryAfterSeconds ?? 0))
        let next = Self.klines(exchange)
        #expect(next.status == 200 && next.usedWeight == 2)
        #expect(exchange.limitStatistics.banned == 0)
    }
}
