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

/// A lake backend for a test: the local store, or the S3 test server. Tests run each backend as a test of its own, the
/// S3 one enabled only with a server, so without one it is reported as skipped with the reason rather than left out.
enum LakeBackend: String, CaseIterable, CustomStringConvertible {
    case local
    case s3

    var description: String { rawValue }

    func make(in folder: TemporaryDirectory) throws -> (any ObjectStore, LakeLayout) {
        switch self {
        case .local:
            return (LocalObjectStore(root: folder.path + "/lake"), LakeLayout())
        case .s3:
            let prefix = S3TestServer.uniqueBucketPrefix()
            return (
                S3ObjectStore(configuration: try #require(S3TestServer.configuration)),
                LakeLayout(rawBucket: prefix + "crypto-raw", archiveBucket: prefix + "crypto-archive")
            )
        }
    }
}

struct LakeArchiverTests {
    /// 2026-11-25T12:00:00Z.
    static let now: Int64 = 1_795_608_000_000
    static let btc = try! Symbol("BTCUSDT")

    static func key(daysAgo: Int, _ symbol: String = "BTCUSDT") -> String {
        let time = now - Int64(daysAgo) * 86_400_000
        return "\(CivilDate(epochMilliseconds: time).isoString)/\(symbol)_klines_\(time).json"
    }

    @Test func rawObjectsAreArchivedAfter7DaysAndDeletedAfter30() async throws {
        try await Self.archivesAfter7DaysAndDeletesAfter30(.local)
    }

    @Test(.enabled(if: S3TestServer.isAvailable, Comment(rawValue: S3TestServer.skipReason)))
    func rawObjectsAreArchivedAfter7DaysAndDeletedAfter30OnS3() async throws {
        try await Self.archivesAfter7DaysAndDeletesAfter30(.s3)
    }

    static func archivesAfter7DaysAndDeletesAfter30(_ backend: LakeBackend) async throws {
        let folder = try TemporaryDirectory("archive")
        defer { folder.remove() }
        let (lake, layout) = try backend.make(in: folder)
        let warehouse = try SQLiteWarehouse(path: folder.path + "/warehouse.sqlite")
        try await warehouse.migrate()
        let fresh = Self.key(daysAgo: 3)
        let week = Self.key(daysAgo: 8)
        let month = Self.key(daysAgo: 31)
        let neverTransformed = Self.key(daysAgo: 31, "ETHUSDT")
        for key in [fresh, week, month, neverTransformed] {
            try await lake.put(bucket: layout.rawBucket, key: key, bytes: Array("{\"key\":\"\(key)\"}".utf8))
        }
        try await lake.put(bucket: layout.rawBucket, key: "_rejected/" + Self.key(daysAgo: 40), bytes: [1])
        for key in [fresh, week, month] {
            _ = try await warehouse.loadKlines(
                [], symbol: Self.btc, interval: .oneMinute, capturedAt: 1,
                object: ProcessedObject(bucket: layout.rawBucket, key: key, processedAt: 1))
        }
        let archiver = LakeArchiver(configuration: .init(), lake: lake, layout: layout, warehouse: warehouse, logger: Logger(label: "test"))

        let report = try await archiver.run(now: Self.now)
        #expect(report.archivedObjects == 2 && report.deletedObjects == 1 && report.forgottenLedgerRows == 1)
        #expect(report.untransformedKept == 1)
        let raw = try await lake.list(bucket: layout.rawBucket, prefix: "").map(\.key)
        #expect(raw == ["_rejected/" + Self.key(daysAgo: 40), Self.key(daysAgo: 3), neverTransformed].sorted())
        let archive = try await lake.list(bucket: layout.archiveBucket, prefix: "").map(\.key)
        #expect(archive == [week])
        #expect(try await lake.get(bucket: layout.archiveBucket, key: week) == Array("{\"key\":\"\(week)\"}".utf8))
        // The ledger knows where the 8-day object went and forgot the deleted one; the rest stays processed.
        #expect(try await warehouse.processedObjectKeys(withPrefix: "") == [fresh, week])
        #expect(try await warehouse.ledgerSummary().archivedFiles == 1)

        let again = try await archiver.run(now: Self.now)
        #expect(again.archivedObjects == 0 && again.deletedObjects == 0 && again.forgottenLedgerRows == 0)

        // Three weeks later the archived object is past 30 days and goes too.
        let later = try await archiver.run(now: Self.now + 23 * 86_400_000)
        #expect(later.deletedObjects == 1 && later.forgottenLedgerRows == 1 && later.archivedObjects == 1)
        #expect(try await lake.list(bucket: layout.archiveBucket, prefix: "").map(\.key) == [fresh])
    }

