import Logging
import MarketData
import Pipeline
import PipelineTesting
import Testing
import Warehouse

/// Workers on one warehouse splitting ten symbols and the singleton jobs by leases, on a manual clock: balanced within
/// one symbol, never a symbol with two owners, a stopped worker's share taken at the next renewal and a dead one's once
/// its leases expire.
struct WorkerCoordinatorTests {
    static let symbols = (0..<10).map { try! Symbol("SYM\($0)USDT") }
    static let start: Int64 = 1_795_597_200_000

    struct Cluster {
        let folder: TemporaryDirectory
        let warehouse: SQLiteWarehouse
        let clock = ManualClock(WorkerCoordinatorTests.start)
        var workers: [WorkerCoordinator] = []

        init(_ ids: [String]) async throws {
            folder = try TemporaryDirectory("workers")
            warehouse = try SQLiteWarehouse(path: folder.path + "/w.sqlite")
            try await warehouse.migrate()
            for id in ids { workers.append(worker(id)) }
        }

        func worker(_ id: String) -> WorkerCoordinator {
            WorkerCoordinator(
                configuration: .init(workerID: id, leaseMilliseconds: 15_000), store: warehouse,
                symbols: SymbolRegistry(warehouse: warehouse, seed: WorkerCoordinatorTests.symbols, clock: clock.reader),
                clock: clock.reader, logger: Logger(label: "workers"))
        }

        /// One renewal period: each worker renews in turn, then the clock moves on by a renewal interval.
        func round(_ workers: [WorkerCoordinator]) async {
            for worker in workers { await worker.balance() }
            clock.advance(milliseconds: 5_000)
        }

        /// Each worker's symbols; no symbol has two owners, and one worker at most runs the singleton jobs.
        func shares(_ workers: [WorkerCoordinator]) async -> [Int] {
            var all: [Symbol] = []
            var counts: [Int] = []
            for worker in workers {
                let owned = await worker.ownedSymbols()
                all += owned
                counts.append(owned.count)
            }
            #expect(all.count == Set(all).count, "a symbol with two owners")
            #expect(workers.count { $0.assignment.runsSingletonJobs } <= 1, "two workers run the singleton jobs")
            return counts
        }
    }

    @Test func workersSplitTheSymbolsEvenlyAndTakeOverFromOnesThatStopOrDie() async throws {
        let cluster = try await Cluster(["w1", "w2", "w3"])
        defer { cluster.folder.remove() }
        let (w1, w2, w3) = (cluster.workers[0], cluster.workers[1], cluster.workers[2])
        // The first alone takes everything; once all three beat, the surplus moves and the split is 4, 3, 3.
        await cluster.round([w1])
        #expect(await cluster.shares([w1]) == [10] && w1.assignment.runsSingletonJobs)
        for _ in 0..<3 { await cluster.round([w1, w2, w3]) }
        #expect(await cluster.shares([w1, w2, w3]) == [4, 3, 3])
        #expect(w1.assignment.filter(Self.symbols).count == 4 && w2.assignment.filter(Self.symbols).count == 3)
        #expect(w1.assignment.runsSingletonJobs && !w2.assignment.runsSingletonJobs)

        // w1 stops cleanly: its symbols and the singleton jobs go to the others at their next renewal.
        await w1.retire()
        #expect(w1.assignment.filter(Self.symbols).isEmpty && !w1.assignment.runsSingletonJobs)
        await cluster.round([w2, w3])
        #expect(await cluster.shares([w2, w3]) == [5, 5])
        #expect(w2.assignment.runsSingletonJobs != w3.assignment.runsSingletonJobs)

        // w3 dies (no renewal, no goodbye): w2 keeps its five until w3's leases expire, then takes all ten.
        await cluster.round([w2])
        #expect(await cluster.shares([w2]) == [5])
        for _ in 0..<3 { await cluster.round([w2]) }
        #expect(await cluster.shares([w2]) == [10] && w2.assignment.runsSingletonJobs)

        // A worker that joins gets its share at the renewals after it first beats.
        let w4 = cluster.worker("w4")
        for _ in 0..<2 { await cluster.round([w2, w4]) }
        #expect(await cluster.shares([w2, w4]) == [5, 5])
    }

    @Test func aWorkerThatHasNotRenewedCollectsNothing() async throws {
        let cluster = try await Cluster(["w1"])
        defer { cluster.folder.remove() }
        let worker = cluster.workers[0]
        // Before its first renewal it may own nothing (another worker may own everything).
        #expect(worker.assignment.filter(Self.symbols).isEmpty && !worker.assignment.runsSingletonJobs)
        await worker.balance()
        #expect(worker.assignment.filter(Self.symbols) == Self.symbols)
        // A process that is not one of several workers does everything without leases.
        #expect(WorkAssignment().filter(Self.symbols) == Self.symbols && WorkAssignment().runsSingletonJobs)
    }
}
