import Synchronization

/// Slows down guessing of the admin token: after ``limit`` failed sign-ins or Bearer tokens from one client address
/// within ``window``, that client is refused (`429` with `Retry-After`) until the oldest of those failures is a window
/// old, whether or not its next guess is right.
final class FailureThrottle: Sendable {
    static let limit = 10
    static let window: Int64 = 60_000
    /// Bounds memory under a flood of addresses: beyond this many clients, those with no recent failure are dropped
    /// first, then the one whose newest failure is oldest.
    static let maximumClients = 10_000

    private struct Client {
        /// Times of the failures within the window, oldest first; at most ``limit``.
        var failures: [Int64] = []
        /// When a refusal of this client was last logged.
        var loggedAt: Int64?
    }

    private let clients = Mutex<[String: Client]>([:])

    /// A refusal for a client that is throttled: how long until it may try again, and whether to log it (once per
    /// client and window).
    struct Refusal: Equatable {
        var retryAfterSeconds: Int64
        var shouldLog: Bool
    }

    /// What became of one attempt.
    enum Outcome: Equatable {
        case refused(Refusal)
        case accepted
        case rejected
    }

    /// Checks whether `client` may try, runs `isCorrect` and counts a failure, all under one lock: concurrent attempts
    /// cannot all pass the check before any of their failures is counted.
    func attempt(by client: String, now: Int64, _ isCorrect: () -> Bool) -> Outcome {
        clients.withLock { clients in
            if let refusal = Self.refusal(for: client, now: now, in: &clients) { return .refused(refusal) }
            if isCorrect() { return .accepted }
            Self.recordFailure(of: client, now: now, in: &clients)
            return .rejected
        }
    }

    /// Whether `client` must wait now; `nil` when it may try.
    func refusal(for client: String, now: Int64) -> Refusal? {
        clients.withLock { Self.refusal(for: client, now: now, in: &$0) }
    }

    /// Counts a failed attempt.
    func recordFailure(of client: String, now: Int64) {
        clients.withLock { Self.recordFailure(of: client, now: now, in: &$0) }
    }

    private static func refusal(for client: String, now: Int64, in clients: inout [String: Client]) -> Refusal? {
        guard var entry = clients[client] else { return nil }
        entry.failures.removeAll { $0 <= now - window || $0 > now }
        defer { clients[client] = entry }
        guard entry.failures.count >= limit, let oldest = entry.failures.first else { return nil }
        let waitMillis = oldest + window - now
        let shouldLog = entry.loggedAt.map { now - $0 >= window || now < $0 } ?? true
        if shouldLog { entry.loggedAt = now }
        return Refusal(retryAfterSeconds: max(1, (waitMillis + 999) / 1_000), shouldLog: shouldLog)
    }

    private static func recordFailure(of client: String, now: Int64, in clients: inout [String: Client]) {
        if clients[client] == nil, clients.count >= maximumClients {
            clients = clients.filter { $0.value.failures.last.map { $0 > now - window } ?? false }
            if clients.count >= maximumClients,
                let stalest = clients.min(by: { ($0.value.failures.last ?? 0) < ($1.value.failures.last ?? 0) })?.key
            {
                clients[stalest] = nil
            }
        }
        var entry = clients[client] ?? Client()
        entry.failures.removeAll { $0 <= now - window || $0 > now }
        entry.failures.append(now)
        if entry.failures.count > limit { entry.failures.removeFirst(entry.failures.count - limit) }
        clients[client] = entry
    }

    var clientCount: Int { clients.withLock { $0.count } }
}
