import Logging
import MarketData
import NIOPosix

/// A few connections, each used by one blocking job at a time on threads of the pool's own (never an event loop).
///
/// Jobs that fail because the server went away are run again on a fresh connection, with backoff, for up to
/// ``MySQLConfiguration/reconnectWindow``; so are transactions the server rolled back for a deadlock or lock timeout.
/// A job is a whole transaction, so running it again is safe.
///
/// With several servers (a replicated cluster), new connections go to the first that answers, starting from the last
/// one that did: a job cut off by a server that went away is rerun on the next that answers.
actor MySQLConnectionPool {
    let configuration: MySQLConfiguration
    private let threads: NIOThreadPool
    private let logger: Logger
    private var idle: [MySQLConnection] = []
    private var openCount = 0
    private var waiters: [CheckedContinuation<Void, Never>] = []
    private var outageStarted: ContinuousClock.Instant?
    /// The index in ``MySQLConfiguration/servers`` new connections try first: the last one that answered.
    private var preferred = 0
    /// Set when the process shuts down: a failed job is not retried any more, and pauses between retries end at once,
    /// so a shutdown during an outage does not wait out ``MySQLConfiguration/reconnectWindow``.
    private var retriesStopped = false
    private var pauses: [Int: CheckedContinuation<Void, Never>] = [:]
    private var nextPause = 0
    /// The pause between retries: exponential backoff with full jitter, 50 ms doubling to 2 s.
    static let backoff = RetryPolicy(maxAttempts: .max, baseDelay: .milliseconds(50), maxDelay: .seconds(2))

    init(configuration: MySQLConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        threads = NIOThreadPool(numberOfThreads: configuration.poolSize)
        threads.start()
    }

    /// Fails every job now retrying after a lost connection, and the next ones at their first, instead of retrying
    /// them through an outage. A deadlock or lock timeout is still rerun: the server is there, and the rerun is quick.
    func stopRetrying() {
        guard !retriesStopped else { return }
        retriesStopped = true
        logger.notice("shutting down: operations cut off by a lost MySQL connection are not retried any more")
        for pause in pauses.values { pause.resume() }
        pauses.removeAll()
    }

    /// Closes every idle connection and stops the threads.
    func shutdown() async {
        idle.removeAll()
        try? await threads.shutdownGracefully()
    }

    /// Runs `body` with a connection on a pool thread, retrying it on a new connection after connection failures.
    func run<T: Sendable>(
        _ operation: String, _ body: @escaping @Sendable (MySQLConnection) throws(MySQLError) -> T
    ) async throws(MySQLError) -> T {
        let started = ContinuousClock.now
        var attempt = 0
        while true {
            attempt += 1
            let result = await runOnce(body)
            switch result {
            case .success(let value):
                if let outage = outageStarted {
                    outageStarted = nil
                    logger.notice(
                        "MySQL server reachable again",
                        metadata: ["mysql.outage_seconds": "\((ContinuousClock.now - outage).components.seconds)"])
                }
                return value
            case .failure(let error):
                let retryable = (error.isConnectionFailure && !retriesStopped) || error.isTransientConflict
                let elapsed = ContinuousClock.now - started
                guard retryable, elapsed < configuration.reconnectWindow, !Task.isCancelled else { throw error }
                if error.isConnectionFailure, outageStarted == nil {
                    outageStarted = .now
                    logger.warning(
                        "MySQL server unreachable; retrying",
                        metadata: [
                            "mysql.servers": "\(configuration.servers.map(\.description).joined(separator: ","))",
                            "mysql.error": "\(error.message)",
                            "operation": "\(operation)",
                        ])
                }
                var generator = SystemRandomNumberGenerator()
                await pause(Self.backoff.delay(beforeRetry: attempt, using: &generator))
                // Shut down or cancelled while pausing: the job fails with what went wrong, rather than being retried.
                if (retriesStopped && error.isConnectionFailure) || Task.isCancelled { throw error }
            }
        }
    }

    /// Waits `delay`, or less when ``stopRetrying()`` is called (a deadlock's rerun then goes ahead at once) or the task
    /// is cancelled.
    private func pause(_ delay: Duration) async {
        let id = nextPause
        nextPause += 1
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                guard !retriesStopped, !Task.isCancelled else { return continuation.resume() }
                pauses[id] = continuation
                Task { [weak self] in
                    do {
                        try await Task.sleep(for: delay)
                    } catch {
                        // Only a cancelled sleep ends early, and nothing cancels this one: either way the pause is over.
                    }
                    await self?.endPause(id)
                }
            }
        } onCancel: {
            Task { await self.endPause(id) }
        }
    }

    private func endPause(_ id: Int) {
        pauses.removeValue(forKey: id)?.resume()
    }

    private func runOnce<T: Sendable>(
        _ body: @escaping @Sendable (MySQLConnection) throws(MySQLError) -> T
    ) async -> Result<T, MySQLError> {
        let connection: MySQLConnection
        switch await lease() {
        case .success(let leased): connection = leased
        case .failure(let error): return .failure(error)
        }
        let result = await onThread { () throws(MySQLError) in try body(connection) }
        if case .failure(let error) = result, error.isConnectionFailure {
            discard(connection, error: error)
        } else {
            give(back: connection)
        }
        return result
    }

    private func lease() async -> Result<MySQLConnection, MySQLError> {
        while true {
            if let connection = idle.popLast() { return .success(connection) }
            if openCount < configuration.poolSize {
                openCount += 1
                let opened = await open()
                if case .failure = opened {
                    openCount -= 1
                    wakeOne()
                }
                return opened
            }
            await withCheckedContinuation { waiters.append($0) }
        }
    }

    /// A new connection to the preferred server, or else to the next one that answers. When none does, the first
    /// failure that is not a server's being unreachable (a wrong password, a blocked host: it says more), or else the
    /// last.
    private func open() async -> Result<MySQLConnection, MySQLError> {
        let configuration = configuration
        let count = configuration.servers.count
        var last: MySQLError?
        var telling: MySQLError?
        for step in 0..<count {
            let index = (preferred + step) % count
            let server = configuration.servers[index]
            let opened = await onThread { () throws(MySQLError) in try MySQLConnection(configuration, server: server) }
            switch opened {
            case .success:
                if index != preferred {
                    logger.notice("MySQL: connecting to another server", metadata: ["mysql.server": "\(server)"])
                    preferred = index
                }
                return opened
            case .failure(let error):
                guard count > 1 else { return opened }
                // One node refusing this user, or blocked, must not take the cluster down while others answer.
                last = error
                if !error.isConnectionFailure, telling == nil { telling = error }
            }
        }
        return .failure(telling ?? last ?? .ours("no MySQL server is configured", operation: "connect"))
    }

    private func give(back connection: MySQLConnection) {
        idle.append(connection)
        wakeOne()
    }

    private func discard(_ connection: MySQLConnection, error: MySQLError) {
        // A dropped connection (a server gone, an idle timeout) is reopened on the same server first, and ``open()``
        // moves on when that fails. A Galera node out of the cluster's primary component accepts connections but no
        // statements: the rerun goes to the next server at once.
        let servers = configuration.servers
        if error.isNodeNotReady, servers.count > 1, servers[preferred] == connection.server {
            preferred = (preferred + 1) % servers.count
            logger.warning(
                "MySQL: a server is not ready (not in the cluster's primary component); moving to the next",
                metadata: ["mysql.server": "\(connection.server)", "mysql.error": "\(error.message)"])
        }
        // A dead connection's idle siblings are most likely dead too (the server restarted): open fresh ones.
        openCount -= 1 + idle.count
        idle.removeAll()
        wakeOne()
    }

    private func wakeOne() {
        if !waiters.isEmpty { waiters.removeFirst().resume() }
    }

    private func onThread<T: Sendable>(_ body: @escaping @Sendable () throws(MySQLError) -> T) async -> Result<T, MySQLError> {
        do {
            return try await threads.runIfActive { () -> Result<T, MySQLError> in
                do throws(MySQLError) {
                    return .success(try body())
                } catch {
                    return .failure(error)
                }
            }
        } catch {
            return .failure(.ours("the connection pool is shut down", operation: "run a MySQL job"))
        }
    }
}
