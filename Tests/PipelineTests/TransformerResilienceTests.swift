import DataLake
import Logging
import MarketData
import Pipeline
import PipelineTesting
import Testing
import Warehouse

/// An object the store cannot read is set aside and retried with backoff; it never stops the rest of the pass.
struct TransformerResilienceTests {
    static let symbol = try! Symbol("BTCUSDT")
    /// 2026-01-03T12:00:00Z; the objects are a day older, in a folder a naive scan position would move past.
    static let noon: Int64 = 1_767_441_600_000
    static let yesterday = noon - 86_400_000

    static func put(_ store: InMemoryObjectStore, capturedAt: Int64) async throws -> String {
        let open = Interval.oneMinute.openTime(containing: capturedAt) - 120_000
        let data = BinanceCodec.encodeKlines([WarehouseConformance.kline(open)])
        let bytes = RawEnvelope.encode(symbol: symbol, capturedAt: capturedAt, type: .klines, interval: .oneMinute, data: data)
        let key = LakeLayout.objectKey(symbol: symbol, type: .klines, capturedAt: capturedAt)
        try await store.put(bucket: "crypto-raw", key: key, bytes: bytes)
        return key
    }

    @Test func anUnreadableObjectIsReportedSkippedWhileBackingOffAndLoadedLater() async throws {
        let folder = try TemporaryDirectory("unreadable")
        defer { folder.remove() }
        let warehouse = try SQLiteWarehouse(path: folder.path + "/warehouse.sqlite")
        try await warehouse.migrate()
        let store = InMemoryObjectStore()
        var keys: [String] = []
        for minute in 0..<3 { keys.append(try await Self.put(store, capturedAt: Self.yesterday + Int64(minute) * 60_000)) }
        await store.setUnreadable([keys[1]])
        let clock = ManualClock(Self.noon)
        let logs = LogRecorder()
        let transformer = Transformer(lake: store, warehouse: warehouse, clock: clock.reader, logger: logs.logger())

        // The objects before and after the unreadable one load in the same pass.
        let first = try await transformer.transformPending()
        #expect(first.objects == 2 && first.unreadable == 1 && first.rejected == 0)
        #expect(try await warehouse.processedObjectKeys(withPrefix: "").sorted() == [keys[0], keys[2]])
        #expect(
            logs.all.contains {
                $0.hasPrefix("warning cannot read raw object") && $0.contains(keys[1]) && $0.contains("injected read fault")
            })
        // The scan position stays at or before the day that still holds it, here and for a new process.
        #expect(try await warehouse.setting(Transformer.resumeSetting) == "2026-01-01/")
        #expect(await store.readCount(keys[1]) == 1)

        // Within the 30 s backoff the object is not read again.
        clock.advance(milliseconds: 29_000)
        let second = try await transformer.transformPending()
        #expect(second.objects == 0 && second.unreadable == 0 && second.deferred == 1)
        #expect(await store.readCount(keys[1]) == 1)

        // Once the backoff has passed and the fault is gone, it loads, and the scan position moves on.
        clock.advance(milliseconds: 1_000)
        await store.setUnreadable([])
        let third = try await transformer.transformPending()
        #expect(third.objects == 1 && third.unreadable == 0 && third.deferred == 0)
        #expect(try await warehouse.processedObjectKeys(withPrefix: "").count == 3)
        // It would move on to the day before "now − 1 h", but never past the day before the newest capture.
        #expect(try await warehouse.setting(Transformer.resumeSetting) == "2026-01-01/")
        _ = try await Self.put(store, capturedAt: Self.noon)
        let fourth = try await transformer.transformPending()
        #expect(fourth.objects == 1)
        #expect(try await warehouse.setting(Transformer.resumeSetting) == "2026-01-02/")
    }

    @Test func repeatedFailuresBackOffExponentiallyUpToAnHour() async throws {
        #expect(
            (1...8).map(Transformer.unreadableRetryDelay(afterFailures:)) == [
                30_000, 60_000, 120_000, 240_000, 480_000, 960_000, 1_920_000, 3_600_000,
            ])
        #expect(Transformer.unreadableRetryDelay(afterFailures: .max) == 3_600_000)

        let folder = try TemporaryDirectory("unreadable-backoff")
        defer { folder.remove() }
        let warehouse = try SQLiteWarehouse(path: folder.path + "/warehouse.sqlite")
        try await warehouse.migrate()
        let store = InMemoryObjectStore()
        let key = try await Self.put(store, capturedAt: Self.yesterday)
        await store.setUnreadable([key])
        let clock = ManualClock(Self.noon)
        let transformer = Transformer(
            lake: store, warehouse: warehouse, clock: clock.reader, logger: Logger(label: "test"))
        #expect(try await transformer.transformPending().unreadable == 1)
        clock.advance(milliseconds: 30_000)
        #expect(try await transformer.transformPending().unreadable == 1)
        // The second failure waits a minute.
        clock.advance(milliseconds: 59_000)
        #expect(try await transformer.transformPending().deferred == 1)
        clock.advance(milliseconds: 1_000)
        #expect(try await transformer.transformPending().unreadable == 1)
        #expect(await store.readCount(key) == 3)
    }
}
