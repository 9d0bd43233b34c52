import DataLake
import Foundation
import Logging
import MarketData
import Pipeline
import PipelineTesting
import Testing
import Warehouse

/// A lake written by the original Python system loads completely: its envelopes' `captured_at` comes from another
/// clock read than the name (local time, no zone, microseconds), its folders may be the server's local date, and its
/// local lake is laid out as `data_lake/raw/…` and `data_lake/archive/…`.
struct OriginalLakeTests {
    static let btc = try! Symbol("BTCUSDT")
    /// 2026-01-09T14:30:00.123Z, the name's epoch milliseconds; the envelope says 06:30 local time (UTC−8).
    static let captured: Int64 = 1_767_969_000_123
    /// 2026-01-09T02:00:00Z: 18:00 on the 8th in the writer's time zone, so in its folder 2026-01-08.
    static let lateEvening: Int64 = 1_767_924_000_000
    /// 2026-01-01T10:00:00Z, an archived object.
    static let archived: Int64 = 1_767_261_600_000
    /// 2026-01-09T14:27:00Z.
    static let firstOpen: Int64 = 1_767_968_820_000

    /// Three 1m candles from `open`, as the original system wrote them: Python's `json.dumps` (", " and ": "),
    /// Binance's 12 fields, `captured_at` in local time without a zone and with microseconds.
    static func klinesObject(capturedAtText: String, open: Int64) -> [UInt8] {
        let rows = (0..<3).map { minute in
            let time = open + Int64(minute) * 60_000
            return "[\(time), \"42500.00\", \"42600.00\", \"42450.00\", \"4255\(minute).00\", \"125.45\", \(time + 59_999), "
                + "\"5340250.00\", 1250, \"62.50\", \"2660125.00\", \"0\"]"
        }
        return Array(
            "{\"symbol\": \"BTCUSDT\", \"captured_at\": \"\(capturedAtText)\", \"type\": \"klines\", \"interval\": \"1m\", \"data\": [\(rows.joined(separator: ", "))]}"
                .utf8)
    }

    static func depthObject(capturedAtText: String) -> [UInt8] {
        Array(
            ("{\"symbol\": \"BTCUSDT\", \"captured_at\": \"\(capturedAtText)\", \"type\": \"depth\", \"data\": {\"lastUpdateId\": 1027024, "
                + "\"bids\": [[\"42500.00\", \"1.25\"], [\"42499.50\", \"2.50\"]], \"asks\": [[\"42500.50\", \"1.10\"], [\"42501.00\", \"3.20\"]]}}")
                .utf8)
    }

    /// The original system's objects: (bucket role, key, bytes).
    static let objects: [(archive: Bool, key: String, bytes: [UInt8])] = [
        (
            false, "2026-01-09/BTCUSDT_klines_\(captured).json",
            klinesObject(capturedAtText: "2026-01-09T06:30:00.123456", open: firstOpen)
        ),
        (false, "2026-01-09/BTCUSDT_depth_\(captured + 333).json", depthObject(capturedAtText: "2026-01-09T06:30:00.456789")),
        (
            false, "2026-01-08/BTCUSDT_klines_\(lateEvening).json",
            klinesObject(capturedAtText: "2026-01-08T18:00:00.000001", open: lateEvening - 240_000)
        ),
        (
            true, "2026-01-01/BTCUSDT_klines_\(archived).json",
            klinesObject(capturedAtText: "2026-01-01T02:00:00.5", open: archived - 240_000)
        ),
    ]

    /// Writes the objects as files under `root`, in the original local layout (`raw/`, `archive/`) or ours.
    static func writeLake(at root: String, layout: LakeLayout) throws {
        for object in objects {
            let path = "\(root)/\(object.archive ? layout.archiveBucket : layout.rawBucket)/\(object.key)"
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data(object.bytes).write(to: URL(fileURLWithPath: path))
        }
    }

