import AsyncHTTPClient
import DataLake
import Exchange
import ExchangeSimulator
import Foundation
import Logging
import MarketData
import Pipeline
import PipelineTesting
import Testing
import Warehouse

/// Simulator + extractor + lake + transformer + SQLite, all on a shared manual clock.
struct EndToEndTests {
    static let btc = try! Symbol("BTCUSDT")
    static let eth = try! Symbol("ETHUSDT")
    /// 2025-12-31T23:58:10Z: the run crosses midnight, so lake objects land in two day folders.
    static let start: Int64 = 1_767_225_490_000

    struct Harness {
        let clock: ManualClock
        let exchange: SimulatedExchange
        let folder: TemporaryDirectory
        let lake: LocalObjectStore
        let warehouse: SQLiteWarehouse
        let logger = Logger(label: "test")

        init(symbols: [Symbol] = [EndToEndTests.btc, EndToEndTests.eth]) async throws {
            clock = ManualClock(EndToEndTests.start)
            exchange = SimulatedExchange(configuration: .init(seed: 99, symbols: symbols, historyMinutes: 3_000, clock: clock.reader))
            folder = try TemporaryDirectory("e2e")
            lake = LocalObjectStore(root: folder.path + "/lake")
            warehouse = try SQLiteWarehouse(path: folder.path + "/warehouse.sqlite")
            try await warehouse.migrate()
        }

        func extractor(_ baseURL: String, symbols: [Symbol], initialCandles: Int = 1_500, lake: (any ObjectStore)? = nil) -> Extractor {
            let client = BinanceClient(
                configuration: .init(baseURL: baseURL, retry: .none, clock: clock.reader), httpClient: .shared, logger: logger)
            return Extractor(
                configuration: .init(symbols: symbols, initialCandles: initialCandles, depthLimit: 20), source: client,
                lake: lake ?? self.lake, warehouse: warehouse, clock: clock.reader, logger: logger)
        }

        var transformer: Transformer {
            Transformer(lake: lake, warehouse: warehouse, clock: clock.reader, logger: logger)
        }

        func finalKlines(_ symbol: Symbol) async throws -> [Kline] {
            try await warehouse.klines(symbol: symbol, interval: .oneMinute, from: 0, to: .max, includeOpen: false, limit: nil).map(\.kline)
        }
    }

