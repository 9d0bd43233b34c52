public import Logging
public import MarketData
public import ServiceLifecycle
import Synchronization
public import Warehouse

/// What this worker may do at the moment, as its ``WorkerCoordinator`` last decided: which symbols it collects and
/// whether it runs the singleton jobs (the transform, gap fill, maintenance). Read synchronously by the collectors and
/// the scheduler.
public final class WorkAssignment: Sendable {
    struct State {
        var symbols: Set<Symbol>?
        var singleton: Bool
    }

    private let state: Mutex<State>

    /// With `everything`, all symbols and the singleton jobs until a coordinator decides (a process alone on its
    /// warehouse needs none); otherwise nothing until then.
    public init(everything: Bool = true) {
        state = Mutex(State(symbols: everything ? nil : [], singleton: everything))
    }

    /// The tracked symbols this worker collects, in their order.
    public func filter(_ tracked: [Symbol]) -> [Symbol] {
        guard let owned = state.withLock({ $0.symbols }) else { return tracked }
        return tracked.filter(owned.contains)
    }

    public func owns(_ symbol: Symbol) -> Bool { state.withLock { $0.symbols?.contains(symbol) ?? true } }

    /// Whether this worker runs the jobs one worker at a time runs.
    public var runsSingletonJobs: Bool { state.withLock { $0.singleton } }

    func update(symbols: Set<Symbol>, singleton: Bool) {
        state.withLock { $0 = State(symbols: symbols, singleton: singleton) }
    }
}

