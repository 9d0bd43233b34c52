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
    /// Singleton work running under a lease, by lease name: how to cancel it when the lease is lost.
    private var singletons: [String: @Sendable () -> Void] = [:]
    private var stopped = false
    /// Rounds done (a test hook).
    public private(set) var rounds = 0

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
    /// may have expired without a renewal.
    public func symbols() async throws(PipelineError) -> [Symbol] {
        if confirmedAt == nil, !stopped { try await balance() }
        guard let confirmedAt, clock.now() - confirmedAt < configuration.leaseMilliseconds else { return [] }
        return owned
    }

    /// Which of `live` (sorted worker ids) gets how many of `symbols`: `symbols / live.count`, the first
    /// `symbols % live.count` workers one more. A worker missing from `live` gets everything it can (it is alone in
    /// its own view).
    static func share(of workerID: String, live: [String], symbols: Int) -> Int {
        guard let index = live.firstIndex(of: workerID), !live.isEmpty else { return symbols }
        return symbols / live.count + (index < symbols % live.count ? 1 : 0)
    }

    /// One round: heartbeat, renewal, balance.
    public func balance() async throws(PipelineError) {
        guard !stopped else { return }
        let me = configuration.workerID
        let lease = configuration.leaseMilliseconds
        do {
            let now = clock.now()
            try await store.heartbeat(
                WorkerRecord(
                    id: me, host: configuration.host, processID: configuration.processID, startedAt: startedAt, heartbeatAt: now,
                    leaseMilliseconds: lease),
                forgetBefore: now - 86_400_000)
            let tracked = try await registry.refreshed()
            let trackedNames = Set(tracked.map { LeaseName.symbol($0.rawValue) })
            let live = try await store.workers().filter { $0.isLive(at: now) }.map(\.id).sorted()
            let leases = try await store.leases()
            let mine = leases.filter { $0.holder == me }.map(\.name)
            let held = try await store.renewLeases(mine + singletons.keys, holder: me, at: now, milliseconds: lease)
            for (name, cancel) in singletons where !held.contains(name) {
                logger.warning("worker: a singleton lease was lost; its work is cancelled", metadata: ["lease": "\(name)"])
                cancel()
            }
            var symbolLeases = held.filter { $0.hasPrefix(LeaseName.symbolPrefix) }
            var release = symbolLeases.subtracting(trackedNames)
            symbolLeases.subtract(release)
            let share = Self.share(of: me, live: live, symbols: tracked.count)
            if symbolLeases.count > share {
                let extra = symbolLeases.sorted().suffix(symbolLeases.count - share)
                release.formUnion(extra)
                symbolLeases.subtract(extra)
            }
            if !release.isEmpty { try await store.releaseLeases(release.sorted(), holder: me) }
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
            confirmedAt = now
            rounds += 1
        } catch let error as PipelineError {
            throw error
        } catch let error as WarehouseError {
            throw .warehouse(error)
        } catch {
            throw .warehouse(WarehouseError(.failed, operation: "balance the workers' leases", detail: "\(error)"))
        }
    }

    public func run() async throws {
        logger.notice(
            "worker started",
            metadata: ["worker": "\(configuration.workerID)", "lease_seconds": "\(configuration.leaseMilliseconds / 1_000)"])
        let interval = configuration.renewInterval
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await self.balance()
                } catch {
                    self.logger.warning("worker: renewing the leases failed; retrying", metadata: ["error": "\(error)"])
                }
                do { try await self.clock.sleep(for: interval) } catch { return }
            }
        }
        await stop()
    }

    /// Frees every lease and removes the worker's row, so the others take its symbols on their next round.
    public func stop() async {
        guard !stopped else { return }
        stopped = true
        owned = []
        // Singleton work still running keeps its lease: its own end frees it.
        do {
            let symbols = try await store.leases().filter { $0.holder == configuration.workerID && !singletons.keys.contains($0.name) }
            try await store.releaseLeases(symbols.map(\.name), holder: configuration.workerID)
            if singletons.isEmpty { try await store.removeWorker(id: configuration.workerID) }
            logger.notice("worker stopped; its leases are free", metadata: ["symbols": "\(symbols.count)"])
        } catch {
            logger.warning("worker: freeing the leases failed; they expire on their own", metadata: ["error": "\(error)"])
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
            let now = clock.now()
            if try await store.acquireLeases([name], holder: me, at: now, milliseconds: configuration.leaseMilliseconds).contains(name) {
                break
            }
            guard now < deadline else { return nil }
            try await clock.sleep(for: .milliseconds(min(250, deadline - now)))
        }
        let task = Task { try await body() }
        singletons[name] = { task.cancel() }
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
        singletons[name] = nil
        do {
            try await store.releaseLeases([name], holder: me)
            if stopped, singletons.isEmpty { try await store.removeWorker(id: me) }
        } catch {
            logger.warning(
                "worker: freeing a singleton lease failed; it expires on its own", metadata: ["lease": "\(name)", "error": "\(error)"])
        }
        return try result.get()
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