    @Test func everyClosedCandleServedIsStoredExactlyOnceWithIdenticalValues() async throws {
        let harness = try await Harness()
        defer { harness.folder.remove() }
        try await SimulatorServer.withRunning(harness.exchange) { baseURL in
            let extractor = harness.extractor(baseURL, symbols: [Self.btc, Self.eth])
            // Several cycles, uneven steps, and no transform in between: as if the process died after each extract.
            for step in [0, 45_000, 61_000, 130_000, 15_000, 200_000] as [Int64] {
                harness.clock.advance(milliseconds: step)
                let report = await extractor.extractAll()
                #expect(report.failures.isEmpty, "\(report.failures.map(\.message))")
            }
            let first = try await harness.transformer.transformPending()
            #expect(first.rejected == 0 && first.objects > 12)
            #expect(try await harness.lake.list(bucket: "crypto-raw", prefix: "2025-12-31/").count > 0)
            #expect(try await harness.lake.list(bucket: "crypto-raw", prefix: "2026-01-01/").count > 0)

            let lastCapture = harness.clock.now
            for symbol in [Self.btc, Self.eth] {
                let stored = try await harness.finalKlines(symbol)
                let firstOpen = Interval.oneMinute.openTime(containing: Self.start) - 1_499 * 60_000
                let expected = harness.exchange.market.klines(
                    symbol, interval: .oneMinute, startTime: firstOpen, endTime: .max, now: lastCapture, limit: 10_000
                )
                .filter { $0.closeTime + Kline.finalityMarginMilliseconds < lastCapture }
                #expect(stored.count == expected.count && stored.count > 1_500)
                let mismatch = zip(stored, expected).first { $0 != $1 }
                #expect(mismatch == nil, "first differing candle: \(String(describing: mismatch))")
                #expect(Set(stored.map(\.openTime)).count == stored.count)

                // Hourly roll-ups of fully stored hours equal the simulator's own 1h candles.
                let firstFullHour = Interval.oneHour.nextOpenTime(after: Interval.oneHour.openTime(containing: firstOpen))
                let hours = try await harness.warehouse.klines(
                    symbol: symbol, interval: .oneHour, from: firstFullHour, to: .max, includeOpen: false, limit: nil)
                let served = harness.exchange.market.klines(
                    symbol, interval: .oneHour, startTime: firstFullHour, endTime: hours.last?.kline.openTime ?? 0, now: lastCapture,
                    limit: 100)
                #expect(hours.count >= 20 && hours.map(\.kline) == served)
            }

            // Transforming again finds nothing to do.
            let counts = try await harness.warehouse.tableCounts()
            let again = try await harness.transformer.transformPending()
            #expect(again == TransformReport())
            #expect(try await harness.warehouse.tableCounts() == counts)

            // Forgetting the ledger and reloading every object changes no row either.
            let before = try await harness.finalKlines(Self.btc)
            try await harness.warehouse.execute("DELETE FROM processed_files")
            let reload = try await harness.transformer.transformPending()
            #expect(
                reload.objects == first.objects && reload.rowsWritten == 0
                    && reload.rowsUnchanged == first.rowsWritten + first.rowsUnchanged)
            #expect(try await harness.finalKlines(Self.btc) == before)
            #expect(try await harness.warehouse.tableCounts() == counts)
        }
    }

    @Test func theOpenCandleIsStoredAsOpenAndReplacedWhenItCloses() async throws {
        let harness = try await Harness(symbols: [Self.btc])
        defer { harness.folder.remove() }
        try await SimulatorServer.withRunning(harness.exchange) { baseURL in
            let extractor = harness.extractor(baseURL, symbols: [Self.btc], initialCandles: 3)
            let minute = Interval.oneMinute.openTime(containing: harness.clock.now)
            _ = await extractor.extractAll()
            _ = try await harness.transformer.transformPending()
            let open = try await harness.warehouse.klines(
                symbol: Self.btc, interval: .oneMinute, from: minute, to: minute, includeOpen: true, limit: nil)
            #expect(open.count == 1 && !open[0].isFinal)
            let served = harness.exchange.market.klines(
                Self.btc, interval: .oneMinute, startTime: minute, endTime: minute, now: harness.clock.now, limit: 1)
            #expect([open[0].kline] == served)
            harness.clock.advance(milliseconds: 70_000)
            _ = await extractor.extractAll()
            _ = try await harness.transformer.transformPending()
            let closed = try await harness.warehouse.klines(
                symbol: Self.btc, interval: .oneMinute, from: minute, to: minute, includeOpen: false, limit: nil)
            #expect(closed.map(\.kline) == [try #require(harness.exchange.market.minuteCandle(Self.btc, minuteOpen: minute))])
        }
    }

    @Test func aFirstFetchWithinTheFinalityMarginStillEndsWithFinalCandles() async throws {
        let harness = try await Harness(symbols: [Self.btc])
        defer { harness.folder.remove() }
        try await SimulatorServer.withRunning(harness.exchange) { baseURL in
            // One second after a minute closes its candle is not final yet: the first fetch gets nothing final.
            let minute = Interval.oneMinute.openTime(containing: harness.clock.now) + 60_000
            harness.clock.advance(milliseconds: minute + 1_000 - harness.clock.now)
            let extractor = harness.extractor(baseURL, symbols: [Self.btc], initialCandles: 2)
            for _ in 0..<3 {
                _ = await extractor.extractAll()
                harness.clock.advance(milliseconds: 60_000)
            }
            _ = try await harness.transformer.transformPending()
            // Every candle seen open on the way has been fetched again once final.
            let stored = try await harness.finalKlines(Self.btc)
            #expect(stored.map(\.openTime) == [minute - 60_000, minute])
        }
    }

    @Test func malformedObjectsAreMovedAsideWithTheirReasonAndTheRestLoads() async throws {
        let harness = try await Harness(symbols: [Self.btc])
        defer { harness.folder.remove() }
        try await SimulatorServer.withRunning(harness.exchange) { baseURL in
            _ = await harness.extractor(baseURL, symbols: [Self.btc], initialCandles: 10).extractAll()
        }
        let broken = "2026-01-01/BTCUSDT_klines_1767225600000.json"
        try await harness.lake.put(
            bucket: "crypto-raw", key: broken,
            bytes: Array(
                #"{"symbol":"BTCUSDT","captured_at":"2026-01-01T00:00:00.000Z","type":"klines","interval":"1m","data":[[1,"x"]]}"#.utf8))
        try await harness.lake.put(bucket: "crypto-raw", key: "2026-01-01/notes.txt", bytes: Array("hello".utf8))
        let report = try await harness.transformer.transformPending()
        #expect(report.rejected == 2 && report.objects == 2)
        #expect(try await harness.lake.head(bucket: "crypto-raw", key: broken) == nil)
        #expect(try await harness.lake.head(bucket: "crypto-raw", key: "_rejected/" + broken) != nil)
        let reason = String(
            decoding: try await harness.lake.get(bucket: "crypto-raw", key: "_rejected/\(broken).reason.txt"), as: UTF8.self)
        #expect(reason.contains("decimal"))
        #expect(try await harness.warehouse.tableCounts()["rejected_files"] == 2)
        #expect(try await harness.finalKlines(Self.btc).count >= 9)
        #expect(try await harness.transformer.transformPending() == TransformReport())
    }

    @Test func aFailingSymbolDoesNotStopTheOthers() async throws {
        let harness = try await Harness(symbols: [Self.btc])
        defer { harness.folder.remove() }
        let unlisted = try Symbol("XRPUSDT")
        try await SimulatorServer.withRunning(harness.exchange) { baseURL in
            let report = await harness.extractor(baseURL, symbols: [unlisted, Self.btc], initialCandles: 5).extractAll()
            #expect(report.failures.map(\.symbol) == [unlisted])
            #expect(report.failures.first?.message.contains("-1121") == true)
            #expect(report.symbols.map(\.symbol) == [Self.btc])
        }
        #expect(try await harness.warehouse.extractionState(symbol: unlisted, type: .klines) == nil)
        #expect(try await harness.lake.list(bucket: "crypto-raw", prefix: "").allSatisfy { !$0.key.contains("XRPUSDT") })
    }

    @Test func metadataNeverAdvancesPastAResponseThatDidNotReachTheLake() async throws {
        let harness = try await Harness(symbols: [Self.btc])
        defer { harness.folder.remove() }
        try await SimulatorServer.withRunning(harness.exchange) { baseURL in
            let failing = harness.extractor(baseURL, symbols: [Self.btc], initialCandles: 5, lake: UnwritableStore())
            let report = await failing.extractAll()
            #expect(report.failures.count == 1 && report.failures[0].message.contains("data lake"))
            #expect(try await harness.warehouse.extractionState(symbol: Self.btc, type: .klines) == nil)
            // With the lake back, the same range is fetched: nothing was skipped.
            _ = await harness.extractor(baseURL, symbols: [Self.btc], initialCandles: 5).extractAll()
            _ = try await harness.transformer.transformPending()
            #expect(try await harness.finalKlines(Self.btc).count == 4)
        }
    }

    @Test func anUnreachableExchangeWritesNothing() async throws {
        let harness = try await Harness(symbols: [Self.btc])
        defer { harness.folder.remove() }
        let report = await harness.extractor("http://127.0.0.1:1", symbols: [Self.btc]).extractAll()
        #expect(report.failures.count == 1 && report.failures[0].message.contains("cannot reach the exchange"))
        #expect(try await harness.lake.list(bucket: "crypto-raw", prefix: "").isEmpty)
        #expect(try await harness.warehouse.extractionState(symbol: Self.btc, type: .klines) == nil)
    }

    @Test func theScheduledJobsExtractTransformAndLogEveryRun() async throws {
        let harness = try await Harness(symbols: [Self.btc])
        defer { harness.folder.remove() }
        try await SimulatorServer.withRunning(harness.exchange) { baseURL in
            let cycles = CycleLog()
            let clock = harness.clock.reader
            let extractor = harness.extractor(baseURL, symbols: [Self.btc], initialCandles: 5)
            let jobs = PipelineJobs.make(
                extractor: extractor, transformer: harness.transformer,
                gapFiller: GapFiller(
                    extractor: extractor, transformer: harness.transformer, warehouse: harness.warehouse, clock: clock,
                    logger: harness.logger),
                maintenance: Maintenance(
                    configuration: .init(), warehouse: harness.warehouse, lake: harness.lake, clock: clock, logger: harness.logger),
                symbols: SymbolRegistry(warehouse: harness.warehouse, seed: [Self.btc], clock: clock), logger: harness.logger,
                onCycle: { await cycles.append($0.number) })
            let scheduler = JobScheduler(
                jobs: jobs, warehouse: harness.warehouse, clock: harness.clock.reader,
                configuration: .init(stopAfter: (job: PipelineJobs.extractTransform, runs: 3)), logger: harness.logger)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await scheduler.run() }
                for cycle in 1...2 {
                    try await eventually { await cycles.numbers.count == cycle }
                    try await eventually { await scheduler.states().allSatisfy { !$0.running } }
                    try await eventually { harness.clock.sleeperCount > 0 }
                    harness.clock.advance(milliseconds: 60_000)
                }
                try await group.waitForAll()
            }
            #expect(await cycles.numbers == [1, 2, 3])
            let runs = try await harness.warehouse.jobRuns(JobRunQuery(job: PipelineJobs.extractTransform)).runs
            #expect(runs.count == 3 && runs.allSatisfy { $0.status == .succeeded && $0.files == 2 && $0.rows > 0 }, "\(runs)")
            let gapFill = try await harness.warehouse.jobRuns(JobRunQuery(job: PipelineJobs.gapFill)).runs
            #expect(gapFill.count == 1 && gapFill[0].status == .succeeded, "\(gapFill)")
        }
    }
}

