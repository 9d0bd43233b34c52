/// A collector process as the other workers see it: a row in `cluster_workers`, renewed with its leases.
public struct WorkerRecord: Sendable, Hashable {
    public var id: String
    public var host: String
    public var processID: Int64
    public var startedAt: Int64
    /// When it last renewed its leases (its own clock).
    public var heartbeatAt: Int64
    /// The lease duration it renews with: it is gone once `heartbeatAt + leaseMilliseconds` has passed.
    public var leaseMilliseconds: Int64

    public init(id: String, host: String, processID: Int64, startedAt: Int64, heartbeatAt: Int64, leaseMilliseconds: Int64) {
        self.id = id
        self.host = host
        self.processID = processID
        self.startedAt = startedAt
        self.heartbeatAt = heartbeatAt
        self.leaseMilliseconds = leaseMilliseconds
    }

    /// Whether it renewed within its lease duration before `now`.
    public func isLive(at now: Int64) -> Bool {
        let (end, overflow) = heartbeatAt.addingReportingOverflow(leaseMilliseconds)
        return overflow || now <= end
    }
}

/// One lease: a symbol's collection (`symbol/BTCUSDT`) or a singleton job (`job/transform`), held by one worker until
/// `expiresAt` unless renewed.
public struct Lease: Sendable, Hashable {
    public var name: String
    public var holder: String
    /// When the current holder took it (not changed by renewals).
    public var acquiredAt: Int64
    public var expiresAt: Int64

    public init(name: String, holder: String, acquiredAt: Int64, expiresAt: Int64) {
        self.name = name
        self.holder = holder
        self.acquiredAt = acquiredAt
        self.expiresAt = expiresAt
    }

    /// Free to take at `now`: released (no holder) or expired.
    public func isFree(at now: Int64) -> Bool { holder.isEmpty || expiresAt < now }
}

/// Leases and worker heartbeats in the warehouse (`leases`, `cluster_workers`): how several `cryptopipe run` processes
/// share the work with no coordinator but the database.
///
/// Every change is a compare-and-set on one row's primary key, decided inside the writing transaction: taking a lease
/// succeeds only where the row is free or already the caller's. On a Galera cluster two nodes may both see a row free;
/// the second write set to be certified touches the same key and fails at commit (error 1213), the transaction is
/// rerun, and then it sees the winner's row. So a lease has at most one holder whatever node each worker writes to.
/// Times are the callers' clocks (epoch ms): workers on several machines need clocks kept within a small part of the
/// lease duration (NTP does).
public protocol LeaseStore: Sendable {
    /// Saves the worker's row (inserted or replaced) and deletes the rows of workers not seen since `forgetBefore`.
    func heartbeat(_ worker: WorkerRecord, forgetBefore: Int64) async throws(WarehouseError)
    /// Deletes the worker's row: it stopped.
    func removeWorker(id: String) async throws(WarehouseError)
    func workers() async throws(WarehouseError) -> [WorkerRecord]
    /// Every lease row, held or not, in name order.
    func leases() async throws(WarehouseError) -> [Lease]
    /// Takes each named lease that is free at `now` or already `holder`'s, until `now + milliseconds`; returns the names
    /// taken (each name is its own compare-and-set; a lease taken by someone else meanwhile is left out).
    func acquireLeases(_ names: [String], holder: String, at now: Int64, milliseconds: Int64) async throws(WarehouseError) -> Set<String>
    /// Extends every lease `holder` still holds among `names` to `now + milliseconds`; returns those it still holds
    /// (one it lost to another worker after it expired is left out).
    func renewLeases(_ names: [String], holder: String, at now: Int64, milliseconds: Int64) async throws(WarehouseError) -> Set<String>
    /// Frees the named leases (all of `holder`'s when `names` is `nil`) if `holder` still holds them.
    func releaseLeases(_ names: [String]?, holder: String) async throws(WarehouseError)
}

/// The names of leases: one namespace for symbols and singleton jobs.
public enum LeaseName {
    public static let symbolPrefix = "symbol/"
    public static let jobPrefix = "job/"

    public static func symbol(_ symbol: String) -> String { symbolPrefix + symbol }
    public static func job(_ job: String) -> String { jobPrefix + job }
}

/// The lease rules every ``LeaseStore`` applies inside its transaction, written once.
public enum LeaseRules {
    /// `now + milliseconds`, saturating (both come from the caller's clock and options).
    public static func expiry(_ now: Int64, _ milliseconds: Int64) -> Int64 {
        let (sum, overflow) = now.addingReportingOverflow(max(0, milliseconds))
        return overflow ? .max : sum
    }

    /// The row after `holder` takes `current` at `now` until `expires`, or `nil` when another worker still holds it.
    /// The holder's own lease keeps its `acquiredAt` and gets the new expiry (never the later of the two: an expiry set
    /// by a clock that ran ahead must not outlive its worker).
    public static func take(_ current: Lease, by holder: String, at now: Int64, until expires: Int64) -> Lease? {
        if current.holder == holder {
            return Lease(name: current.name, holder: holder, acquiredAt: current.acquiredAt, expiresAt: expires)
        }
        guard current.isFree(at: now) else { return nil }
        return Lease(name: current.name, holder: holder, acquiredAt: now, expiresAt: expires)
    }
}
