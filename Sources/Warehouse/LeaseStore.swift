/// A named lease in the warehouse: who holds it, since when and until when. Leases split the work of the `run`
/// processes on one warehouse (each symbol's collection, the singleton jobs); the coordination lives in the warehouse,
/// so no other service is needed.
public struct Lease: Sendable, Hashable {
    public var name: String
    public var holder: String
    public var acquiredAt: Int64
    public var expiresAt: Int64

    public init(name: String, holder: String, acquiredAt: Int64, expiresAt: Int64) {
        self.name = name
        self.holder = holder
        self.acquiredAt = acquiredAt
        self.expiresAt = expiresAt
    }
}

/// A `run` process on the warehouse, as its last heartbeat recorded it.
public struct WorkerRecord: Sendable, Hashable {
    public var id: String
    public var startedAt: Int64
    public var heartbeatAt: Int64
    public var expiresAt: Int64

    public init(id: String, startedAt: Int64, heartbeatAt: Int64, expiresAt: Int64) {
        self.id = id
        self.startedAt = startedAt
        self.heartbeatAt = heartbeatAt
        self.expiresAt = expiresAt
    }
}

/// Leases and worker heartbeats: `leases` and `workers`. Every operation is one statement or a compare-and-set, so two
/// workers racing for a lease (on one server, or on two nodes of a replicated cluster, where the loser's commit fails
/// certification and is rerun) end with one holder. Times are the callers' clocks, in epoch milliseconds.
public protocol LeaseStore: Sendable {
    /// Records the worker's heartbeat, valid until `expiresAt`, and returns the workers whose heartbeat has not expired
    /// at `now`, by id.
    func heartbeat(worker id: String, startedAt: Int64, now: Int64, expiresAt: Int64) async throws(WarehouseError) -> [WorkerRecord]
    /// Removes the worker's record and gives back every lease it holds (a clean stop).
    func retire(worker id: String) async throws(WarehouseError)
    /// Takes each of `names` that is free, expired at `now` or already `holder`'s, until `expiresAt` (renewing those
    /// already held). Returns the names `holder` holds afterwards.
    func acquire(_ names: [String], holder: String, now: Int64, expiresAt: Int64) async throws(WarehouseError) -> Set<String>
    /// Gives up `holder`'s leases among `names`; the others' are untouched.
    func release(_ names: [String], holder: String) async throws(WarehouseError)
    /// Every lease whose name starts with `prefix`, expired ones included, by name.
    func leases(prefix: String) async throws(WarehouseError) -> [Lease]
    /// Every recorded worker, expired ones included (for a day), by id.
    func workers() async throws(WarehouseError) -> [WorkerRecord]
}

extension LeaseStore {
    /// At most this many names go in one statement.
    public static var leaseBatch: Int { 200 }
}
