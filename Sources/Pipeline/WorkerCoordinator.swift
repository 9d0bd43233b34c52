public import Logging
public import MarketData
public import ServiceLifecycle
import Synchronization
public import Warehouse

/// Where the symbols a collector works on come from: all tracked symbols (``SymbolRegistry``) or this worker's share
/// of them (``WorkerCoordinator``).
public protocol SymbolSource: Sendable {
    func symbols() async throws(PipelineError) -> [Symbol]
}

extension SymbolRegistry: SymbolSource {}

/// Work only one worker may do at a time, under a lease (``WorkerCoordinator``): the transform, so no object is loaded
/// by two processes at once.
public protocol SingletonGate: Sendable {
    /// Runs `body` while this worker holds the lease of `job`, waiting up to `wait` for another holder to let go;
    /// `nil` when it did not. `body` is cancelled if the lease is lost while it runs.
    func exclusively<T: Sendable>(
        _ job: String, waitingUpTo wait: Duration, _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T?
}

/// One `cryptopipe run` among several on a shared warehouse: it splits the tracked symbols with the other live workers
/// through leases in the warehouse, and runs singleton work under a lease.
///
/// Every `renewInterval` (a fifth of the lease) it writes its heartbeat, renews its leases, and balances: the live
/// workers (heartbeat within their lease), sorted by id, each get `n / w` symbols and the first `n % w` one more; a
/// worker above its share frees the rest, one below takes free or expired leases. So every tracked symbol has one
/// owner, shares differ by at most one, a new worker gets its share within two rounds, and the symbols of a worker
/// that died are taken once its leases expire. The new owner starts from the symbol's state in the warehouse
/// (`extraction_metadata`), so the minutes missed meanwhile are fetched. On graceful shutdown it frees everything at
/// once. A worker that cannot reach the warehouse to renew stops claiming its symbols when their leases would have
/// expired, since others may have them by then.
public actor WorkerCoordinator: Service, SymbolSource, SingletonGate {
    public struct Configuration: Sendable {
        public var workerID: String
        public var host: String
        public var processID: Int64
        public var leaseMilliseconds: Int64

        public init(workerID: String, host: String, processID: Int64, leaseMilliseconds: Int64 = 15_000) {
            self.workerID = workerID
            self.host = host
            self.processID = processID
            self.leaseMilliseconds = max(1_000, leaseMilliseconds)
        }

        /// How often leases are renewed and shares balanced: five times a lease.
        public var renewInterval: Duration { .milliseconds(leaseMilliseconds / 5) }
    }

    public let configuration: Configuration
    let store: any LeaseStore
    let registry: SymbolRegistry
    let clock: PipelineClock
    let logger: Logger
    let startedAt: Int64
    /// The symbols this worker holds, in symbol order, and when the warehouse last confirmed them.
    private var owned: [Symbol] = []
    private var confirmedAt: Int64?
    /// Whether the last round saw no other live worker: alone, a worker keeps its symbols through a warehouse outage,
    /// since nobody else would take them.
    private var alone = true
    /// Singleton work running under a lease, by lease name: a token (so a later holder is never cancelled for an
    /// earlier one's loss), how to cancel it, when its lease was last renewed, and whether it ended and its lease is
    /// being freed (the entry stays until then, so another caller here cannot take the lease while it is freed).
    private var singletons: [String: Singleton] = [:]
    private struct Singleton {
        var token: Int
        var cancel: @Sendable () -> Void
        var confirmedAt: Int64
        var releasing = false
    }
    /// Job leases held with no work behind them, being freed by a round: not to be taken here meanwhile.
    private var freeing: Set<String> = []
    private var nextToken = 0
    /// Job leases being taken by ``exclusively(_:waitingUpTo:_:)`` right now: held in the warehouse, not yet registered.
    private var acquiring: [String: Int] = [:]
    private var stopped = false
    /// The round in progress: rounds never overlap, a caller arriving during one waits for it.
    private var round: Task<Void, any Error>?
    /// Rounds done (a test hook).
    public private(set) var rounds = 0
    private var lastHeartbeat: Int64?
    /// Set when another process uses this worker id and started earlier: this one must stop.
    private var conflict: WorkerIDConflict?

    public init(
        configuration: Configuration, store: any LeaseStore, registry: SymbolRegistry, clock: PipelineClock = .system, logger: Logger
    ) {
        self.configuration = configuration
        self.store = store
        self.registry = registry
        self.clock = clock
        self.logger = logger
        self.startedAt = clock.now()
    }

    public var workerID: String { configuration.workerID }

    /// This worker's share of the tracked symbols; before the first round, a round is done first. Empty once the leases
    /// may have expired without a renewal, unless the worker was alone.
    public func symbols() async throws(PipelineError) -> [Symbol] {
        if confirmedAt == nil, !stopped { try await balance() }
        guard let confirmedAt else { return [] }
        let (age, overflow) = clock.now().subtractingReportingOverflow(confirmedAt)
        guard alone || (!overflow && age < configuration.leaseMilliseconds) else { return [] }
        return owned
    }

    /// Which of `live` (sorted worker ids) gets how many of `symbols`: `symbols / live.count`, the first
    /// `symbols % live.count` workers one more. A worker missing from `live` gets everything it can (it is alone in
    /// its own view).
    static func share(of workerID: String, live: [String], symbols: Int) -> Int {
        guard let index = live.firstIndex(of: workerID), !live.isEmpty else { return symbols }
        return symbols / live.count + (index < symbols % live.count ? 1 : 0)
    }

    /// One round: heartbeat, renewal, balance. One at a time: a call during a round waits for that round.
    public func balance() async throws(PipelineError) {
        guard !stopped else { return }
        let task: Task<Void, any Error>
        if let round {
            task = round
        } else {
            task = Task { try await self.balanceRound() }
            round = task
        }
        defer { if round == task { round = nil } }
        do {
            try await withTaskCancellationHandler {
                try await task.value
            } onCancel: {
                task.cancel()
            }
        } catch let error as PipelineError {
            throw error
        } catch let error as WarehouseError {
            throw .warehouse(error)
        } catch {
            throw .warehouse(WarehouseError(.failed, operation: "balance the workers' leases", detail: "\(error)"))
        }
    }

    private func balanceRound() async throws {
        let me = configuration.workerID
        let lease = configuration.leaseMilliseconds
        let now = clock.now()
        let workers = try await store.workers()
        // The row is ours since our last heartbeat unless another process with this id wrote it meanwhile; the two would
        // share every lease: the one that started later stops (a row left by a crashed predecessor is simply taken over
        // on the first round).
        if lastHeartbeat != nil,
            let twin = workers.first(where: {
                $0.id == me && ($0.processID != configuration.processID || $0.startedAt != startedAt)
            }), (twin.startedAt, twin.processID) < (startedAt, configuration.processID)
        {
            let found = WorkerIDConflict(workerID: me, processID: twin.processID, host: twin.host)
            conflict = found
            // Nothing more is collected or taken under an id another process holds.
            stopped = true
            owned = []
            throw found
        }
        try await store.heartbeat(
            WorkerRecord(
                id: me, host: configuration.host, processID: configuration.processID, startedAt: startedAt, heartbeatAt: now,
                leaseMilliseconds: lease),
            forgetBefore: now - 86_400_000)
        lastHeartbeat = now
        let tracked = try await registry.refreshed()
        let trackedNames = Set(tracked.map { LeaseName.symbol($0.rawValue) })
        let live = Set(workers.filter { $0.isLive(at: now) && $0.id != me }.map(\.id) + [me]).sorted()
        let leases = try await store.leases()
        // Symbol leases, and the singletons running now; a job lease held with no work behind it is freed below.
        let running = singletons
        let mine = leases.filter { $0.holder == me && $0.name.hasPrefix(LeaseName.symbolPrefix) }.map(\.name)
        let renewing = running.filter { !$0.value.releasing }
        let held = try await store.renewLeases(mine + renewing.keys, holder: me, at: now, milliseconds: lease)
        for (name, entry) in renewing where singletons[name]?.token == entry.token {
            if held.contains(name) {
                singletons[name]?.confirmedAt = now
            } else if singletons[name]?.releasing == false {
                logger.warning("worker: a singleton lease was lost; its work is cancelled", metadata: ["lease": "\(name)"])
                entry.cancel()
            }
        }
        // Decided now, with no await since: a job lease no work here holds, is taking or is freeing.
        let orphans = leases.filter {
            $0.holder == me && $0.name.hasPrefix(LeaseName.jobPrefix) && singletons[$0.name] == nil && acquiring[$0.name] == nil
                && !freeing.contains($0.name)
        }.map(\.name)
        freeing.formUnion(orphans)
        defer { freeing.subtract(orphans) }
        var symbolLeases = held.filter { $0.hasPrefix(LeaseName.symbolPrefix) }
        var release = symbolLeases.subtracting(trackedNames)
        symbolLeases.subtract(release)
        let share = Self.share(of: me, live: live, symbols: tracked.count)
        if symbolLeases.count > share {
            let extra = symbolLeases.sorted().suffix(symbolLeases.count - share)
            release.formUnion(extra)
            symbolLeases.subtract(extra)
        }
        if !release.isEmpty || !orphans.isEmpty { try await store.releaseLeases(release.sorted() + orphans, holder: me) }
        if symbolLeases.count < share {
            let byName = Dictionary(leases.map { ($0.name, $0) }, uniquingKeysWith: { $1 })
            let free = tracked.map { LeaseName.symbol($0.rawValue) }.filter { name in
                !symbolLeases.contains(name) && (byName[name].map { $0.isFree(at: now) } ?? true)
            }
            let wanted = Array(free.sorted().prefix(share - symbolLeases.count))
            let taken = try await store.acquireLeases(wanted, holder: me, at: now, milliseconds: lease)
            symbolLeases.formUnion(taken)
            if !taken.isEmpty {
                logger.info("worker: took symbols", metadata: ["symbols": "\(taken.sorted().joined(separator: ","))"])
            }
        }
        if !release.isEmpty {
            logger.info("worker: handed symbols back", metadata: ["symbols": "\(release.sorted().joined(separator: ","))"])
        }
        owned = tracked.filter { symbolLeases.contains(LeaseName.symbol($0.rawValue)) }.sorted()
        alone = live.allSatisfy { $0 == me }
        confirmedAt = now
        rounds += 1
    }

    /// Cancels the singleton work whose leases may have run out unrenewed (the warehouse did not answer for most of a
    /// lease), since another worker may take them.
    public func cancelUnrenewedSingletons() {
        let now = clock.now()
        for (name, entry) in singletons where !entry.releasing {
            let (age, overflow) = now.subtractingReportingOverflow(entry.confirmedAt)
            guard overflow || age >= configuration.leaseMilliseconds * 4 / 5 else { continue }
            logger.warning("worker: a singleton lease could not be renewed; its work is cancelled", metadata: ["lease": "\(name)"])
            entry.cancel()
        }
    }

    public func run() async throws {
        logger.notice(
            "worker started",
            metadata: ["worker": "\(configuration.workerID)", "lease_seconds": "\(configuration.leaseMilliseconds / 1_000)"])
        let interval = configuration.renewInterval
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                // The watchdog runs apart from the rounds, which may hang on a warehouse that does not answer.
                group.addTask {
                    while !Task.isCancelled {
                        do { try await self.clock.sleep(for: interval) } catch { return }
                        await self.cancelUnrenewedSingletons()
                    }
                }
                group.addTask {
                    while !Task.isCancelled {
                        do {
                            try await self.balance()
                        } catch {
                            if await self.conflict != nil { return }
                            self.logger.warning("worker: renewing the leases failed; retrying", metadata: ["error": "\(error)"])
                        }
                        do { try await self.clock.sleep(for: interval) } catch { return }
                    }
                }
                await group.next()
                group.cancelAll()
            }
        }
        // The leases under this id are the other process's too: they are left alone.
        if let conflict { throw conflict }
        await stop()
    }

    /// Frees every symbol lease and removes the worker's row, so the others take its symbols on their next round.
    /// Singleton work still running keeps its lease, renewed here until it ends, and frees it itself.
    public func stop() async {
        guard !stopped else { return }
        stopped = true
        owned = []
        let me = configuration.workerID
        do {
            let symbols = try await store.leases().filter { $0.holder == me && singletons[$0.name] == nil }
            try await store.releaseLeases(symbols.map(\.name), holder: me)
            logger.notice("worker stopped; its leases are free", metadata: ["symbols": "\(symbols.count)"])
        } catch {
            logger.warning("worker: freeing the leases failed; they expire on their own", metadata: ["error": "\(error)"])
        }
        while !singletons.isEmpty {
            do {
                let now = clock.now()
                let held = try await store.renewLeases(
                    Array(singletons.keys), holder: me, at: now, milliseconds: configuration.leaseMilliseconds)
                for name in held { singletons[name]?.confirmedAt = now }
                try await clock.sleep(for: configuration.renewInterval)
            } catch {
                // Unrenewed, the work must not go on: another worker may take its lease.
                for entry in singletons.values { entry.cancel() }
                break
            }
        }
        do {
            try await store.removeWorker(id: me)
        } catch {
            logger.warning("worker: removing its row failed; it is forgotten after a day", metadata: ["error": "\(error)"])
        }
    }

    public func exclusively<T: Sendable>(
        _ job: String, waitingUpTo wait: Duration, _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T? {
        let name = LeaseName.job(job)
        let me = configuration.workerID
        let waitMilliseconds = Int64(wait.components.seconds) * 1_000 + Int64(wait.components.attoseconds / 1_000_000_000_000_000)
        let deadline = LeaseRules.expiry(clock.now(), waitMilliseconds)
        while true {
            guard !stopped else { return nil }
            let now = clock.now()
            // One holder in this process too: the lease is this worker's, so a second caller here waits its turn.
            if singletons[name] == nil, !freeing.contains(name) {
                acquiring[name, default: 0] += 1
                let taken: Bool
                do {
                    taken = try await store.acquireLeases([name], holder: me, at: now, milliseconds: configuration.leaseMilliseconds)
                        .contains(name)
                } catch {
                    doneAcquiring(name)
                    throw error
                }
                doneAcquiring(name)
                if taken, stopped {
                    do {
                        try await store.releaseLeases([name], holder: me)
                    } catch {
                        logger.warning("worker: freeing a lease taken while stopping failed; it expires", metadata: ["error": "\(error)"])
                    }
                    return nil
                }
                if taken, singletons[name] == nil { break }
            }
            guard now < deadline else { return nil }
            try await clock.sleep(for: .milliseconds(min(250, deadline - now)))
        }
        nextToken += 1
        let token = nextToken
        let task = Task { try await body() }
        singletons[name] = Singleton(token: token, cancel: { task.cancel() }, confirmedAt: clock.now())
        let result: Result<T, any Error>
        do {
            result = .success(
                try await withTaskCancellationHandler {
                    try await task.value
                } onCancel: {
                    task.cancel()
                })
        } catch {
            result = .failure(error)
        }
        singletons[name]?.releasing = true
        do {
            try await store.releaseLeases([name], holder: me)
        } catch {
            // The next round frees a job lease with no work behind it; failing that, it expires.
            logger.warning("worker: freeing a singleton lease failed", metadata: ["lease": "\(name)", "error": "\(error)"])
        }
        if singletons[name]?.token == token { singletons[name] = nil }
        return try result.get()
    }

    private func doneAcquiring(_ name: String) {
        let left = (acquiring[name] ?? 1) - 1
        acquiring[name] = left > 0 ? left : nil
    }

    /// The workers and leases as `status`, the API and the Pipeline page show them.
    public static func overview(of store: any LeaseStore, at now: Int64) async throws(WarehouseError) -> ClusterOverview {
        let workers = try await store.workers()
        let leases = try await store.leases().filter { !$0.isFree(at: now) }
        return ClusterOverview(
            workers: workers.map { worker in
                ClusterOverview.Worker(
                    record: worker, live: worker.isLive(at: now),
                    symbols: leases.filter { $0.holder == worker.id && $0.name.hasPrefix(LeaseName.symbolPrefix) }.map {
                        ClusterOverview.Held(name: String($0.name.dropFirst(LeaseName.symbolPrefix.count)), lease: $0)
                    },
                    jobs: leases.filter { $0.holder == worker.id && $0.name.hasPrefix(LeaseName.jobPrefix) }.map {
                        ClusterOverview.Held(name: String($0.name.dropFirst(LeaseName.jobPrefix.count)), lease: $0)
                    })
            },
            generatedAt: now)
    }
}

/// Two live processes with one worker id: the later one stops, as both would hold every lease.
public struct WorkerIDConflict: Error, Sendable, CustomStringConvertible {
    public var workerID: String
    public var processID: Int64
    public var host: String

    public var description: String {
        "worker id '\(workerID)' is in use by process \(processID) on \(host): give each run its own --worker-id (or CRYPTOPIPE_WORKER_ID)"
    }
}

/// Who collects what: every worker seen in the last day, the symbols and singleton jobs it holds.
public struct ClusterOverview: Sendable {
    public struct Held: Sendable {
        /// The symbol or job.
        public var name: String
        public var lease: Lease
    }

    public struct Worker: Sendable {
        public var record: WorkerRecord
        /// Renewed within its lease.
        public var live: Bool
        public var symbols: [Held]
        public var jobs: [Held]
    }

    public var workers: [Worker]
    public var generatedAt: Int64
}
