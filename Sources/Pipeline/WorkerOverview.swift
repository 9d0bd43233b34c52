public import MarketData
public import Warehouse

/// The workers on the warehouse as the pages, the API and `status` show them: each recorded worker, whether its
/// heartbeat is current, the symbols and singleton jobs it holds leases on, and how long ago it renewed.
public struct WorkerOverview: Sendable, Hashable {
    public struct Worker: Sendable, Hashable {
        public var id: String
        public var startedAt: Int64
        public var heartbeatAt: Int64
        /// Its heartbeat has not expired.
        public var alive: Bool
        /// The symbols whose leases it holds (unexpired).
        public var symbols: [Symbol]
        /// It holds the lease of the singleton jobs (the transform, gap fill, maintenance).
        public var singletonJobs: Bool
        /// Its oldest held lease's acquisition time: how long it has carried its work.
        public var oldestLeaseAcquiredAt: Int64?
    }

    public var workers: [Worker]
    /// Tracked symbols with no live lease: nobody collects them at the moment (a worker died and its leases have not
    /// expired yet, or no worker runs).
    public var unowned: [Symbol]

    /// Reads the workers and leases; `tracked` are the symbols that should have an owner.
    public static func load(from store: any LeaseStore, tracked: [Symbol], now: Int64) async throws(WarehouseError) -> WorkerOverview {
        let records = try await store.workers()
        let leases = try await store.leases(prefix: "").filter { $0.expiresAt > now }
        var workers: [Worker] = []
        var owned: Set<Symbol> = []
        for record in records {
            let held = leases.filter { $0.holder == record.id }
            let symbols = held.compactMap { lease -> Symbol? in
                guard lease.name.hasPrefix("symbol:") else { return nil }
                return try? Symbol(String(lease.name.dropFirst("symbol:".count)))
            }.sorted()
            owned.formUnion(symbols)
            workers.append(
                Worker(
                    id: record.id, startedAt: record.startedAt, heartbeatAt: record.heartbeatAt, alive: record.expiresAt > now,
                    symbols: symbols, singletonJobs: held.contains { $0.name == WorkerCoordinator.singletonLease },
                    oldestLeaseAcquiredAt: held.map(\.acquiredAt).min()))
        }
        return WorkerOverview(workers: workers, unowned: tracked.filter { !owned.contains($0) })
    }

    /// `workers` of `/api/pipeline/status` and `status --json`.
    public func writeJSON(now: Int64, to json: inout JSONWriter) {
        json.object { json in
            json.key("workers")
            json.array { json in
                for worker in workers {
                    json.object { json in
                        json.key("id")
                        json.string(worker.id)
                        json.key("alive")
                        json.bool(worker.alive)
                        json.time("started_at", "started_at_iso", worker.startedAt)
                        json.time("heartbeat_at", "heartbeat_at_iso", worker.heartbeatAt)
                        json.key("heartbeat_age_ms")
                        json.int(max(0, now &- worker.heartbeatAt))
                        json.key("lease_age_ms")
                        json.optionalInt(worker.oldestLeaseAcquiredAt.map { max(0, now &- $0) })
                        json.key("singleton_jobs")
                        json.bool(worker.singletonJobs)
                        json.key("symbols")
                        json.array { json in for symbol in worker.symbols { json.string(symbol.rawValue) } }
                    }
                }
            }
            json.key("unowned_symbols")
            json.array { json in for symbol in unowned { json.string(symbol.rawValue) } }
        }
    }
}
