import Foundation
public import Logging
public import PipelineTesting
public import WarehouseMySQL

/// The MySQL/MariaDB server integration tests use, found through the environment (`scripts/test` starts a private
/// MariaDB with `scripts/mysql-test-server` and sets these): `CRYPTOPIPE_TEST_MYSQL_URL` (a user allowed to create
/// databases) and `CRYPTOPIPE_TEST_MYSQL_PASSWORD`. `CRYPTOPIPE_TEST_MYSQL=off` skips the tests deliberately; either
/// way a skipped test says why.
public enum MySQLTestServer {
    static let environment = ProcessInfo.processInfo.environment

    /// The configuration of the test server (its `mysql` database), or `nil` when tests must be skipped.
    public static let configuration: MySQLConfiguration? = {
        guard !["off", "unavailable"].contains(environment["CRYPTOPIPE_TEST_MYSQL"]?.lowercased()),
            let url = environment["CRYPTOPIPE_TEST_MYSQL_URL"],
            var configuration = try? MySQLConfiguration(url: url)
        else { return nil }
        if let password = environment["CRYPTOPIPE_TEST_MYSQL_PASSWORD"] { configuration.password = password }
        configuration.poolSize = 2
        return configuration
    }()

    public static var isAvailable: Bool { configuration != nil }

    /// Why MySQL tests did not run, shown by the test runner.
    public static var skipReason: String {
        if environment["CRYPTOPIPE_TEST_MYSQL"]?.lowercased() == "unavailable" {
            return "the MySQL test server could not be started (scripts/test printed why above)"
        }
        if environment["CRYPTOPIPE_TEST_MYSQL"]?.lowercased() == "off" { return "MySQL tests switched off (CRYPTOPIPE_TEST_MYSQL=off)" }
        return "no MySQL test server: run scripts/test, or set CRYPTOPIPE_TEST_MYSQL_URL and CRYPTOPIPE_TEST_MYSQL_PASSWORD"
    }

    /// Runs `body` with a migrated warehouse in a database of its own, dropped afterwards.
    public static func withWarehouse<T>(
        logger: Logger = Logger(label: "test.mysql"), _ body: (MySQLWarehouse, MySQLConfiguration) async throws -> T
    ) async throws -> T {
        guard let server = configuration else { throw ConformanceFailure(skipReason) }
        let name = "cryptopipe_test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
        let admin = MySQLWarehouse(configuration: server, logger: logger)
        try await admin.execute("CREATE DATABASE \(name) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
        var configuration = server
        configuration.database = String(name)
        let warehouse = MySQLWarehouse(configuration: configuration, logger: logger)
        do {
            try await warehouse.migrate()
            let result = try await body(warehouse, configuration)
            await warehouse.shutdown()
            try await admin.execute("DROP DATABASE \(name)")
            await admin.shutdown()
            return result
        } catch {
            await warehouse.shutdown()
            try? await admin.execute("DROP DATABASE \(name)")
            await admin.shutdown()
            throw error
        }
    }
}

/// A MariaDB server of a test's own (data folder, free port), which the test may stop and start again: for
/// outage and restart tests that must not disturb the shared test server.
public final class PrivateMariaDB: @unchecked Sendable {
    public let folder: TemporaryDirectory
    public let port: Int
    public let password: String
    private let lock = NSLock()
    private var process: Process?

    /// Whether the server binaries exist here (`scripts/test` installs them).
    public static var isAvailable: Bool { missingExecutables.isEmpty }

    /// Whether tests that start a server of their own can run: MySQL tests are not switched off and the MariaDB
    /// server binaries are installed.
    public static var canLaunch: Bool { MySQLTestServer.environment["CRYPTOPIPE_TEST_MYSQL"]?.lowercased() != "off" && isAvailable }

    /// Why tests that start a server of their own did not run, shown by the test runner.
    public static var skipReason: String {
        if MySQLTestServer.environment["CRYPTOPIPE_TEST_MYSQL"]?.lowercased() == "off" {
            return "MySQL tests switched off (CRYPTOPIPE_TEST_MYSQL=off)"
        }
        return "needs a local MariaDB server to start and stop: \(missingExecutables.joined(separator: " and ")) not found in "
            + "\(searchFolders.joined(separator: ", ")); install mariadb-server (scripts/mysql-test-server does)"
    }

    static let searchFolders = ["/usr/sbin", "/usr/bin", "/usr/local/bin", "/opt/homebrew/bin"]

    static var missingExecutables: [String] { ["mariadbd", "mariadb-install-db", "mariadb"].filter { executable($0) == nil } }

