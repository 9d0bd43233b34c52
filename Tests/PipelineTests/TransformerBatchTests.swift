import DataLake
import Logging
import MarketData
import PipelineTesting
import Testing
import Warehouse

@testable import Pipeline

/// The transformer loads the objects read by the time the writer is free in one transaction; when that fails, one by
/// one, so the objects before a failing one are kept and the failure is the failing object's.
struct TransformerBatchTests {
    /// The SQLite warehouse, except that loading `poisoned` fails as a statement would.
    struct PoisonedWarehouse: Transformer.Storage {
        let base: SQLiteWarehouse
        let poisoned: String

        func loadObjects(_ objects: [ObjectLoad]) async throws(WarehouseError) -> [LoadResult] {
            if objects.contains(where: { $0.object.key == poisoned }) {
                throw WarehouseError(.failed, operation: "load \(poisoned)", detail: "constraint failed")
            }
            return try await base.loadObjects(objects)
        }

        func loadKlines(
            _ klines: [Kline], symbol: Symbol, interval: Interval, capturedAt: Int64, object: ProcessedObject
        )
            async throws(WarehouseError) -> LoadResult
        { try await base.loadKlines(klines, symbol: symbol, interval: interval, capturedAt: capturedAt, object: object) }
        func importKlines(_ files: [KlineImport]) async throws(WarehouseError) -> [LoadResult] { try await base.importKlines(files) }
        func rollUpPending() async throws(WarehouseError) -> RollupReport { try await base.rollUpPending() }
        func markAllForRollup(symbol: Symbol?) async throws(WarehouseError) { try await base.markAllForRollup(symbol: symbol) }
        func klines(
            symbol: Symbol, interval: Interval, from: Int64, to: Int64, includeOpen: Bool, limit: Int?
        )
            async throws(WarehouseError) -> [StoredKline]
        { try await base.klines(symbol: symbol, interval: interval, from: from, to: to, includeOpen: includeOpen, limit: limit) }
        func recentKlines(
            symbol: Symbol, interval: Interval, endingAt: Int64, includeOpen: Bool, limit: Int
        )
            async throws(WarehouseError) -> [StoredKline]
        {
            try await base.recentKlines(symbol: symbol, interval: interval, endingAt: endingAt, includeOpen: includeOpen, limit: limit)
        }
        func processedObjectKeys(withPrefix prefix: String) async throws(WarehouseError) -> Set<String> {
            try await base.processedObjectKeys(withPrefix: prefix)
        }
        func processedObjectKeys(among keys: [String]) async throws(WarehouseError) -> Set<String> {
            try await base.processedObjectKeys(among: keys)
        }
        func recordRejected(objectKey: String, movedTo: String, reason: String, at time: Int64) async throws(WarehouseError) {
            try await base.recordRejected(objectKey: objectKey, movedTo: movedTo, reason: reason, at: time)
        }
        func markArchived(keys: [String], bucket: String) async throws(WarehouseError) {
            try await base.markArchived(keys: keys, bucket: bucket)
        }
        func forgetArchivedFiles(before keyBound: String) async throws(WarehouseError) -> Int {
            try await base.forgetArchivedFiles(before: keyBound)
        }
        func ledgerSummary() async throws(WarehouseError) -> LedgerSummary { try await base.ledgerSummary() }
        func setting(_ key: String) async throws(WarehouseError) -> String? { try await base.setting(key) }
        func saveSetting(_ key: String, value: String, at time: Int64) async throws(WarehouseError) {
            try await base.saveSetting(key, value: value, at: time)
        }
        func settings(withPrefix prefix: String) async throws(WarehouseError) -> [String: String] {
            try await base.settings(withPrefix: prefix)
        }
        func deleteSetting(_ key: String) async throws(WarehouseError) { try await base.deleteSetting(key) }
    }