    @Test(arguments: [true, false])
    func aLakeWrittenByTheOriginalSystemLoadsCompletely(originalLayout: Bool) async throws {
        let folder = try TemporaryDirectory("original-lake")
        defer { folder.remove() }
        let root = folder.path + "/data_lake"
        try Self.writeLake(at: root, layout: originalLayout ? .originalLocal : LakeLayout())
        let layout = LakeLayout.of(localFolder: root)
        #expect(layout == (originalLayout ? .originalLocal : LakeLayout()))
        let warehouse = try SQLiteWarehouse(path: folder.path + "/warehouse.sqlite")
        try await warehouse.migrate()
        let logs = LogRecorder()
        let transformer = Transformer(
            lake: LocalObjectStore(root: root), layout: layout, warehouse: warehouse,
            clock: ManualClock(Self.captured + 3_600_000).reader, logger: logs.logger())
        let report = try await transformer.transformPending()
        #expect(report.rejected == 0 && report.objects == 3, "\(report) \(logs.all)")
        // Every candle, at the capture time of the name (the envelope's local time is 8 hours off: no warning).
        let stored = try await warehouse.recentKlines(
            symbol: Self.btc, interval: .oneMinute, endingAt: .max, includeOpen: true, limit: 100)
        #expect(stored.count == 6)
        #expect(stored.last?.kline.close == (try ExactDecimal(parsing: "42552.00")))
        let book = try #require(try await warehouse.latestOrderBook(symbol: Self.btc, levels: 10))
        #expect(book.capturedAt == Self.captured + 333 && book.lastUpdateId == 1_027_024 && book.bids.count == 2)
        #expect(!logs.all.contains { $0.hasPrefix("warning") }, "\(logs.all)")
    }