    static func executable(_ name: String) -> String? {
        for folder in searchFolders {
            let path = folder + "/" + name
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }

    /// Creates the data folder, starts the server and creates the `cryptopipe` user (with `password`, or a new one)
    /// and `cryptopipe` database.
    public init(password: String? = nil) throws {
        self.password = password ?? UUID().uuidString.replacingOccurrences(of: "-", with: "")
        folder = try TemporaryDirectory("mariadb")
        port = try Self.freePort()
        guard let install = Self.executable("mariadb-install-db") else { throw ConformanceFailure("mariadb-install-db not found") }
        // mariadb-install-db hands the options it does not read itself (`--tmpdir`) to the server unquoted.
        guard !folder.path.contains(where: \.isWhitespace) else {
            throw ConformanceFailure("cannot install MariaDB in \(folder.path): the path has a space in it; set TMPDIR to a folder without")
        }
        // Its own folder for temporary files: with the default (/tmp) a bootstrap under a full parallel test run once
        // failed on deleting its own Aria temporary table ("Error on delete of '/tmp/#sql-temptable-….MAI'").
        try FileManager.default.createDirectory(atPath: folder.path + "/tmp", withIntermediateDirectories: true)
        let installArguments = [
            "--no-defaults", "--datadir=\(folder.path)/data", "--user=\(NSUserName())", "--auth-root-authentication-method=normal",
            "--skip-test-db", "--tmpdir=\(folder.path)/tmp",
        ]
        var attempt = 1
        while true {
            do {
                try Self.run(install, installArguments)
                break
            } catch let error where attempt < 3 {
                // Each failure goes to standard error, so that a retried one is not hidden; the next try starts on
                // empty folders.
                FileHandle.standardError.write(Data("PrivateMariaDB: attempt \(attempt): \(error); installing again\n".utf8))
                for part in ["/data", "/tmp"] where FileManager.default.fileExists(atPath: folder.path + part) {
                    try FileManager.default.removeItem(atPath: folder.path + part)
                }
                try FileManager.default.createDirectory(atPath: folder.path + "/tmp", withIntermediateDirectories: true)
                attempt += 1
            }
        }
        try start()
        guard let client = Self.executable("mariadb") else { throw ConformanceFailure("mariadb client not found") }
        try Self.run(
            client,
            [
                "--no-defaults", "--socket=\(folder.path)/mysqld.sock", "-uroot", "-e",
                "CREATE USER 'cryptopipe'@'%' IDENTIFIED BY '\(self.password)'; GRANT ALL ON *.* TO 'cryptopipe'@'%'; CREATE DATABASE cryptopipe;",
            ])
    }

    deinit {
        stop()
        folder.remove()
    }

    // The blocking calls (installing, starting, stopping a server) take seconds. Async tests use these variants, which
    // run them on a GCD thread: blocking Swift's small cooperative pool would stall every other test of the process.

    /// ``init()`` off the cooperative pool.
    public static func launch(password: String? = nil) async throws -> PrivateMariaDB {
        try await offThePool { try PrivateMariaDB(password: password) }
    }

    /// ``start()`` off the cooperative pool.
    public func restart() async throws {
        try await Self.offThePool { try self.start() }
    }

    /// ``stop()`` off the cooperative pool.
    public func shutDown() async {
        // `stop()` does not throw, so neither does this.
        _ = try? await Self.offThePool { self.stop() }
    }

    /// Runs blocking work (a C client call, starting a process) on a GCD thread, never on Swift's small cooperative pool.
    public static func offThePool<Value: Sendable>(_ body: @escaping @Sendable () throws -> Value) async throws -> Value {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try body() }) }
        }
    }

    public var configuration: MySQLConfiguration {
        MySQLConfiguration(host: "127.0.0.1", port: port, user: "cryptopipe", password: password, database: "cryptopipe", poolSize: 2)
    }

    /// Starts the server on the same folder and port and waits until it answers.
    public func start() throws {
        guard let server = Self.executable("mariadbd") else { throw ConformanceFailure("mariadbd not found") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: server)
        process.arguments = [
            "--no-defaults", "--user=\(NSUserName())", "--datadir=\(folder.path)/data", "--socket=\(folder.path)/mysqld.sock",
            "--port=\(port)", "--bind-address=127.0.0.1", "--skip-name-resolve", "--innodb-buffer-pool-size=64M",
            "--log-error=\(folder.path)/error.log", "--tmpdir=\(folder.path)/tmp",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        lock.withLock { self.process = process }
        for _ in 0..<200 {
            if FileManager.default.fileExists(atPath: folder.path + "/mysqld.sock"), Self.connects(port) { return }
            guard process.isRunning else { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        let log = (try? String(contentsOfFile: folder.path + "/error.log", encoding: .utf8)) ?? ""
        throw ConformanceFailure("mariadbd did not start: \(log.suffix(400))")
    }

    /// Shuts the server down (SIGTERM: a clean shutdown, as a service manager does) and waits for it to exit.
    public func stop() {
        guard
            let process = lock.withLock({ () -> Process? in
                defer { self.process = nil }
                return self.process
            })
        else { return }
        process.terminate()
        process.waitUntilExit()
    }

    #if canImport(Glibc)
    static let streamSocketType = Int32(SOCK_STREAM.rawValue)
    #else
    static let streamSocketType = SOCK_STREAM
    #endif

    static func connects(_ port: Int) -> Bool {
        let socket = Foundation.socket(AF_INET, streamSocketType, 0)
        guard socket >= 0 else { return false }
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        return result == 0
    }

    /// A loopback port free a moment ago, for the server to bind.
    static func freePort() throws -> Int {
        let reserved = try ReservedPort()
        defer { reserved.release() }
        return reserved.port
    }

    /// Runs a tool to completion (in `folder`, with `environment` when given) and fails with the end of its output when
    /// it exits non-zero.
    public static func run(
        _ executable: String, _ arguments: [String], in folder: String? = nil, environment: [String: String]? = nil
    ) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let folder { process.currentDirectoryURL = URL(fileURLWithPath: folder) }
        if let environment { process.environment = environment }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            // The tools end with pages of advice; the server's own error lines say what went wrong.
            let text = String(decoding: data, as: UTF8.self)
            let errors = text.split(separator: "\n").filter { $0.contains("ERROR") || $0.contains("[Warning]") }.suffix(8)
            throw ConformanceFailure(
                "\(executable) \(arguments.joined(separator: " ")) failed (exit \(process.terminationStatus)): "
                    + "\(errors.joined(separator: "\n"))\n…\(text.suffix(400))")
        }
    }
}
