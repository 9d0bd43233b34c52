import DataLake
import Exchange
import ExchangeSimulator
import Logging
import MarketData
import Pipeline
import PipelineTesting
import Synchronization
import Testing
import Warehouse

/// Missing minutes are found, fetched through the lake, and a range the exchange has nothing for is not asked again.
struct GapFillTests {
    static let btc = try! Symbol("BTCUSDT")
    static let start: Int64 = 1_704_067_200_000
    static func minute(_ index: Int) -> Int64 { start + Int64(index) * 60_000 }

    /// Serves the synthetic market's candles, except during a "maintenance" range; counts requests.
    final class MaintenanceSource: MarketDataSource {
        let market = SyntheticMarket(seed: 5, symbols: [GapFillTests.btc])
        let outage: ClosedRange<Int64>
        let requests = Mutex<[KlineRequest]>([])
        init(outage: ClosedRange<Int64>) { self.outage = outage }

        func klines(_ request: KlineRequest) async throws(ExchangeError) -> FetchedResponse<[Kline]> {
            requests.withLock { $0.append(request) }
            let candles = market.klines(
                request.symbol, interval: .oneMinute, startTime: request.startTime ?? 0, endTime: request.endTime ?? .max,
                now: GapFillTests.minute(400), limit: request.limit ?? 500
            ).filter { !outage.contains($0.openTime) }
            return FetchedResponse(
                value: candles, body: BinanceCodec.encodeKlines(candles), usedWeight: nil, capturedAt: GapFillTests.minute(400))
        }
        func depth(symbol: Symbol, limit: Int) async throws(ExchangeError) -> FetchedResponse<OrderBookSnapshot> {
            throw ExchangeError(.transport("not served"), endpoint: "/api/v3/depth")
        }
        func exchangeInfo() async throws(ExchangeError) -> FetchedResponse<ExchangeInfo> {
            throw ExchangeError(.transport("not served"), endpoint: "/api/v3/exchangeInfo")
        }

        func serverTime() async throws(ExchangeError) -> ServerTimeSample {
            throw ExchangeError(.transport("not served"), endpoint: "/api/v3/time")
        }
    }

    /// Gaps within a page of minutes of the first share a request; one further away starts the next.
    @Test func nearbyGapsShareARequest() {
        func minutes(_ from: Int, _ to: Int) -> MinuteRange { MinuteRange(from: Self.minute(from), to: Self.minute(to)) }
        let windows = GapFiller.windows([
            minutes(2_000, 2_000), minutes(5, 5), minutes(10, 12), minutes(1_004, 1_004), minutes(1_005, 1_005),
        ])
        #expect(windows.map(\.range) == [minutes(5, 1_004), minutes(1_005, 2_000)])
        #expect(windows.map(\.gaps.count) == [3, 2])
        // Nor across a range the exchange has nothing for.
        #expect(
            GapFiller.windows([minutes(5, 5), minutes(20, 20)], avoiding: [minutes(10, 12)]).map(\.range) == [
                minutes(5, 5), minutes(20, 20),
            ])
        // One gap longer than a page is one window (the fetch pages through it).
        #expect(GapFiller.windows([minutes(0, 5_000)]).map(\.range) == [minutes(0, 5_000)])
    }

    @Test func gapsAreDetectedFilledAndExchangeEmptyRangesAreNotAskedAgain() async throws {
        let folder = try TemporaryDirectory("gaps")
        defer { folder.remove() }
        let warehouse = try SQLiteWarehouse(path: folder.path + "/warehouse.sqlite")
        try await warehouse.migrate()
        let lake = InMemoryObjectStore()
        let source = MaintenanceSource(outage: Self.minute(200)...Self.minute(219))
        let all = source.market.klines(
            Self.btc, interval: .oneMinute, startTime: Self.start, endTime: Self.minute(299), now: Self.minute(400), limit: 1_000)
        // Stored: minutes 0..<300 except 100..<150 (lost by us) and 200..<220 (the exchange's outage).
        let stored = all.enumerated().filter { !(100..<150).contains($0.offset) && !(200..<220).contains($0.offset) }.map(\.element)
        _ = try await warehouse.loadKlines(
            stored, symbol: Self.btc, interval: .oneMinute, capturedAt: Self.minute(400),
            object: ProcessedObject(bucket: "crypto-raw", key: "seed", processedAt: 0))
        let clock = PipelineClock { Self.minute(400) }
        let logger = Logger(label: "test")
        let filler = GapFiller(
            extractor: Extractor(
                configuration: .init(symbols: [Self.btc]), source: source, lake: lake, warehouse: warehouse, clock: clock, logger: logger),
            transformer: Transformer(lake: lake, warehouse: warehouse, clock: clock, logger: logger), warehouse: warehouse, clock: clock,
            logger: logger)

        let detected = try await filler.detect([Self.btc])
        #expect(
            detected.map(\.range) == [
                MinuteRange(from: Self.minute(100), to: Self.minute(149)), MinuteRange(from: Self.minute(200), to: Self.minute(219)),
            ])
        #expect(detected.allSatisfy { $0.status == .open })

        let report = try await filler.fill([Self.btc])
        // Both gaps lie within a page of minutes: one request covers them (and the 50 stored minutes between).
        #expect(report.requested == 1 && report.candlesFetched == 100 && report.filled == 1 && report.exchangeEmpty == 1)
        let gaps = try await warehouse.gaps(symbol: Self.btc)
        #expect(gaps.map(\.status) == [.filled, .exchangeEmpty])
        let now = try await warehouse.klines(symbol: Self.btc, interval: .oneMinute, from: 0, to: .max, includeOpen: false, limit: nil)
        #expect(now.map(\.kline) == all.filter { !source.outage.contains($0.openTime) })
        // The fetched page is in the lake, like any extraction: one object with the first gap's 50 candles and the 50
        // after it (the exchange has nothing for the outage).
        let key = LakeLayout.objectKey(symbol: Self.btc, type: .klines, capturedAt: Self.minute(400))
        #expect(try await lake.list(bucket: "crypto-raw", prefix: "").map(\.key) == [key])
        let page = Array(all[100..<200])
        #expect(
            try await lake.get(bucket: "crypto-raw", key: key)
                == RawEnvelope.encode(
                    symbol: Self.btc, capturedAt: Self.minute(400), type: .klines, interval: .oneMinute,
                    data: BinanceCodec.encodeKlines(page)))
        #expect(
            source.requests.withLock { $0.map { [$0.startTime, $0.endTime] } } == [[Self.minute(100), Self.minute(219) + 59_999]])

        // Nothing open is left: no request goes out again.
        let before = source.requests.withLock { $0.count }
        let again = try await filler.fill([Self.btc])
        #expect(again.requested == 0 && source.requests.withLock { $0.count } == before)
        #expect(try await warehouse.gaps(symbol: Self.btc).map(\.status) == [.filled, .exchangeEmpty])
    }
}
