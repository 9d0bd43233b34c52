import DataLake
import Exchange
import Logging
import MarketData
import Pipeline
import PipelineTesting
import Synchronization
import Testing
import Warehouse

/// Every loop that pages k-lines by start time stops with an error when the exchange's pages do not move forward.
struct PaginationTests {
    static let btc = try! Symbol("BTCUSDT")
    /// 2024-01-01T00:00:00Z: the first candle of every page the fake exchange sends.
    static let start: Int64 = 1_704_067_200_000
    static func minute(_ index: Int) -> Int64 { start + Int64(index) * 60_000 }

    /// Answers every k-line request with `page(request)`; gives up after 20 requests so a loop that never ends fails
    /// the test instead of hanging it.
    final class RepeatingSource: MarketDataSource {
        let page: @Sendable (KlineRequest) -> [Kline]
        let calls = Mutex(0)
        init(_ page: @escaping @Sendable (KlineRequest) -> [Kline]) { self.page = page }

        func klines(_ request: KlineRequest) async throws(ExchangeError) -> FetchedResponse<[Kline]> {
            let call = calls.withLock { calls in
                calls += 1
                return calls
            }
            guard call <= 20 else { throw ExchangeError(.transport("asked \(call) times"), endpoint: request.endpoint) }
            let value = page(request)
            return FetchedResponse(
                value: value, body: BinanceCodec.encodeKlines(value), usedWeight: nil, capturedAt: PaginationTests.minute(5_000))
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

    /// A misbehaving exchange: what it answers, and how far a paging loop gets before it stops.
    struct Case: Sendable, CustomTestStringConvertible {
        var testDescription: String
        var page: @Sendable (KlineRequest) -> [Kline]
        /// Requests before the loop stops, and raw objects stored by then.
        var requests: Int
        var stored: Int
    }

    static let cases = [
        // The same full page of 1000 minutes, whatever was asked: the second answer is older than asked.
        Case(
            testDescription: "same page",
            page: { _ in (0..<1_000).map { WarehouseConformance.kline(PaginationTests.minute($0)) } }, requests: 2, stored: 1),
        // A full page of 1000 copies of the requested minute: its newest candle is not after the start.
        Case(
            testDescription: "stuck page",
            page: { request in Array(repeating: WarehouseConformance.kline(request.startTime ?? 0), count: 1_000) }, requests: 1,
            stored: 0),
    ]

    struct Pipeline {
        let lake = InMemoryObjectStore()
        let warehouse: SQLiteWarehouse
        let extractor: Extractor
        let transformer: Transformer
        let folder: TemporaryDirectory

        init(_ source: RepeatingSource, initialCandles: Int = 100) async throws {
            folder = try TemporaryDirectory("paging")
            warehouse = try SQLiteWarehouse(path: folder.path + "/warehouse.sqlite")
            try await warehouse.migrate()
            let clock = PipelineClock { PaginationTests.minute(2_000) }
            let logger = Logger(label: "test")
            extractor = Extractor(
                configuration: .init(symbols: [PaginationTests.btc], initialCandles: initialCandles), source: source, lake: lake,
                warehouse: warehouse, clock: clock, logger: logger)
            transformer = Transformer(lake: lake, warehouse: warehouse, clock: clock, logger: logger)
        }
    }

    static func pagingError(_ error: PipelineError?) -> String? {
        guard let exchange = error?.exchangeError, exchange.kind.code == .pagingDoesNotAdvance else { return nil }
        return exchange.kind.detail
    }

    @Test(arguments: cases)
    func aBackfillStopsWhenPagesDoNotAdvance(_ misbehaviour: Case) async throws {
        let source = RepeatingSource(misbehaviour.page)
        let pipeline = try await Pipeline(source)
        defer { pipeline.folder.remove() }
        let backfiller = Backfiller(extractor: pipeline.extractor, transformer: pipeline.transformer)
        let error = await failure { () async throws(PipelineError) in
            _ = try await backfiller.run(symbols: [Self.btc], from: Self.start, to: Self.minute(4_999))
        }
        #expect(Self.pagingError(error) != nil, "\(String(describing: error))")
        #expect(source.calls.withLock { $0 } == misbehaviour.requests)
        // A page that does not advance is refused before it reaches the lake.
        #expect(await pipeline.lake.list(bucket: "crypto-raw", prefix: "").count == misbehaviour.stored)
    }

    @Test(arguments: cases)
    func aGapFillStopsWhenPagesDoNotAdvance(_ misbehaviour: Case) async throws {
        let source = RepeatingSource(misbehaviour.page)
        let pipeline = try await Pipeline(source)
        defer { pipeline.folder.remove() }
        let error = await failure { () async throws(PipelineError) in
            _ = try await pipeline.extractor.fetchRange(Self.btc, range: MinuteRange(from: Self.start, to: Self.minute(4_999)))
        }
        #expect(Self.pagingError(error) != nil, "\(String(describing: error))")
        #expect(source.calls.withLock { $0 } == misbehaviour.requests)
        #expect(await pipeline.lake.list(bucket: "crypto-raw", prefix: "").count == misbehaviour.stored)
    }

    @Test func extractionReportsPagesThatDoNotAdvanceAsTheSymbolsFailure() async throws {
        // 2001 initial candles: the first request starts exactly at the page's first minute, so the first page is full
        // and closed, and the second request gets the same page back.
        let source = RepeatingSource(Self.cases[0].page)
        let pipeline = try await Pipeline(source, initialCandles: 2_001)
        defer { pipeline.folder.remove() }
        let report = await pipeline.extractor.extractAll()
        #expect(report.failures.count == 1)
        #expect(report.failures.first?.message.contains("k-line pages do not advance") == true, "\(report.failures)")
        #expect(source.calls.withLock { $0 } == 2)
    }

    @Test func aNextStartTimePastInt64MaxIsAnErrorNotATrap() async throws {
        // A full page whose newest candle opens 30 s before `Int64.max`: the next start would overflow.
        let newest = Int64.max - 30_000
        let source = RepeatingSource { _ in
            (0..<1_000).map { index in
                var kline = WarehouseConformance.kline(PaginationTests.start)
                kline.openTime = newest - Int64(999 - index) * 60_000
                kline.closeTime = kline.openTime
                return kline
            }
        }
        let pipeline = try await Pipeline(source)
        defer { pipeline.folder.remove() }
        let error = await failure { () async throws(PipelineError) in
            _ = try await pipeline.extractor.fetchRange(Self.btc, range: MinuteRange(from: newest - 999 * 60_000, to: Int64.max - 60_000))
        }
        #expect(Self.pagingError(error)?.contains("past the largest representable time") == true, "\(String(describing: error))")
        #expect(source.calls.withLock { $0 } == 1)

        let request = KlineRequest(symbol: Self.btc, interval: .oneMonth, startTime: 0)
        #expect(throws: ExchangeError.self) { try request.nextStartTime(after: Int64.max) }
        #expect(try request.nextStartTime(after: Self.start) == 1_706_745_600_000)  // 2024-02-01
    }
}