actor CycleLog {
    var numbers: [Int] = []
    func append(_ number: Int) { numbers.append(number) }
}

/// A lake whose writes always fail, as during an outage.
struct UnwritableStore: ObjectStore {
    func put(bucket: String, key: String, bytes: [UInt8]) async throws(ObjectStoreError) {
        throw .io(operation: "write", location: .init(bucket: bucket, key: key), detail: "disk full")
    }
    func get(bucket: String, key: String) async throws(ObjectStoreError) -> [UInt8] { throw .notFound(bucket: bucket, key: key) }
    func head(bucket: String, key: String) async throws(ObjectStoreError) -> ObjectInfo? { nil }
    func list(bucket: String, prefix: String) async throws(ObjectStoreError) -> [ObjectInfo] { [] }
    func list(bucket: String, prefix: String, after: String?, limit: Int) async throws(ObjectStoreError) -> ObjectPage {
        ObjectPage(objects: [], resumeAfter: nil)
    }
    func listFolders(bucket: String, prefix: String) async throws(ObjectStoreError) -> [String] { [] }
    func copy(from source: ObjectLocation, to destination: ObjectLocation) async throws(ObjectStoreError) {
        throw .notFound(bucket: source.bucket, key: source.key)
    }
    func delete(bucket: String, key: String) async throws(ObjectStoreError) {}
}
