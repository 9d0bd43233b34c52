import Foundation
import MarketData
import PipelineTesting
import Testing
import Warehouse

@testable import WebApp

/// `GET /api/candlestick` answered from windows of rendered candles gives the bytes a read of the warehouse gives, for
/// any `end` and `limit`, across gaps, at the series' start, and after the data changes.
struct CandleWindowCacheTests {
    typealias Fixture = APIFixture

    @Test func windowsAnswerExactlyWhatAReadAnswers() async throws {
        let fixture = try await Fixture()
        defer { fixture.folder.remove() }
        try await fixture.loadMarket()
        // ETHUSDT with gaps: every third minute of 900, so a window's candles span three times its count of minutes.
        let sparse = stride(from: 0, to: 900, by: 3).map { Fixture.candle($0) }
        _ = try await fixture.warehouse.loadKlines(
            sparse, symbol: Fixture.eth, interval: .oneMinute, capturedAt: fixture.clock.now,
            object: ProcessedObject(bucket: "crypto-raw", key: "2024-01-02/ETHUSDT_klines_1.json", processedAt: fixture.clock.now))
        _ = try await fixture.warehouse.rollUpPending()
        let reference = API(services: fixture.services)
        let minute: Int64 = 60_000
        let start: Int64 = Fixture.start
        var listed: [Int64?] = [nil, start - 1, start, start + 1, start + 1_499 * minute, start + 3_650 * 1_440 * minute]
        let step: Int64 = 97 * 60_000 + 13
        var end: Int64 = start - 5 * minute
        while end < start + 1_510 * minute {
            listed.append(end)
            end += step
        }
        let ends = listed
        try await fixture.withClient { client in
            for symbol in [Fixture.btc, Fixture.eth] {
                for interval in [Interval.oneMinute, .oneHour] {
                    for limit in [1, 2, 500, 1_000] {
                        for end in ends {
                            var path = "/api/candlestick/\(symbol)?interval=\(interval.rawValue)&limit=\(limit)"
                            if let end { path += "&end=\(end)" }
                            let reply = try await client.send(.get, path)
                            let expected = try await reference.candlestickBody(symbol, interval, limit, nil, end)
                            #expect(reply.status == .ok)
                            #expect(reply.body == String(decoding: expected, as: UTF8.self), "\(path)")
                        }
                    }
                }
            }
            // A change in the data starts the windows over: the new minute is in the next answer.
            _ = try await fixture.warehouse.loadKlines(
                [Fixture.candle(1_500)], symbol: Fixture.btc, interval: .oneMinute, capturedAt: fixture.clock.now,
                object: ProcessedObject(bucket: "crypto-raw", key: "2024-01-02/BTCUSDT_klines_2.json", processedAt: fixture.clock.now))
            let after = try await client.send(.get, "/api/candlestick/BTCUSDT?limit=3&end=\(Fixture.start + 1_600 * minute)")
            let expected = try await reference.candlestickBody(Fixture.btc, .oneMinute, 3, nil, Fixture.start + 1_600 * minute)
            #expect(after.body == String(decoding: expected, as: UTF8.self))
            #expect((after.json["candles"] as? [[String: Any]])?.last?["open_time"] as? Int64 == Fixture.start + 1_500 * minute)
        }
    }

    /// Windows are dropped least recently used first, within the byte bound.
    @Test func windowsStayWithinTheirBytes() async throws {
        let cache = CandleWindowCache(maximumBytes: 3 << 20)
        let minute: Int64 = 60_000
        let series = (0..<20_000).map { StoredKline(kline: Fixture.candle($0), isFinal: true) }
        let read = { @Sendable (through: Int64, count: Int) async throws -> [StoredKline] in
            Array(series.filter { $0.kline.openTime <= through }.suffix(count))
        }
        let start: Int64 = Fixture.start
        for step in 0..<20 {
            let end = start + Int64(step) * 1_000 * minute
            let answer = try #require(
                try await cache.candles(symbol: Fixture.btc, interval: .oneMinute, endingAt: end, limit: 500, version: 1, read: read))
            #expect(answer.count == min(500, step * 1_000 + 1))
            #expect(cache.usage.bytes <= 3 << 20)
        }
        #expect(cache.usage.windows >= 1)
    }

    /// Clients polling one chart all miss after a change: they share one window, and a read that began under an older
    /// version does not wipe the newer version's windows.
    @Test func concurrentMissesShareOneWindowAndAnOlderVersionKeepsOut() async throws {
        let cache = CandleWindowCache()
        let series = (0..<3_000).map { StoredKline(kline: Fixture.candle($0), isFinal: true) }
        let read = { @Sendable (through: Int64, count: Int) async throws -> [StoredKline] in
            Array(series.filter { $0.kline.openTime <= through }.suffix(count))
        }
        // Five requests that all looked and missed before any of them stored: their reads wait for each other.
        let gate = Gate(count: 5)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<5 {
                group.addTask {
                    let answer = try await cache.candles(
                        symbol: Fixture.btc, interval: .oneMinute, endingAt: .max, limit: 500, version: 2
                    ) { through, count in
                        await gate.arrive()
                        return try await read(through, count)
                    }
                    #expect(answer?.count == 500)
                }
            }
            try await group.waitForAll()
        }
        #expect(cache.usage.windows == 1)
        let held = cache.usage
        // A slow read under version 1 finishing now: answered, but not stored over version 2's windows.
        let stale = try await cache.candles(symbol: Fixture.eth, interval: .oneMinute, endingAt: .max, limit: 500, version: 1, read: read)
        #expect(stale?.count == 500)
        #expect(cache.usage == held)
        // Version 3 starts over.
        _ = try await cache.candles(symbol: Fixture.eth, interval: .oneMinute, endingAt: .max, limit: 500, version: 3, read: read)
        #expect(cache.usage.windows == 1)
    }
}

/// Lets `count` callers through together: each waits in ``arrive()`` until the last one arrives.
actor Gate {
    let count: Int
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(count: Int) { self.count = count }

    func arrive() async {
        guard waiting.count + 1 < count else {
            for continuation in waiting { continuation.resume() }
            waiting = []
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }
}