    @Test func theOriginalLocalLayoutIsRecognisedAndMigratedToBuckets() async throws {
        let folder = try TemporaryDirectory("original-migrate")
        defer { folder.remove() }
        let root = folder.path + "/data_lake"
        try Self.writeLake(at: root, layout: .originalLocal)
        #expect(LakeLayout.of(localFolder: root) == .originalLocal)
        // A folder of ours, or an empty one, is ours.
        #expect(LakeLayout.of(localFolder: folder.path + "/nothing") == LakeLayout())
        try FileManager.default.createDirectory(atPath: root + "/crypto-raw", withIntermediateDirectories: true)
        #expect(LakeLayout.of(localFolder: root) == LakeLayout())
        try FileManager.default.removeItem(atPath: root + "/crypto-raw")

        let destination = InMemoryObjectStore()
        let report = try await LakeMigration(
            from: LocalObjectStore(root: root), layout: LakeLayout.of(localFolder: root), to: destination, layout: LakeLayout()
        ).run()
        #expect(report.copied == 4 && report.failures.isEmpty)
        #expect(
            try await destination.list(bucket: "crypto-raw", prefix: "").map(\.key).sorted()
                == Self.objects.filter { !$0.archive }.map(\.key).sorted())
        #expect(
            try await destination.list(bucket: "crypto-archive", prefix: "").map(\.key) == [
                "2026-01-01/BTCUSDT_klines_\(Self.archived).json"
            ])
    }

    @Test func aCaptureTimeMoreThanADayFromTheNameIsAWarningAndTheNameDecides() async throws {
        let folder = try TemporaryDirectory("original-skew")
        defer { folder.remove() }
        let warehouse = try SQLiteWarehouse(path: folder.path + "/warehouse.sqlite")
        try await warehouse.migrate()
        let lake = InMemoryObjectStore()
        let key = "2026-01-09/BTCUSDT_klines_\(Self.captured).json"
        try await lake.put(
            bucket: "crypto-raw", key: key, bytes: Self.klinesObject(capturedAtText: "2025-06-01T00:00:00", open: Self.firstOpen))
        // An envelope of another symbol or type than its name is still refused.
        let wrong = "2026-01-09/ETHUSDT_klines_\(Self.captured).json"
        try await lake.put(
            bucket: "crypto-raw", key: wrong, bytes: Self.klinesObject(capturedAtText: "2026-01-09T14:30:00", open: Self.firstOpen))
        let logs = LogRecorder()
        let transformer = Transformer(
            lake: lake, warehouse: warehouse, clock: ManualClock(Self.captured + 3_600_000).reader,
            logger: logs.logger())
        let report = try await transformer.transformPending()
        #expect(report.objects == 1 && report.rejected == 1)
        #expect(logs.all.contains { $0.hasPrefix("warning raw object's captured_at is more than a day") && $0.contains(key) })
        #expect(logs.all.contains { $0.hasPrefix("warning rejected raw object") && $0.contains("does not match the object name") })
        // The candles are final by the name's capture time (14:30:00.123), not the envelope's (months earlier).
        let stored = try await warehouse.recentKlines(symbol: Self.btc, interval: .oneMinute, endingAt: .max, includeOpen: false, limit: 10)
        #expect(stored.map(\.kline.openTime) == [Self.firstOpen, Self.firstOpen + 60_000])
    }

    @Test func anObjectLandingInTheDayBeforeAfterAPassIsStillFound() async throws {
        let folder = try TemporaryDirectory("original-late")
        defer { folder.remove() }
        let warehouse = try SQLiteWarehouse(path: folder.path + "/warehouse.sqlite")
        try await warehouse.migrate()
        let lake = InMemoryObjectStore()
        let transformer = Transformer(
            lake: lake, warehouse: warehouse, clock: ManualClock(Self.captured + 3_600_000).reader,
            logger: Logger(label: "test"))
        try await lake.put(bucket: "crypto-raw", key: Self.objects[0].key, bytes: Self.objects[0].bytes)
        #expect(try await transformer.transformPending().objects == 1)
        // The original writer, a time zone behind, still writes into its local date's folder.
        try await lake.put(bucket: "crypto-raw", key: Self.objects[2].key, bytes: Self.objects[2].bytes)
        #expect(try await transformer.transformPending().objects == 1)
    }

    @Test func oneCaptureNamedInTwoFoldersLoadsOnce() async throws {
        let folder = try TemporaryDirectory("original-twin")
        defer { folder.remove() }
        let warehouse = try SQLiteWarehouse(path: folder.path + "/warehouse.sqlite")
        try await warehouse.migrate()
        let lake = InMemoryObjectStore()
        let time = Self.lateEvening
        let book = Self.depthObject(capturedAtText: "2026-01-08T18:00:00.000001")
        for day in ["2026-01-09", "2026-01-08"] {
            try await lake.put(bucket: "crypto-raw", key: "\(day)/BTCUSDT_depth_\(time).json", bytes: book)
        }
        let logs = LogRecorder()
        let transformer = Transformer(
            lake: lake, warehouse: warehouse, clock: ManualClock(Self.captured).reader, logger: logs.logger())
        let report = try await transformer.transformPending()
        #expect(report.objects == 1 && report.rejected == 1, "\(report) \(logs.all)")
        #expect(logs.all.contains { $0.contains("is already loaded from") })
        #expect(try await warehouse.latestOrderBook(symbol: Self.btc, levels: 10)?.bids.count == 2)
    }

    @Test func anotherSystemsClockNeverMakesTheNewestCandleFinal() async throws {
        let folder = try TemporaryDirectory("original-final")
        defer { folder.remove() }
        let warehouse = try SQLiteWarehouse(path: folder.path + "/warehouse.sqlite")
        try await warehouse.migrate()
        let lake = InMemoryObjectStore()
        // Named 10 s after the third candle closed, by a clock that need not be the exchange's.
        let named = Self.firstOpen + 3 * 60_000 + 10_000
        try await lake.put(
            bucket: "crypto-raw", key: "2026-01-09/BTCUSDT_klines_\(named).json",
            bytes: Self.klinesObject(capturedAtText: "2026-01-09T06:30:10.000001", open: Self.firstOpen))
        let transformer = Transformer(
            lake: lake, warehouse: warehouse, clock: ManualClock(named).reader, logger: Logger(label: "test"))
        #expect(try await transformer.transformPending().objects == 1)
        let stored = try await warehouse.recentKlines(symbol: Self.btc, interval: .oneMinute, endingAt: .max, includeOpen: true, limit: 10)
        #expect(stored.map(\.isFinal) == [true, true, false])
    }

    @Test func folderDaysMayBeTheWritersLocalDate() {
        let name = "BTCUSDT_klines_\(Self.lateEvening).json"  // 2026-01-09T02:00Z
        for (day, accepted) in [
            ("2026-01-09", true), ("2026-01-08", true), ("2026-01-10", true), ("2026-01-07", false), ("2026-01-11", false),
        ] {
            #expect((LakeLayout.parse(key: "\(day)/\(name)") != nil) == accepted, "\(day)")
        }
        #expect(LakeLayout.parse(key: "1969-12-31/BTCUSDT_klines_-1.json") == nil)
        #expect(LakeLayout.parse(key: "9999-12-31/BTCUSDT_klines_\(Int64.max).json") == nil)
        #expect(LakeLayout.parse(key: "1970-01-01/BTCUSDT_klines_\(Int64.min).json") == nil)
        // One capture has one name: no sign, no leading zeros, nothing past 9999.
        for time in ["+\(Self.lateEvening)", "0\(Self.lateEvening)", "\(UTCTime.latest + 1)"] {
            #expect(LakeLayout.parse(key: "2026-01-09/BTCUSDT_klines_\(time).json") == nil, "\(time)")
        }
    }
}
