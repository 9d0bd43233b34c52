/// Server-side sign-in sessions of the pages, kept in the warehouse so they survive restarts and are shared by every
/// process on the same warehouse (`serve` and `run`, several collectors).
///
/// Only a hash of the session id is stored: a copy of the database (a backup, a replica) does not hold live cookies.
public protocol SessionStore: Sendable {
    /// Stores a new session; an existing one with the same hash is an error (ids are random, so that means a bug).
    func createSession(_ session: StoredSession) async throws(WarehouseError)
    /// The session with this id hash, `nil` when there is none (never created, signed out or swept).
    func session(idHash: String) async throws(WarehouseError) -> StoredSession?
    /// Records use of the session, which restarts its idle expiry.
    func touchSession(idHash: String, at time: Int64) async throws(WarehouseError)
    /// Signs the session out; deleting a missing one is not an error.
    func deleteSession(idHash: String) async throws(WarehouseError)
    /// Deletes sessions idle since before `idleBefore` or created before `createdBefore`; returns how many.
    func deleteExpiredSessions(idleBefore: Int64, createdBefore: Int64) async throws(WarehouseError) -> Int
}

public struct StoredSession: Sendable, Hashable {
    /// Lower-case hex SHA-256 of the session id the cookie carries.
    public var idHash: String
    /// The anti-forgery token of this session's forms.
    public var formToken: String
    public var createdAt: Int64
    public var lastSeenAt: Int64

    public init(idHash: String, formToken: String, createdAt: Int64, lastSeenAt: Int64) {
        self.idHash = idHash
        self.formToken = formToken
        self.createdAt = createdAt
        self.lastSeenAt = lastSeenAt
    }
}