/// Splits the tracked symbols and the singleton jobs between the `run` processes on one warehouse (workers), with
/// leases in the warehouse (``LeaseStore``), so a worker that dies is replaced without a coordinator of its own.
///
/// Every renewal (a third of the lease time): a heartbeat; then each live worker, by its place among the live workers'
/// ids, keeps an even share of the tracked symbols (within one), giving back its surplus when a worker joined and
/// taking free or expired ones up to its share; the singleton lease goes to whoever asks first once it is free. A
/// worker that stops gives its leases back at once; one that dies loses them when they expire, and the others take them
/// at their next renewal. A worker that cannot renew stops collecting before its leases can expire, so two workers
/// never collect one symbol for longer than a renewal.
public actor WorkerCoordinator: Service {
    public struct Configuration: Sendable {
        public var workerID: String
        /// How long a lease lasts without renewal (`--lease-seconds`).
        public var leaseMilliseconds: Int64

        public init(workerID: String, leaseMilliseconds: Int64 = 15_000) {
            self.workerID = workerID
            self.leaseMilliseconds = max(3_000, leaseMilliseconds)
        }

        /// Leases are renewed three times per lease.
        public var renewMilliseconds: Int64 { leaseMilliseconds / 3 }
    }

    public static let singletonLease = "job:singleton"
    static let symbolPrefix = "symbol:"

    public static func symbolLease(_ symbol: Symbol) -> String { symbolPrefix + symbol.rawValue }

    public let configuration: Configuration
    /// Nothing until the first renewal: a worker that cannot reach the warehouse collects nothing another may own.
    public nonisolated let assignment = WorkAssignment(everything: false)
    let store: any LeaseStore
    let registry: SymbolRegistry
    let clock: PipelineClock
    let logger: Logger
    let startedAt: Int64
    /// When the leases were last renewed; `nil` before the first renewal.
    private var renewedAt: Int64?
    private var owned: Set<Symbol> = []
    private var singleton = false
    private var workers: [String] = []

    public init(
        configuration: Configuration, store: any LeaseStore, symbols: SymbolRegistry, clock: PipelineClock = .system, logger: Logger
    ) {
        self.configuration = configuration
        self.store = store
        self.registry = symbols
        self.clock = clock
        self.logger = logger
        startedAt = clock.now()
    }

    public func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                while true {
                    try await self.clock.sleep(for: .milliseconds(self.configuration.renewMilliseconds))
                    await self.balance()
                }
            }
        } catch is CancellationError {
            // Shutting down: the leases go back below.
        }
        await retire()
    }

    /// Gives every lease back and forgets the worker: its symbols and jobs go to the others at their next renewal.
    public func retire() async {
        assignment.update(symbols: [], singleton: false)
        do {
            try await store.retire(worker: configuration.workerID)
            logger.info("worker: leases given back", metadata: ["worker": "\(configuration.workerID)"])
        } catch {
            logger.warning(
                "worker: cannot give the leases back; they expire on their own",
                metadata: ["worker": "\(configuration.workerID)", "error": "\(error)"])
        }
    }

    /// One renewal: heartbeat, this worker's share of the symbols, the singleton lease; the outcome goes to
    /// ``assignment``.
    public func balance() async {
        let me = configuration.workerID
        let now = clock.now()
        let expires = now &+ configuration.leaseMilliseconds
        do {
            let live = try await store.heartbeat(worker: me, startedAt: startedAt, now: now, expiresAt: expires).map(\.id)
            let workers = live.contains(me) ? live : (live + [me]).sorted()
            // Read afresh: Settings in another process may have changed them.
            let tracked = try await registry.reload().sorted()
            let place = workers.firstIndex(of: me) ?? 0
            let share = tracked.count / workers.count + (place < tracked.count % workers.count ? 1 : 0)
            var leases: [String: Lease] = [:]
            for lease in try await store.leases(prefix: Self.symbolPrefix) { leases[lease.name] = lease }
            var mine: [Symbol] = []
            var free: [Symbol] = []
            for symbol in tracked {
                guard let lease = leases[Self.symbolLease(symbol)] else {
                    free.append(symbol)
                    continue
                }
                if lease.expiresAt <= now {
                    free.append(symbol)
                } else if lease.holder == me {
                    mine.append(symbol)
                }
            }
            // A worker joined (or symbols were removed): the surplus goes back for the others.
            var giveBack = mine.count > share ? Array(mine[share...]).map(Self.symbolLease) : []
            mine = Array(mine.prefix(share))
            // Symbols no longer tracked.
            let trackedNames = Set(tracked.map(Self.symbolLease))
            giveBack += leases.values.filter { $0.holder == me && $0.expiresAt > now && !trackedNames.contains($0.name) }.map(\.name)
            if !giveBack.isEmpty { try await store.release(giveBack, holder: me) }
            let wanted = mine + free.prefix(max(0, share - mine.count))
            let held = try await store.acquire(wanted.map(Self.symbolLease), holder: me, now: now, expiresAt: expires)
            let nowOwned = Set(tracked.filter { held.contains(Self.symbolLease($0)) })
            let nowSingleton = try await store.acquire([Self.singletonLease], holder: me, now: now, expiresAt: expires)
                .contains(Self.singletonLease)
            renewedAt = now
            self.workers = workers
            publish(owned: nowOwned, singleton: nowSingleton, workers: workers.count)
        } catch {
            // Cancelled: the process is stopping, and ``retire()`` gives everything back.
            if Task.isCancelled { return }
            logger.warning("worker: cannot renew the leases", metadata: ["worker": "\(me)", "error": "\(error)"])
            // Leases not renewed expire, and others take the work over: stop before that can happen.
            if let renewedAt, now - renewedAt >= configuration.leaseMilliseconds * 2 / 3 {
                publish(owned: [], singleton: false, workers: 0)
            }
        }
    }

    private func publish(owned nowOwned: Set<Symbol>, singleton nowSingleton: Bool, workers: Int) {
        let gained = nowOwned.subtracting(owned)
        let lost = owned.subtracting(nowOwned)
        if !gained.isEmpty || !lost.isEmpty || nowSingleton != singleton {
            logger.info(
                "worker: assignment changed",
                metadata: [
                    "worker": "\(configuration.workerID)", "workers": "\(workers)", "symbols": "\(nowOwned.count)",
                    "gained": "\(gained.map(\.rawValue).sorted().joined(separator: ","))",
                    "lost": "\(lost.map(\.rawValue).sorted().joined(separator: ","))", "singleton_jobs": "\(nowSingleton)",
                ])
        }
        owned = nowOwned
        singleton = nowSingleton
        assignment.update(symbols: nowOwned, singleton: nowSingleton)
    }

    /// The symbols this worker collects, as last decided.
    public func ownedSymbols() -> Set<Symbol> { owned }

    /// The live workers' ids at the last renewal, this one's included.
    public func liveWorkers() -> [String] { workers }
}
