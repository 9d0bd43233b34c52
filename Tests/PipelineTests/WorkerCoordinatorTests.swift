import Foundation
import Logging
import MarketData
import Pipeline
import PipelineTesting
import Synchronization
import Testing
import Warehouse

/// Several workers on one warehouse, each balancing by hand on a shared manual clock: shares, takeover after a death,
/// hand-back on a graceful stop, rolling restarts and the singleton lease.
struct WorkerCoordinatorTests {
    static let symbols = ["ADAUSDT", "BNBUSDT", "BTCUSDT", "DOGEUSDT", "DOTUSDT", "ETHUSDT", "LTCUSDT", "SOLUSDT", "TRXUSDT", "XRPUSDT"]
        .compactMap { try? Symbol($0) }

    struct Fixture {
        let folder: TemporaryDirectory
        let warehouse: SQLiteWarehouse
        let clock = ManualClock(1_795_597_200_000)
        let registry: SymbolRegistry

        init(symbols: [Symbol] = WorkerCoordinatorTests.symbols) async throws {
            folder = try TemporaryDirectory("workers")
            warehouse = try SQLiteWarehouse(path: folder.path + "/w.sqlite")
            try await warehouse.migrate()
            registry = SymbolRegistry(warehouse: warehouse, seed: symbols)
            _ = try await registry.symbols()
        }

        func worker(_ id: String, leaseSeconds: Int64 = 15) -> WorkerCoordinator {
            WorkerCoordinator(
                configuration: .init(workerID: id, host: "test", processID: 1, leaseMilliseconds: leaseSeconds * 1_000),
                store: warehouse, registry: SymbolRegistry(warehouse: warehouse, seed: []), clock: clock.reader,
                logger: Logger(label: "test"))
        }

        /// Every tracked symbol's owner, from the warehouse, at the clock's time.
        func owners() async throws -> [String: String] {
            let now = clock.now
            var owners: [String: String] = [:]
            for lease in try await warehouse.leases() where lease.name.hasPrefix(LeaseName.symbolPrefix) && !lease.isFree(at: now) {
                owners[String(lease.name.dropFirst(LeaseName.symbolPrefix.count))] = lease.holder
            }
            return owners
        }

        /// Balances every worker in turn, `rounds` times, a second of clock apart.
        func rounds(_ rounds: Int, _ workers: [WorkerCoordinator]) async throws {
            for _ in 0..<rounds {
                for worker in workers { try await worker.balance() }
                clock.advance(milliseconds: 1_000)
            }
        }

        func shares(_ workers: [WorkerCoordinator]) async throws -> [Int] {
            var shares: [Int] = []
            for worker in workers { shares.append(try await worker.symbols().count) }
            return shares
        }

        func remove() { folder.remove() }
    }

