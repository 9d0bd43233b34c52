import Foundation
public import PipelineTesting
import Synchronization
public import WarehouseMySQL

/// The three-node MariaDB Galera cluster the cluster tests use, found through the environment (`scripts/test` starts
/// one with `scripts/galera-test-cluster` and sets these): `CRYPTOPIPE_TEST_GALERA_URL` (the three nodes in one URL),
/// `CRYPTOPIPE_TEST_GALERA_PASSWORD` and `CRYPTOPIPE_TEST_GALERA_DIR` (the nodes' folders, with the scripts that start
/// them again). `CRYPTOPIPE_TEST_GALERA=off` skips the tests deliberately; either way a skipped test says why.
public enum GaleraTestCluster {
    static let environment = ProcessInfo.processInfo.environment
    public static let nodeCount = 3

    /// The cluster, all three nodes, in its `mysql` database; `nil` when the tests must be skipped.
    public static let configuration: MySQLConfiguration? = {
        guard !["off", "unavailable"].contains(environment["CRYPTOPIPE_TEST_GALERA"]?.lowercased()),
            let url = environment["CRYPTOPIPE_TEST_GALERA_URL"], environment["CRYPTOPIPE_TEST_GALERA_DIR"] != nil,
            var configuration = try? MySQLConfiguration(url: url), configuration.servers.count == nodeCount
        else { return nil }
        configuration.password = environment["CRYPTOPIPE_TEST_GALERA_PASSWORD"]
        configuration.poolSize = 2
        return configuration
    }()

    public static var isAvailable: Bool { configuration != nil }

    /// Why the cluster tests did not run, shown by the test runner.
    public static var skipReason: String {
        switch environment["CRYPTOPIPE_TEST_GALERA"]?.lowercased() {
        case "unavailable": "the Galera test cluster could not be started (scripts/test printed why above)"
        case "off": "Galera cluster tests switched off (CRYPTOPIPE_TEST_GALERA=off)"
        default:
            "no Galera test cluster: run scripts/test, or start one with scripts/galera-test-cluster and set the "
                + "CRYPTOPIPE_TEST_GALERA_URL, _PASSWORD and _DIR it prints"
        }
    }

    /// The cluster in `database`, through the given nodes (0-based, in that order; all by default).
    public static func configuration(database: String, nodes: [Int] = Array(0..<nodeCount)) throws -> MySQLConfiguration {
        guard let cluster = configuration else { throw ConformanceFailure(skipReason) }
        let hosts = nodes.map { cluster.servers[$0].description }.joined(separator: ",")
        var configuration = try MySQLConfiguration(url: "mysql://\(cluster.user)@\(hosts)/\(database)")
        configuration.password = cluster.password
        configuration.poolSize = 2
        return configuration
    }