    @Test func anInterruptedMoveIsFinishedByTheNextRun() async throws {
        try await Self.finishesAnInterruptedMove(.local)
    }

    @Test(.enabled(if: S3TestServer.isAvailable, Comment(rawValue: S3TestServer.skipReason)))
    func anInterruptedMoveIsFinishedByTheNextRunOnS3() async throws {
        try await Self.finishesAnInterruptedMove(.s3)
    }

    static func finishesAnInterruptedMove(_ backend: LakeBackend) async throws {
        let folder = try TemporaryDirectory("archive")
        defer { folder.remove() }
        let (lake, layout) = try backend.make(in: folder)
        let warehouse = try SQLiteWarehouse(path: folder.path + "/warehouse.sqlite")
        try await warehouse.migrate()
        let key = Self.key(daysAgo: 9)
        try await lake.put(bucket: layout.rawBucket, key: key, bytes: [1, 2, 3])
        _ = try await warehouse.loadKlines(
            [], symbol: Self.btc, interval: .oneMinute, capturedAt: 1,
            object: ProcessedObject(bucket: layout.rawBucket, key: key, processedAt: 1))
        // Stopped after the copy and the ledger update, before the original was deleted.
        try await lake.copy(from: .init(bucket: layout.rawBucket, key: key), to: .init(bucket: layout.archiveBucket, key: key))
        try await warehouse.markArchived(keys: [key], bucket: layout.archiveBucket)
        let archiver = LakeArchiver(configuration: .init(), lake: lake, layout: layout, warehouse: warehouse, logger: Logger(label: "test"))
        let report = try await archiver.run(now: Self.now)
        #expect(report.archivedObjects == 1)
        #expect(try await lake.list(bucket: layout.rawBucket, prefix: "").isEmpty)
        #expect(try await lake.get(bucket: layout.archiveBucket, key: key) == [1, 2, 3])
        #expect(try await warehouse.ledgerSummary().archivedFiles == 1)
    }
}

/// Simulator → extract → lake → transform gives the same warehouse whichever store holds the lake.
@Suite(.enabled(if: S3TestServer.isAvailable, Comment(rawValue: S3TestServer.skipReason)))
struct S3LakeEndToEndTests {
    static let symbols = [try! Symbol("BTCUSDT"), try! Symbol("ETHUSDT")]
    /// 2025-12-31T23:58:10Z: objects land in two day folders.
    static let start: Int64 = 1_767_225_490_000