    @Test func workersSplitTheSymbolsWithinOneAndEverySymbolHasOneOwner() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let a = fixture.worker("a")
        try await fixture.rounds(1, [a])
        #expect(try await a.symbols() == Self.symbols, "alone, a worker holds every symbol")
        let b = fixture.worker("b")
        let c = fixture.worker("c")
        // Joining: the others free their surplus on their next round, the newcomers take it on theirs.
        try await fixture.rounds(2, [a, b, c])
        #expect(try await fixture.shares([a, b, c]) == [4, 3, 3])
        let owners = try await fixture.owners()
        #expect(owners.count == Self.symbols.count, "every symbol has an owner: \(owners)")
        var union: [Symbol] = []
        for worker in [a, b, c] { union += try await worker.symbols() }
        #expect(union.sorted() == Self.symbols, "no symbol is held twice")
        // A symbol tracked later goes to the worker whose share grew; one removed is freed.
        // As another process's Settings page saves them.
        let changed = Self.symbols.filter { $0.rawValue != "BTCUSDT" }.map(\.rawValue) + ["AVAXUSDT"]
        try await fixture.warehouse.saveSetting(SymbolRegistry.settingKey, value: changed.joined(separator: ","), at: fixture.clock.now)
        try await fixture.rounds(2, [a, b, c])
        let after = try await fixture.owners()
        #expect(after["AVAXUSDT"] != nil && after["BTCUSDT"] == nil && after.count == Self.symbols.count, "\(after)")
        #expect(try await fixture.shares([a, b, c]) == [4, 3, 3])
    }

    @Test func aDeadWorkersSymbolsAreTakenOnceItsLeasesExpire() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let (a, b, c) = (fixture.worker("a"), fixture.worker("b"), fixture.worker("c"))
        try await fixture.rounds(3, [a, b, c])
        let aHeld = try await a.symbols()
        #expect(aHeld.count == 4)
        // a stops renewing (kill -9). Within the lease its symbols stay its own.
        try await fixture.rounds(14, [b, c])
        #expect(try await fixture.owners().filter { $0.value == "a" }.count == 4, "a's leases last 15 s")
        #expect(try await a.symbols().isEmpty, "a, not renewed for 15 s, no longer claims them")
        try await fixture.rounds(2, [b, c])
        let owners = try await fixture.owners()
        #expect(owners.count == Self.symbols.count && !owners.values.contains("a"), "taken over: \(owners)")
        #expect(try await fixture.shares([b, c]) == [5, 5])
    }

    @Test func aStoppedWorkerHandsItsSymbolsBackAtOnceAndRollingRestartsLeaveNoSymbolUnowned() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        var workers = [fixture.worker("a"), fixture.worker("b"), fixture.worker("c")]
        try await fixture.rounds(2, workers)
        for index in workers.indices {
            // SIGTERM: the worker frees its leases; the others take them on their next round, no clock time passing.
            await workers[index].stop()
            let survivors = workers.enumerated().filter { $0.offset != index }.map(\.element)
            for survivor in survivors { try await survivor.balance() }
            let owners = try await fixture.owners()
            #expect(owners.count == Self.symbols.count, "restart \(index): every symbol owned right after the stop: \(owners)")
            // The restarted process (a new id, as host-pid gives) joins and gets its share back.
            workers[index] = fixture.worker("restarted-\(index)")
            try await fixture.rounds(2, workers)
            #expect(try await fixture.owners().count == Self.symbols.count)
            #expect(Set(try await fixture.shares(workers)) == [3, 4], "restart \(index): balanced again")
        }
        #expect(try await fixture.warehouse.workers().map(\.id).sorted() == ["restarted-0", "restarted-1", "restarted-2"])
    }

    @Test func singletonWorkRunsOnOneWorkerAtATime() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let (a, b) = (fixture.worker("a"), fixture.worker("b"))
        let inside = try await a.exclusively("transform", waitingUpTo: .zero) {
            // While a holds it, b is refused.
            try await b.exclusively("transform", waitingUpTo: .zero) { true }
        }
        #expect(inside == .some(nil), "b did not get the lease while a held it")
        #expect(try await b.exclusively("transform", waitingUpTo: .zero) { 7 } == 7, "released after a's work")
        // A lost lease cancels the work: a holds it, its lease expires unrenewed, b takes it, a's next round notices.
        let started = Mutex(false)
        let work = Task {
            try await a.exclusively("gap-fill", waitingUpTo: .zero) {
                started.withLock { $0 = true }
                try await Task.sleep(for: .seconds(600))
                return 1
            }
        }
        try await eventually { started.withLock { $0 } }
        fixture.clock.advance(milliseconds: 16_000)
        #expect(try await b.exclusively("gap-fill", waitingUpTo: .zero) { 2 } == 2)
        try await a.balance()
        await #expect(throws: CancellationError.self) { try await work.value }
    }

    @Test func aSharedJobAnotherWorkerRanIsNotRunAgainUntilItIsDueAgain() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let runs = Mutex<[String]>([])
        func scheduler(_ worker: String) -> JobScheduler {
            let job = ScheduledJob(name: "gap-fill", defaultSchedule: .every(seconds: 3_600), shared: true) {
                runs.withLock { $0.append(worker) }
                return JobRunOutcome(status: .succeeded)
            }
            return JobScheduler(
                jobs: [job], warehouse: fixture.warehouse, clock: fixture.clock.reader, configuration: .init(workerID: worker),
                logger: Logger(label: "test"))
        }
        let (a, b) = (scheduler("a"), scheduler("b"))
        // b read the last runs before a ran the job: by its own record the job is due.
        try await b.prepare()
        let runA = Task { try await a.run() }
        defer { runA.cancel() }
        try await eventually { try await a.state("gap-fill").lastRun?.status == .succeeded }
        let runB = Task { try await b.run() }
        defer { runB.cancel() }
        try await eventually { try await b.state("gap-fill").lastRun?.worker == "a" }
        #expect(runs.withLock { $0 } == ["a"], "b took a's run as its last and did not run the job")
        #expect(try await b.state("gap-fill").nextRunAt == (try await a.state("gap-fill").lastRun?.startedAt ?? 0) + 3_600_000)
    }

    @Test func workersFollowEachOthersScheduleChangesButEachKeepsItsOwnExtractionRuns() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        func scheduler(_ worker: String) -> JobScheduler {
            let jobs = [
                ScheduledJob(name: "extract-transform", defaultSchedule: .every(seconds: 60)) { JobRunOutcome(status: .succeeded) },
                ScheduledJob(name: "gap-fill", defaultSchedule: .every(seconds: 3_600), shared: true) { JobRunOutcome(status: .succeeded) },
            ]
            return JobScheduler(
                jobs: jobs, warehouse: fixture.warehouse, clock: fixture.clock.reader, configuration: .init(workerID: worker),
                logger: Logger(label: "test"))
        }
        let (a, b) = (scheduler("a"), scheduler("b"))
        try await a.prepare()
        try await b.prepare()
        // a's extraction ran; b, starting later, does not take it for its own (its first extraction is due at once).
        let run = try await fixture.warehouse.startJobRun(job: "extract-transform", trigger: .schedule, at: fixture.clock.now, worker: "a")
        try await fixture.warehouse.finishJobRun(id: run, at: fixture.clock.now, outcome: JobRunOutcome(status: .succeeded))
        let late = scheduler("b")
        try await late.prepare()
        #expect(try await late.state("extract-transform").lastRun == nil)
        #expect(try await late.state("extract-transform").nextRunAt == fixture.clock.now)
        // A change saved through a's API reaches b when b next reads the saved schedules.
        fixture.clock.advance(milliseconds: 1_000)
        _ = try await a.setEnabled("gap-fill", false)
        _ = try await a.setSchedule("extract-transform", .every(seconds: 120))
        #expect(try await b.state("gap-fill").enabled)
        await b.followSavedSchedules()
        #expect(try await b.state("gap-fill").enabled == false)
        #expect(try await b.state("extract-transform").schedule == .every(seconds: 120))
    }

    @Test func twoCallersInOneWorkerTakeTurnsAtASingleton() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let a = fixture.worker("a")
        // While a's flush transforms, a's gap fill asking for the same lease is refused (not run alongside), and the
        // lease stays a's until the first caller ends.
        let inner = try await a.exclusively("transform", waitingUpTo: .zero) {
            let second = try await a.exclusively("transform", waitingUpTo: .zero) { true }
            let holder = try await fixture.warehouse.leases().first { $0.name == "job/transform" }?.holder
            return (second, holder)
        }
        #expect(inner?.0 == nil && inner?.1 == "a")
        #expect(try await fixture.warehouse.leases().first { $0.name == "job/transform" }?.holder == "", "freed once")
    }

    @Test func aSecondProcessWithTheSameWorkerIDIsStopped() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        func worker(pid: Int64) -> WorkerCoordinator {
            WorkerCoordinator(
                configuration: .init(workerID: "same", host: "test", processID: pid), store: fixture.warehouse,
                registry: SymbolRegistry(warehouse: fixture.warehouse, seed: []), clock: fixture.clock.reader, logger: Logger(label: "test")
            )
        }
        let older = worker(pid: 1)
        try await older.balance()
        fixture.clock.advance(milliseconds: 10)
        let newer = worker(pid: 2)
        try await newer.balance()
        try await older.balance()
        await #expect(throws: PipelineError.self) { try await newer.balance() }
        try await older.balance()
    }

    @Test func aSharedJobHeldByAnotherWorkerIsNotRunAndNoRunIsRecorded() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let (a, b) = (fixture.worker("a"), fixture.worker("b"))
        let runs = Mutex(0)
        let job = ScheduledJob(name: "gap-fill", defaultSchedule: .every(seconds: 3_600), shared: true) {
            runs.withLock { $0 += 1 }
            return JobRunOutcome(status: .succeeded)
        }
        let scheduler = JobScheduler(
            jobs: [job], warehouse: fixture.warehouse, clock: fixture.clock.reader, configuration: .init(workerID: "b", gate: b),
            logger: Logger(label: "test"))
        // a runs the gap fill (holding its lease) while b's scheduler finds it due.
        _ = try await a.exclusively("gap-fill", waitingUpTo: .zero) {
            let running = Task { try await scheduler.run() }
            defer { running.cancel() }
            try await eventually {
                let passed = await scheduler.lastPassAt != nil
                let running = try await scheduler.state("gap-fill").running
                return passed && !running
            }
            return true
        }
        #expect(runs.withLock { $0 } == 0)
        #expect(try await fixture.warehouse.jobRuns(JobRunQuery()).total == 0, "no run recorded for a job not run")
    }

    @Test func streamStatesOfWorkersAreMergedAndStaleOnesForgotten() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let now = fixture.clock.now
        func state(_ symbol: String, at time: Int64, connections: Int) throws -> StreamStatus {
            StreamStatus(
                streamURL: "ws://x", updatedAt: time, connections: connections, flushes: 1, lagP50Milliseconds: 100,
                lagP95Milliseconds: 200, malformedMessages: 0,
                symbols: [
                    .init(
                        symbol: try Symbol(symbol), connected: true, lastEvent: time, bookSynced: true, bookUpdateId: 1, rebuilds: 0,
                        repairs: 0, lastWritten: nil)
                ])
        }
        try await state("BTCUSDT", at: now, connections: 1).save(to: fixture.warehouse, worker: "a")
        try await state("ETHUSDT", at: now - 60_000, connections: 2).save(to: fixture.warehouse, worker: "b")
        try await state("XRPUSDT", at: now - 2 * 86_400_000, connections: 4).save(to: fixture.warehouse, worker: "gone")
        let merged = try #require(try await StreamStatus.load(from: fixture.warehouse))
        #expect(merged.symbols.map(\.symbol.rawValue) == ["BTCUSDT", "ETHUSDT"] && merged.connections == 3, "\(merged)")
        try await StreamStatus.forgetStale(in: fixture.warehouse, keeping: "a", at: now)
        #expect(try await fixture.warehouse.settings(withPrefix: "stream.status/").keys.sorted() == ["stream.status/a", "stream.status/b"])
    }

    @Test func singletonWorkWhoseLeaseWentUnrenewedIsCancelledAndOthersAreNot() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let a = fixture.worker("a")
        let started = StartCount()
        /// Singleton work that counts its start and then runs until it is cancelled.
        func sleeping(_ job: String) -> Task<Int?, any Error> {
            Task {
                try await a.exclusively(job, waitingUpTo: .zero) {
                    started.count.withLock { $0 += 1 }
                    try await Task.sleep(for: .seconds(600))
                    return 1
                }
            }
        }
        let old = sleeping("gap-fill")
        try await eventually { started.count.withLock { $0 } == 1 }
        // 13 s unrenewed (over four fifths of the 15 s lease) for gap-fill; a transform starting now is fresh.
        fixture.clock.advance(milliseconds: 13_000)
        let fresh = sleeping("transform")
        try await eventually { started.count.withLock { $0 } == 2 }
        await a.cancelUnrenewedSingletons()
        await #expect(throws: CancellationError.self) { try await old.value }
        fresh.cancel()
        await #expect(throws: CancellationError.self) { try await fresh.value }
    }

    /// (SQLite's checks refuse a weekday outside 0-6; an interval it stores.)
    @Test func storedSchedulesOutsideTheAllowedRangesAreIgnored() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        try await fixture.warehouse.saveJobSchedule(
            StoredJobSchedule(job: "gap-fill", enabled: true, intervalSeconds: .max, weekday: nil, minuteOfDay: nil, updatedAt: 1))
        let jobs = [
            ScheduledJob(name: "gap-fill", defaultSchedule: .every(seconds: 3_600)) { JobRunOutcome(status: .succeeded) }
        ]
        let scheduler = JobScheduler(
            jobs: jobs, warehouse: fixture.warehouse, clock: fixture.clock.reader, configuration: .init(workerID: "a"),
            logger: Logger(label: "test"))
        try await scheduler.prepare()
        #expect(try await scheduler.state("gap-fill").schedule == .every(seconds: 3_600))
        #expect(try await scheduler.state("gap-fill").nextRunAt != nil)
    }
}

/// Bodies started, counted across tasks.
final class StartCount: Sendable {
    let count = Mutex(0)
}
