import DataLake
import Logging
import MarketData
import PipelineTesting
import Synchronization
import Testing
import Warehouse

@testable import Pipeline

/// The transformer reads objects ahead of the load (S3 pays a round trip per GET), in order, within a count and a byte
/// budget.
struct TransformerReadAheadTests {
    /// A store whose reads wait until the test opens the gate, counting how many wait at once.
    final class GatedStore: ObjectStore {
        let base = InMemoryObjectStore()
        private struct State {
            var open = false
            var inFlight = 0
            var mostInFlight = 0
            var waiters: [CheckedContinuation<Void, Never>] = []
            var watchers: [(count: Int, continuation: CheckedContinuation<Void, Never>)] = []
        }
        private let state = Mutex(State())

        var mostInFlight: Int { state.withLock { $0.mostInFlight } }

        /// Returns once `count` reads wait at the gate at the same time.
        func waitForReads(_ count: Int) async {
            await withCheckedContinuation { continuation in
                let ready = state.withLock { state in
                    if state.inFlight >= count { return true }
                    state.watchers.append((count, continuation))
                    return false
                }
                if ready { continuation.resume() }
            }
        }

        /// Ends every ``waitForReads(_:)`` whether or not its count was reached.
        func stopWaiting() {
            let watchers = state.withLock { state in
                defer { state.watchers = [] }
                return state.watchers.map(\.continuation)
            }
            for watcher in watchers { watcher.resume() }
        }

        func openGate() {
            let waiters = state.withLock { state in
                state.open = true
                defer { state.waiters = [] }
                return state.waiters
            }
            for waiter in waiters { waiter.resume() }
        }

        func get(bucket: String, key: String) async throws(ObjectStoreError) -> [UInt8] {
            await withCheckedContinuation { continuation in
                let (pass, ready) = state.withLock { state in
                    state.inFlight += 1
                    state.mostInFlight = max(state.mostInFlight, state.inFlight)
                    let ready = state.watchers.filter { $0.count <= state.inFlight }.map(\.continuation)
                    state.watchers.removeAll { $0.count <= state.inFlight }
                    if !state.open { state.waiters.append(continuation) }
                    return (state.open, ready)
                }
                for watcher in ready { watcher.resume() }
                if pass { continuation.resume() }
            }
            defer { state.withLock { $0.inFlight -= 1 } }
            return try await base.get(bucket: bucket, key: key)
        }

        func put(bucket: String, key: String, bytes: [UInt8]) async throws(ObjectStoreError) {
            try await base.put(bucket: bucket, key: key, bytes: bytes)
        }
        func head(bucket: String, key: String) async throws(ObjectStoreError) -> ObjectInfo? {
            try await base.head(bucket: bucket, key: key)
        }
        func list(bucket: String, prefix: String) async throws(ObjectStoreError) -> [ObjectInfo] {
            await base.list(bucket: bucket, prefix: prefix)
        }
        func list(bucket: String, prefix: String, after: String?, limit: Int) async throws(ObjectStoreError) -> ObjectPage {
            await base.list(bucket: bucket, prefix: prefix, after: after, limit: limit)
        }
        func listFolders(bucket: String, prefix: String) async throws(ObjectStoreError) -> [String] {
            await base.listFolders(bucket: bucket, prefix: prefix)
        }
        func copy(from source: ObjectLocation, to destination: ObjectLocation) async throws(ObjectStoreError) {
            try await base.copy(from: source, to: destination)
        }
        func delete(bucket: String, key: String) async throws(ObjectStoreError) { try await base.delete(bucket: bucket, key: key) }
    }