    /// Runs `body` with the name of a new database (created through the cluster, so on every node), dropped afterwards.
    /// One test uses the cluster at a time, whatever its suite or target: tests stop and start its nodes.
    public static func withDatabase<Value>(_ prefix: String, _ body: (String) async throws -> Value) async throws -> Value {
        await exclusive.acquire()
        defer { exclusive.release() }
        let name = prefix + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(12)
        let admin = MySQLWarehouse(configuration: try configuration(database: "mysql"))
        let outcome: Result<Value, any Error>
        do {
            try await admin.execute("CREATE DATABASE \(name) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
            try await awaitDatabaseOnEveryNode(name)
            outcome = .success(try await body(name))
        } catch {
            outcome = .failure(error)
        }
        // The body's error first: a failed drop must not hide why the test failed.
        let dropped: Result<Void, any Error>
        do { dropped = .success(try await admin.execute("DROP DATABASE IF EXISTS \(name)")) } catch { dropped = .failure(error) }
        await admin.shutdown()
        let value = try outcome.get()
        try dropped.get()
        return value
    }

    static let exclusive = TurnLock()

    /// Waits until every node has applied the `CREATE DATABASE` (a node that rejoined after an earlier test may still
    /// be applying what it missed), for at most 60 s.
    static func awaitDatabaseOnEveryNode(_ name: String) async throws {
        for node in 0..<nodeCount {
            let configuration = try configuration(database: "mysql", nodes: [node])
            var present = false
            for _ in 0..<600 {
                present = try await PrivateMariaDB.offThePool {
                    !(try MySQLConnection(configuration).query("SHOW DATABASES LIKE '\(name)'").all.isEmpty)
                }
                if present { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            if !present { throw ConformanceFailure("node \(node + 1) did not apply CREATE DATABASE \(name) in 60 s") }
        }
    }

    static func nodeFolder(_ node: Int) -> String { (environment["CRYPTOPIPE_TEST_GALERA_DIR"] ?? "") + "/node\(node + 1)" }

    static func pid(of node: Int) throws -> pid_t {
        let text = try String(contentsOfFile: nodeFolder(node) + "/pid", encoding: .utf8)
        guard let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 1 else {
            throw ConformanceFailure("node \(node + 1)'s pid file holds no process id: \(text.prefix(40))")
        }
        return pid
    }

    /// Whether the process runs (a zombie no one reaped has ended: the node was started by a script that exited).
    static func isRunning(_ pid: pid_t) -> Bool {
        guard kill(pid, 0) == 0, let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else {
            return kill(pid, 0) == 0
        }
        // The state follows the command name in parentheses: "PID (name) S ...".
        guard let end = stat.lastIndex(of: ")") else { return true }
        return !stat[stat.index(after: end)...].trimmingCharacters(in: .whitespaces).hasPrefix("Z")
    }

    /// Ends node `node` (0-based), with SIGKILL (the machine died) or, `cleanly`, SIGTERM (a service manager's stop),
    /// and waits until it has exited.
    public static func stop(node: Int, cleanly: Bool = false) async throws {
        let pid = try pid(of: node)
        let signal = cleanly ? SIGTERM : SIGKILL
        guard kill(pid, signal) == 0 || errno == ESRCH else { throw ConformanceFailure("cannot signal node \(node + 1) (pid \(pid))") }
        for _ in 0..<600 where isRunning(pid) {
            try await Task.sleep(for: .milliseconds(100))
        }
        if isRunning(pid) { throw ConformanceFailure("node \(node + 1) (pid \(pid)) did not exit in 60 s") }
    }

    /// Starts node `node` again and waits until it has rejoined the cluster and caught up (its state is Synced).
    public static func start(node: Int) async throws {
        let folder = nodeFolder(node)
        try await PrivateMariaDB.offThePool { try runDetached(folder + "/start") }
        let configuration = try configuration(database: "mysql", nodes: [node])
        var last = "no answer"
        for _ in 0..<1_200 {
            let state = try await PrivateMariaDB.offThePool { () -> String in
                do {
                    let connection = try MySQLConnection(configuration)
                    let rows = try connection.query("SHOW STATUS LIKE 'wsrep_local_state_comment'").all
                    return rows.first?.string(1) ?? "unknown"
                } catch {
                    return "\(error)"
                }
            }
            if state == "Synced" { return }
            last = state
            try await Task.sleep(for: .milliseconds(100))
        }
        let log = (try? String(contentsOfFile: folder + "/error.log", encoding: .utf8)) ?? ""
        throw ConformanceFailure("node \(node + 1) did not rejoin in 120 s (\(last)): \(log.suffix(600))")
    }

    /// Runs `script` with no input or output and waits for it to exit. The script closes the other descriptors it
    /// inherits before it starts the server, which must hold none of a test's pipes or sockets open.
    static func runDetached(_ script: String) throws {
        #if os(Linux)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for descriptor: Int32 in 0...2 {
            posix_spawn_file_actions_addopen(&actions, descriptor, "/dev/null", descriptor == 0 ? O_RDONLY : O_WRONLY, 0)
        }
        var pid: pid_t = 0
        let arguments: [UnsafeMutablePointer<CChar>?] = [strdup(script), nil]
        defer { for argument in arguments { free(argument) } }
        let spawned = posix_spawn(&pid, script, &actions, nil, arguments, environ)
        guard spawned == 0 else { throw ConformanceFailure("cannot run \(script): \(String(cString: strerror(spawned)))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { throw ConformanceFailure("waiting for \(script): \(String(cString: strerror(errno)))") }
        }
        // Exited normally (no signal in the low 7 bits) with status 0.
        guard status & 0x7f == 0, (status >> 8) & 0xff == 0 else { throw ConformanceFailure("\(script) failed (wait status \(status))") }
        #else
        let process = Process()
        process.executableURL = URL(fileURLWithPath: script)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw ConformanceFailure("\(script) exited with \(process.terminationStatus)") }
        #endif
    }

    /// A status counter of node `node` (e.g. `wsrep_local_cert_failures`).
    public static func status(_ name: String, node: Int) async throws -> Int64 {
        let configuration = try configuration(database: "mysql", nodes: [node])
        return try await PrivateMariaDB.offThePool {
            let rows = try MySQLConnection(configuration).query("SHOW GLOBAL STATUS LIKE '\(name)'").all
            guard let value = rows.first?.string(1).flatMap({ Int64($0) }) else {
                throw ConformanceFailure("node \(node + 1) has no status \(name)")
            }
            return value
        }
    }
}

/// An async lock taken in arrival order: a waiting test suspends, holding no thread.
final class TurnLock: Sendable {
    private struct State {
        var held = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    func acquire() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let granted = state.withLock { state in
                if state.held {
                    state.waiters.append(continuation)
                    return false
                }
                state.held = true
                return true
            }
            if granted { continuation.resume() }
        }
    }

    func release() {
        let next = state.withLock { state in
            if state.waiters.isEmpty {
                state.held = false
                return nil as CheckedContinuation<Void, Never>?
            }
            return state.waiters.removeFirst()
        }
        next?.resume()
    }
}
