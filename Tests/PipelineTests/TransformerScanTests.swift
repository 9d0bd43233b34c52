import DataLake
import Logging
import MarketData
import Pipeline
import PipelineTesting
import Synchronization
import Testing
import Warehouse

/// A transformer's later passes list only recent day folders, so a cycle's cost does not grow with the lake.
struct TransformerScanTests {
    @Test func laterPassesSkipDaysAlreadyDone() async throws {
        let (folder, warehouse, store) = try await Self.emptyLakeAndWarehouse()
        defer { folder.remove() }
        let noon: Int64 = 1_767_441_600_000  // 2026-01-03T12:00:00Z
        func put(capturedAt: Int64) async throws { try await Self.putKlines(into: store, capturedAt: capturedAt) }
        for day in 0..<3 { try await put(capturedAt: noon - Int64(2 - day) * 86_400_000) }
        let transformer = Transformer(lake: store, warehouse: warehouse, clock: PipelineClock { noon }, logger: Logger(label: "test"))

        #expect(try await transformer.transformPending().objects == 3)
        #expect(await store.takeListedPrefixes() == ["2026-01-01/", "2026-01-02/", "2026-01-03/"])

        // Later passes list the day of the newest capture and the one before it (a writer naming folders by its local
        // date may still be writing there).
        try await put(capturedAt: noon + 1_000)
        #expect(try await transformer.transformPending().objects == 1)
        #expect(await store.takeListedPrefixes() == ["2026-01-02/", "2026-01-03/"])

        // A new transformer (a new process) starts where the last pass left off, as recorded in the warehouse…
        let fresh = Transformer(lake: store, warehouse: warehouse, clock: PipelineClock { noon }, logger: Logger(label: "test"))
        #expect(try await fresh.transformPending() == TransformReport())
        #expect(await store.takeListedPrefixes() == ["2026-01-02/", "2026-01-03/"])
        #expect(try await warehouse.setting(Transformer.resumeSetting) == "2026-01-02/")

        // …unless asked to rescan: objects copied into an old day by hand are then found.
        try await put(capturedAt: noon - 2 * 86_400_000 + 5_000)
        let rescan = Transformer(
            lake: store, warehouse: warehouse, clock: PipelineClock { noon }, rescan: true, logger: Logger(label: "test"))
        #expect(try await rescan.transformPending().objects == 1)
        #expect(await store.takeListedPrefixes().count == 3)
    }
}

extension TransformerScanTests {
    /// A transformer whose clock runs years ahead of the clock that named the objects (a `transform` without the
    /// exchange's offset, next to a collector rehearsing on a replay of 2021) keeps scanning the day still written to.
    @Test func theScanPositionNeverPassesTheNewestDayFolder() async throws {
        let (folder, warehouse, store) = try await Self.emptyLakeAndWarehouse()
        defer { folder.remove() }
        let replayNoon: Int64 = 1_609_588_800_000  // 2021-01-02T12:00:00Z
        func put(capturedAt: Int64) async throws { try await Self.putKlines(into: store, capturedAt: capturedAt) }
        let localNow: Int64 = 1_796_212_401_000  // 2026-12-02
        let transformer = Transformer(lake: store, warehouse: warehouse, clock: PipelineClock { localNow }, logger: Logger(label: "test"))
        // An empty lake moves nothing: the collector's first objects may be named by any day.
        #expect(try await transformer.transformPending() == TransformReport())
        #expect(try await warehouse.setting(Transformer.resumeSetting) == nil)
        try await put(capturedAt: replayNoon)
        #expect(try await transformer.transformPending().objects == 1)
        #expect(try await warehouse.setting(Transformer.resumeSetting) == "2021-01-01/")
        // Later captures of the same replayed day, and of the next, are still found.
        try await put(capturedAt: replayNoon + 60_000)
        try await put(capturedAt: replayNoon + 86_400_000)
        #expect(try await transformer.transformPending().objects == 2)
        #expect(await store.takeListedPrefixes().suffix(2) == ["2021-01-02/", "2021-01-03/"])
        #expect(try await warehouse.setting(Transformer.resumeSetting) == "2021-01-02/")
    }
}