    @Test func sixteenReadsAreInFlightAndObjectsLoadInCaptureOrder() async throws {
        let folder = try TemporaryDirectory("read-ahead")
        defer { folder.remove() }
        let warehouse = try SQLiteWarehouse(path: folder.path + "/warehouse.sqlite")
        try await warehouse.migrate()
        let store = GatedStore()
        var keys: [String] = []
        for minute in 0..<40 {
            keys.append(
                try await TransformerResilienceTests.put(
                    store.base, capturedAt: TransformerResilienceTests.yesterday + Int64(minute) * 60_000))
        }
        let clock = ManualClock(TransformerResilienceTests.noon)
        #expect(Transformer(lake: store, warehouse: warehouse, clock: clock.reader, logger: Logger(label: "test")).readAhead == 64)
        let transformer = Transformer(lake: store, warehouse: warehouse, clock: clock.reader, readAhead: 16, logger: Logger(label: "test"))
        async let pass = transformer.transformPending()
        // Every read waits at the gate: the pass reaches 16 waiting reads only if it reads that far ahead. (The 180 s
        // bound only turns a pass that never gets there into a failure instead of a hang; a loaded machine is slow.)
        let reached = await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await store.waitForReads(16)
                return true
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(180))
                return false
            }
            let first = await group.next() ?? false
            store.stopWaiting()
            group.cancelAll()
            return first
        }
        #expect(reached, "the pass never had 16 reads in flight")
        store.openGate()
        let report = try await pass
        #expect(report.objects == 40 && report.rowsWritten == 40)
        // The read the writer has taken may still be finishing when the window starts the next: 17 at most.
        #expect((16...17).contains(store.mostInFlight), "\(store.mostInFlight) reads at once")
        let loaded = try await warehouse.klines(
            symbol: TransformerResilienceTests.symbol, interval: .oneMinute, from: 0, to: .max, includeOpen: true, limit: nil)
        #expect(loaded.count == 40)
        #expect(try await warehouse.processedObjectKeys(withPrefix: "").sorted() == keys.sorted())
    }

    /// An unreadable object's day is the folder its key names, split at the byte: a name starting with a combining mark
    /// (`"/\u{301}"` is one `Character`) once made the whole key its "day", which then became the resume position.
    @Test func anUnreadableObjectsDayIsItsFolderWhateverItsName() {
        let unreadable = UnreadableObjects()
        let odd = "2024-01-01/\u{301}x.json"
        _ = unreadable.recordFailure(odd, error: .notFound(bucket: "crypto-raw", key: odd), at: 0)
        #expect(UnreadableObjects.day(of: odd) == "2024-01-01/")
        #expect(unreadable.earliestDay == "2024-01-01/")
        unreadable.forget(inDay: "2024-01-01/", after: nil, through: nil, except: [])
        #expect(unreadable.earliestDay == nil)
    }

    @Test func theWindowKeepsItsCountAndByteBudgetButAlwaysReadsOne() async {
        let keys = (0..<6).map { "k\($0)" }
        let sizes = ["k0": 40, "k1": 40, "k2": 40, "k3": 500, "k4": 10, "k5": 10]
        var reads = Transformer.ReadAhead(keys: keys, sizes: sizes, depth: 16, byteBudget: 100) { key in .vanished(key: key) }
        var order: [String] = []
        var windows: [(started: Int, waiting: Int, bytes: Int)] = []
        while let task = reads.next() {
            windows.append((reads.started, reads.waiting, reads.bytesInFlight))
            if case .vanished(let key) = await task.value { order.append(key) }
            #expect(reads.bytesInFlight <= 100 || reads.waiting == 1)
        }
        #expect(order == keys)
        // 40 + 40 fit, a third 40 does not; the 500-byte object is read alone.
        #expect(windows.map(\.started) == [3, 3, 4, 6, 6, 6])
        #expect(windows.map(\.waiting) == [2, 1, 1, 2, 1, 0])
        var deep = Transformer.ReadAhead(keys: (0..<40).map { "k\($0)" }, sizes: [:], depth: 16, byteBudget: 100) { .vanished(key: $0) }
        _ = deep.next()
        #expect(deep.started == 17 && deep.waiting == 16)
        deep.cancel()
    }

    /// Listed sizes are outside input: sizes near `Int.max` are read one at a time without overflowing the count.
    @Test func hugeListedSizesAreReadOneAtATime() async {
        let keys = ["a", "b", "c"]
        var reads = Transformer.ReadAhead(keys: keys, sizes: ["a": .max, "b": .max, "c": 1], depth: 16, byteBudget: 100) {
            .vanished(key: $0)
        }
        var order: [String] = []
        while let task = reads.next() {
            #expect(reads.waiting <= 1)
            if case .vanished(let key) = await task.value { order.append(key) }
        }
        #expect(order == keys)
    }
}