    @Test func theWarehouseIsTheSameWithAnS3LakeAsWithALocalOne() async throws {
        let folder = try TemporaryDirectory("s3-e2e")
        defer { folder.remove() }
        let clock = ManualClock(Self.start)
        let exchange = SimulatedExchange(configuration: .init(seed: 7, symbols: Self.symbols, historyMinutes: 3_000, clock: clock.reader))
        let logger = Logger(label: "test")
        var pipelines: [(lake: any ObjectStore, layout: LakeLayout, warehouse: SQLiteWarehouse)] = []
        for backend in LakeBackend.allCases {
            let (lake, layout) = try backend.make(in: folder)
            let warehouse = try SQLiteWarehouse(path: folder.path + "/\(backend).sqlite")
            try await warehouse.migrate()
            pipelines.append((lake, layout, warehouse))
        }
        let runs = pipelines
        try await SimulatorServer.withRunning(exchange) { baseURL in
            let client = BinanceClient(
                configuration: .init(baseURL: baseURL, retry: .none, clock: clock.reader), httpClient: .shared, logger: logger)
            for step in [0, 61_000, 130_000, 3_600_000] as [Int64] {
                clock.advance(milliseconds: step)
                for pipeline in runs {
                    let extractor = Extractor(
                        configuration: .init(symbols: Self.symbols, initialCandles: 1_200, depthLimit: 20), source: client,
                        lake: pipeline.lake, layout: pipeline.layout, warehouse: pipeline.warehouse,
                        clock: clock.reader,
                        logger: logger)
                    let report = await extractor.extractAll()
                    #expect(report.failures.isEmpty, "\(report.failures)")
                    _ = try await Transformer(
                        lake: pipeline.lake, layout: pipeline.layout, warehouse: pipeline.warehouse,
                        clock: clock.reader,
                        logger: logger
                    ).transformPending()
                }
            }
        }
        let (local, s3) = (pipelines[0], pipelines[1])
        let localObjects = try await local.lake.list(bucket: local.layout.rawBucket, prefix: "").count
        #expect(try await s3.lake.list(bucket: s3.layout.rawBucket, prefix: "").count == localObjects)
        for symbol in Self.symbols {
            for interval in [Interval.oneMinute, .oneHour, .oneDay] {
                let expected = try await local.warehouse.klines(
                    symbol: symbol, interval: interval, from: 0, to: .max, includeOpen: true, limit: nil)
                let actual = try await s3.warehouse.klines(
                    symbol: symbol, interval: interval, from: 0, to: .max, includeOpen: true, limit: nil)
                #expect(!expected.isEmpty && actual == expected, "\(symbol) \(interval)")
            }
            let book = try await s3.warehouse.latestOrderBook(symbol: symbol, levels: 20)
            let expectedBook = try await local.warehouse.latestOrderBook(symbol: symbol, levels: 20)
            #expect(book != nil && book == expectedBook)
        }
        let expectedCounts = try await local.warehouse.tableCounts()
        #expect(try await s3.warehouse.tableCounts() == expectedCounts)
    }
}

struct S3LakeOutageTests {
    @Test func anUnreachableLakeNeverAdvancesTheExtractionMetadata() async throws {
        let folder = try TemporaryDirectory("s3-down")
        defer { folder.remove() }
        let symbol = try Symbol("BTCUSDT")
        let clock = ManualClock(S3LakeEndToEndTests.start)
        let exchange = SimulatedExchange(configuration: .init(seed: 3, symbols: [symbol], historyMinutes: 500, clock: clock.reader))
        let warehouse = try SQLiteWarehouse(path: folder.path + "/warehouse.sqlite")
        try await warehouse.migrate()
        // Port 1 on loopback: nothing listens, every request is refused.
        let lake = S3ObjectStore(
            configuration: .init(
                endpoint: try S3Endpoint(parsing: "http://127.0.0.1:1"), credentials: .init(accessKeyID: "AK", secretAccessKey: "SK"),
                retry: .init(maxAttempts: 2, baseDelay: .milliseconds(5), maxDelay: .milliseconds(10))))
        let logger = Logger(label: "test")
        try await SimulatorServer.withRunning(exchange) { baseURL in
            let client = BinanceClient(
                configuration: .init(baseURL: baseURL, retry: .none, clock: clock.reader), httpClient: .shared, logger: logger)
            let extractor = Extractor(
                configuration: .init(symbols: [symbol], initialCandles: 50, depthLimit: 20), source: client, lake: lake,
                warehouse: warehouse,
                clock: clock.reader, logger: logger)
            let report = await extractor.extractAll()
            #expect(report.failures.count == 1)
            #expect(report.failures.first?.message.contains("unreachable after 2 attempts") == true, "\(report.failures)")
        }
        for type in ExtractionDataType.allCases {
            #expect(try await warehouse.extractionState(symbol: symbol, type: type) == nil, "\(type) advanced")
        }
    }
}