    @Test func aFailingObjectKeepsTheOnesBeforeItAndNamesItself() async throws {
        let folder = try TemporaryDirectory("batch")
        defer { folder.remove() }
        let warehouse = try SQLiteWarehouse(path: folder.path + "/warehouse.sqlite")
        try await warehouse.migrate()
        let store = InMemoryObjectStore()
        var keys: [String] = []
        for minute in 0..<6 {
            keys.append(
                try await TransformerResilienceTests.put(store, capturedAt: TransformerResilienceTests.yesterday + Int64(minute) * 60_000))
        }
        let transformer = Transformer(
            lake: store, warehouse: PoisonedWarehouse(base: warehouse, poisoned: keys[3]),
            clock: ManualClock(TransformerResilienceTests.noon).reader, logger: Logger(label: "test"))
        // However the six objects fall into batches, the three before the poisoned one are kept.
        await #expect {
            _ = try await transformer.transformPending()
        } throws: { error in
            (error as? PipelineError)?.warehouseError?.operation == "load \(keys[3])"
        }
        #expect(try await warehouse.processedObjectKeys(among: keys) == Set(keys.prefix(3)))
        // Without the fault the next pass loads the rest.
        let healthy = Transformer(
            lake: store, warehouse: warehouse, clock: ManualClock(TransformerResilienceTests.noon).reader, logger: Logger(label: "test"))
        #expect(try await healthy.transformPending().objects == 3)
        #expect(try await warehouse.processedObjectKeys(among: keys) == Set(keys))
    }

    /// A book larger than Binance ever sends is refused as malformed, and the objects around it load.
    @Test func aBookOfMoreThanFiveThousandLevelsASideIsRejected() async throws {
        let folder = try TemporaryDirectory("batch-huge")
        defer { folder.remove() }
        let warehouse = try SQLiteWarehouse(path: folder.path + "/warehouse.sqlite")
        try await warehouse.migrate()
        let store = InMemoryObjectStore()
        let symbol = TransformerResilienceTests.symbol
        let before = try await TransformerResilienceTests.put(store, capturedAt: TransformerResilienceTests.yesterday)
        let levels = (1...5_001).map { PriceLevel(price: ExactDecimal($0), quantity: ExactDecimal(1)) }
        let capturedAt = TransformerResilienceTests.yesterday + 1_000
        let book = OrderBookSnapshot(lastUpdateId: 1, bids: Array(levels.reversed()), asks: [])
        let key = LakeLayout.objectKey(symbol: symbol, type: .depth, capturedAt: capturedAt)
        try await store.put(
            bucket: "crypto-raw", key: key,
            bytes: RawEnvelope.encode(
                symbol: symbol, capturedAt: capturedAt, type: .depth, interval: nil, data: BinanceCodec.encodeDepth(book)))
        let after = try await TransformerResilienceTests.put(store, capturedAt: TransformerResilienceTests.yesterday + 60_000)
        let transformer = Transformer(
            lake: store, warehouse: warehouse, clock: ManualClock(TransformerResilienceTests.noon).reader, logger: Logger(label: "test"))
        let report = try await transformer.transformPending()
        #expect(report.objects == 2 && report.rejected == 1, "\(report)")
        #expect(try await warehouse.processedObjectKeys(among: [before, key, after]) == [before, after])
        let reason = try await store.get(bucket: "crypto-raw", key: LakeLayout.rejectedPrefix + key + ".reason.txt")
        #expect(String(decoding: reason, as: UTF8.self).contains("at most 5000 a side"))
    }

    @Test func aBookWhoseTwinWasLoadedByAnEarlierPassIsRejected() async throws {
        let folder = try TemporaryDirectory("batch-twin")
        defer { folder.remove() }
        let warehouse = try SQLiteWarehouse(path: folder.path + "/warehouse.sqlite")
        try await warehouse.migrate()
        let store = InMemoryObjectStore()
        let symbol = TransformerResilienceTests.symbol
        let capturedAt = TransformerResilienceTests.yesterday
        let book = OrderBookSnapshot(
            lastUpdateId: 1, bids: [PriceLevel(price: ExactDecimal(1), quantity: ExactDecimal(1))], asks: [])
        let bytes = RawEnvelope.encode(
            symbol: symbol, capturedAt: capturedAt, type: .depth, interval: nil, data: BinanceCodec.encodeDepth(book))
        let keys = LakeLayout.objectKeys(symbol: symbol, type: .depth, capturedAt: capturedAt)
        try await store.put(bucket: "crypto-raw", key: keys[0], bytes: bytes)
        let transformer = Transformer(
            lake: store, warehouse: warehouse, clock: ManualClock(TransformerResilienceTests.noon).reader, rescan: true,
            logger: Logger(label: "test"))
        #expect(try await transformer.transformPending().objects == 1)
        // The same capture appears in the next day's folder.
        try await store.put(bucket: "crypto-raw", key: keys[2], bytes: bytes)
        let second = try await transformer.transformPending()
        #expect(second.objects == 0 && second.rejected == 1, "\(second)")
        #expect(try await store.list(bucket: "crypto-raw", prefix: LakeLayout.rejectedPrefix).map(\.key).contains { $0.hasSuffix(keys[2]) })
    }
}
