import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import MarketData
import NIOCore
import Pipeline
import PipelineTesting
import ServiceLifecycle
import Synchronization
import Testing
import WebApp

/// `/api/stream/candles/{symbol}` and `/api/stream/candles`: Server-Sent Events of the newest candles.
struct LiveStreamTests {
    static func events(_ body: String) -> [[String: Any]] {
        body.components(separatedBy: "\n\n").filter { $0.hasPrefix("event: candle\ndata: ") }.compactMap { block in
            let data = block.dropFirst("event: candle\ndata: ".count)
            return (try? JSONSerialization.jsonObject(with: Data(data.utf8))) as? [String: Any]
        }
    }

    /// The fixture's services with live candles, as in a process whose collector streams.
    static func withLiveCandles(_ fixture: APIFixture) -> (WebAppServices, LiveCandles) {
        let live = LiveCandles()
        var services = fixture.services
        services.liveCandles = live
        return (services, live)
    }

    static func event(_ symbol: Symbol, minute: Int, final: Bool) -> KlineStreamEvent {
        KlineStreamEvent(symbol: symbol, eventTime: 0, kline: APIFixture.candle(minute), isFinal: final)
    }

    @Test func theCollectorsEventsFollowTheNewestStoredCandle() async throws {
        let fixture = try await APIFixture()
        defer { fixture.folder.remove() }
        try await fixture.loadMarket()
        let (services, live) = Self.withLiveCandles(fixture)
        let app = Application(router: WebApp.router(services: services).router)
        try await app.test(.router) { client in
            async let reply = client.execute(uri: "/api/stream/candles/btcusdt", method: .get) { response in
                (response.status, response.headers, String(buffer: response.body))
            }
            try await waitUntil("the stream to subscribe") { live.subscriberCount == 1 }
            live.publish(Self.event(APIFixture.btc, minute: 1_499, final: true))
            live.publish(Self.event(APIFixture.eth, minute: 1_499, final: true))
            live.publish(Self.event(APIFixture.btc, minute: 1_500, final: false))
            // The collector stops: the stream ends after what it holds.
            live.finish()
            let (status, headers, body) = try await reply
            #expect(status == .ok && headers[.contentType] == "text/event-stream" && headers[.cacheControl] == "no-cache")
            #expect(body.hasPrefix("retry: 3000\n\n"))
            let events = Self.events(body)
            #expect(events.map { $0["symbol"] as? String } == ["BTCUSDT", "BTCUSDT", "BTCUSDT"], "\(body)")
            let candles = events.compactMap { $0["candle"] as? [String: Any] }
            // The newest stored minute (still open), then the collector's: its final version and the next minute.
            let opens = candles.compactMap { $0["open_time"] as? Int64 }
            let minute = { (index: Int) in APIFixture.start + Int64(index) * 60_000 }
            #expect(opens == [minute(1_499), minute(1_499), minute(1_500)], "\(opens)")
            #expect(candles.map { $0["closed"] as? Bool } == [false, true, false])
            #expect(candles[1]["close"] as? String == "114.99000000")
        }
        #expect(live.subscriberCount == 0)
    }

    @Test func everySymbolsStreamAndItsLimits() async throws {
        let fixture = try await APIFixture()
        defer { fixture.folder.remove() }
        try await fixture.loadMarket()
        let (services, live) = Self.withLiveCandles(fixture)
        let app = Application(router: WebApp.router(services: services).router)
        try await app.test(.router) { client in
            async let reply = client.execute(uri: "/api/stream/candles", method: .get) { String(buffer: $0.body) }
            try await waitUntil("the stream to subscribe") { live.subscriberCount == 1 }
            live.publish(Self.event(APIFixture.eth, minute: 10, final: true))
            live.finish()
            let symbols = Self.events(try await reply).map { $0["symbol"] as? String }
            #expect(symbols == ["BTCUSDT", "ETHUSDT"], "\(symbols)")

            // Unknown and malformed symbols are the API's usual errors.
            let unknown = try await client.execute(uri: "/api/stream/candles/DOGEUSDT", method: .get) { $0.status }
            let malformed = try await client.execute(uri: "/api/stream/candles/%00", method: .get) { $0.status }
            #expect(unknown == .notFound && malformed == .badRequest)

            // Past the bound, a stream is refused rather than held open.
            let held = (0..<LiveCandles.maximumSubscribers).compactMap { _ in live.subscribe(nil) }
            #expect(held.count == LiveCandles.maximumSubscribers)
            let refused = try await client.execute(uri: "/api/stream/candles/BTCUSDT", method: .get) { response in
                (response.status, response.headers[.retryAfter], String(buffer: response.body))
            }
            #expect(refused.0 == .serviceUnavailable && refused.1 == "30" && refused.2.contains("too_many_streams"), "\(refused)")
            live.finish()
        }
    }

    /// Without a collector in the process (`serve`), the newest stored candle is sent, then read again every few
    /// seconds until the stream's lifetime ends.
    @Test func withoutACollectorTheStoredCandlesAreRead() async throws {
        let fixture = try await APIFixture()
        defer { fixture.folder.remove() }
        try await fixture.loadMarket()
        let app = Application(router: WebApp.router(services: fixture.services).router)
        try await app.test(.router) { client in
            let done = Flag()
            async let reply = client.execute(uri: "/api/stream/candles/BTCUSDT", method: .get) { response in
                defer { done.state.withLock { $0 = true } }
                return String(buffer: response.body)
            }
            // The stream's clock is the fixture's manual one: moved until the stream's 10 minutes have passed.
            while !done.state.withLock({ $0 }) {
                fixture.clock.advance(by: .seconds(30))
                try await Task.sleep(for: .milliseconds(2))
            }
            let events = Self.events(try await reply)
            #expect(events.count == 1 && events.first?["symbol"] as? String == "BTCUSDT", "\(events)")
        }
    }

    /// A page left open must not hold up a SIGTERM: when the server begins to shut down, its open streams end (their
    /// lifetime, on the fixture's clock, never would, so without that the test hangs until its limit; the limit leaves
    /// a loaded CI machine minutes for the fixture, which once took 71 s to set up there).
    @Test(.timeLimit(.minutes(5)))
    func aShutdownEndsOpenStreams() async throws {
        let fixture = try await APIFixture()
        defer { fixture.folder.remove() }
        try await fixture.loadMarket()
        let (services, live) = Self.withLiveCandles(fixture)
        let logger = Logger(label: "live-stream-test")
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let app = Application(
            router: WebApp.router(services: services).router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in
                continuation.yield(channel.localAddress?.port ?? 0)
                continuation.finish()
            }, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            let client = TestClient(host: "127.0.0.1", port: port, configuration: .init(), eventLoopGroupProvider: .createNew)
            client.connect()
            async let reply = client.execute(.init("/api/stream/candles/BTCUSDT", method: .get))
            try await waitUntil("the stream to subscribe") { live.subscriberCount == 1 }
            await group.triggerGracefulShutdown()
            // The response ends, and the server stops.
            let response = try await reply
            #expect(response.status == .ok && String(buffer: response.body ?? ByteBuffer()).hasPrefix("retry: 3000\n\n"))
            try await tasks.waitForAll()
            try await client.shutdown()
        }
        #expect(live.subscriberCount == 0)
    }
}

final class Flag: Sendable {
    let state = Mutex(false)
}