extension TransformerScanTests {
    /// A day folder is listed a page at a time (so its names never all sit in memory); every object of every page is
    /// loaded once, and an unreadable object in a middle page is retried by a later pass.
    @Test func aDayFolderIsListedAPageAtATime() async throws {
        let (folder, warehouse, store) = try await Self.emptyLakeAndWarehouse()
        defer { folder.remove() }
        let noon: Int64 = 1_767_441_600_000  // 2026-01-03T12:00:00Z
        var keys: [String] = []
        for minute in 0..<23 {
            keys.append(try await Self.putKlines(into: store, capturedAt: noon + Int64(minute) * 60_000))
        }
        let unreadable = keys[12]
        await store.inner.setUnreadable([unreadable])
        let now = Mutex(noon + 30 * 60_000)
        let transformer = Transformer(
            lake: store, warehouse: warehouse, clock: PipelineClock { now.withLock { $0 } }, listPageSize: 5, logger: Logger(label: "test"))

        let first = try await transformer.transformPending()
        #expect(first.objects == 22 && first.unreadable == 1)
        let pages = await store.takePages()
        #expect(pages.map(\.returned) == [5, 5, 5, 5, 3])
        #expect(pages.allSatisfy { $0.limit == 5 })
        #expect(try await warehouse.processedObjectKeys(withPrefix: "2026-01-03/") == Set(keys).subtracting([unreadable]))

        // The day is still listed (its unreadable object holds it back); once readable and due, it loads.
        await store.inner.setUnreadable([])
        now.withLock { $0 += Transformer.unreadableRetryDelay(afterFailures: 1) }
        keys.append(try await Self.putKlines(into: store, capturedAt: noon + 40 * 60_000))
        let second = try await transformer.transformPending()
        #expect(second.objects == 2 && second.unreadable == 0)
        #expect(try await warehouse.processedObjectKeys(withPrefix: "2026-01-03/") == Set(keys))
    }
}

extension TransformerScanTests {
    /// A folder holding an empty migrated warehouse, and an empty recording lake.
    static func emptyLakeAndWarehouse() async throws -> (TemporaryDirectory, SQLiteWarehouse, RecordingStore) {
        let folder = try TemporaryDirectory("scan")
        let warehouse = try SQLiteWarehouse(path: folder.path + "/warehouse.sqlite")
        try await warehouse.migrate()
        return (folder, warehouse, RecordingStore())
    }

    /// A k-lines object captured at `capturedAt`, holding one candle two minutes older, in its day folder.
    @discardableResult
    static func putKlines(into store: RecordingStore, capturedAt: Int64) async throws -> String {
        let symbol = try Symbol("BTCUSDT")
        let open = Interval.oneMinute.openTime(containing: capturedAt) - 120_000
        let data = BinanceCodec.encodeKlines([WarehouseConformance.kline(open)])
        let bytes = RawEnvelope.encode(symbol: symbol, capturedAt: capturedAt, type: .klines, interval: .oneMinute, data: data)
        let key = LakeLayout.objectKey(symbol: symbol, type: .klines, capturedAt: capturedAt)
        try await store.put(bucket: "crypto-raw", key: key, bytes: bytes)
        return key
    }
}

/// Forwards to an in-memory store and records which prefixes were listed.
actor RecordingStore: ObjectStore {
    let inner = InMemoryObjectStore()
    var listed: [String] = []
    /// Each page asked for: its limit and how many objects it held.
    var pages: [(limit: Int, returned: Int)] = []

    func takeListedPrefixes() -> [String] {
        defer { listed = [] }
        return listed
    }

    func takePages() -> [(limit: Int, returned: Int)] {
        defer { pages = [] }
        return pages
    }

    func put(bucket: String, key: String, bytes: [UInt8]) async throws(ObjectStoreError) {
        try await inner.put(bucket: bucket, key: key, bytes: bytes)
    }
    func get(bucket: String, key: String) async throws(ObjectStoreError) -> [UInt8] { try await inner.get(bucket: bucket, key: key) }
    func head(bucket: String, key: String) async throws(ObjectStoreError) -> ObjectInfo? { try await inner.head(bucket: bucket, key: key) }
    func list(bucket: String, prefix: String) async throws(ObjectStoreError) -> [ObjectInfo] {
        listed.append(prefix)
        return await inner.list(bucket: bucket, prefix: prefix)
    }
    func list(bucket: String, prefix: String, after: String?, limit: Int) async throws(ObjectStoreError) -> ObjectPage {
        if after == nil { listed.append(prefix) }
        let page = await inner.list(bucket: bucket, prefix: prefix, after: after, limit: limit)
        pages.append((limit, page.objects.count))
        return page
    }
    func listFolders(bucket: String, prefix: String) async throws(ObjectStoreError) -> [String] {
        await inner.listFolders(bucket: bucket, prefix: prefix)
    }
    func copy(from source: ObjectLocation, to destination: ObjectLocation) async throws(ObjectStoreError) {
        try await inner.copy(from: source, to: destination)
    }
    func delete(bucket: String, key: String) async throws(ObjectStoreError) { try await inner.delete(bucket: bucket, key: key) }
}
