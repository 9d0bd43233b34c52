import Foundation
import Logging
import PipelineTesting
import PipelineTestingMySQL
import Synchronization
import Testing
import Warehouse

@testable import WarehouseMySQL

/// Runs blocking MariaDB client calls (and other blocking work) on a GCD thread, not on Swift's cooperative pool.
func blocking<Value: Sendable>(_ body: @escaping @Sendable () throws -> Value) async throws -> Value {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try body() }) }
    }
}

/// "The tables are created and upgraded on start (`schema_migrations` records the versions; two processes starting
/// together take turns)."
@Suite(.enabled(if: MySQLTestServer.isAvailable, Comment(rawValue: MySQLTestServer.skipReason)))
struct MySQLMigrationTurnsTests {
    @Test(.timeLimit(.minutes(5)))
    func twoWarehousesMigratingOneFreshDatabaseTogetherTakeTurnsAndApplyEachMigrationOnce() async throws {
        let server = try #require(MySQLTestServer.configuration)
        let name = "cryptopipe_turns_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(12)
        let admin = MySQLWarehouse(configuration: server)
        try await admin.execute("CREATE DATABASE \(name) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
        var configuration = server
        configuration.database = String(name)
        let database = configuration
        let observer = try await blocking { try MySQLConnection(database) }
        let records = LogRecorder()
        let first = MySQLWarehouse(configuration: configuration, logger: records.logger())
        let second = MySQLWarehouse(configuration: configuration, logger: records.logger())
        let outcome: Result<Void, any Error>
        do {
            outcome = .success(try await Self.race(first, second, observer: observer, database: String(name), records: records))
        } catch {
            outcome = .failure(error)
        }
        await first.shutdown()
        await second.shutdown()
        try await admin.execute("DROP DATABASE \(name)")
        await admin.shutdown()
        try outcome.get()
    }

    /// Holds the migration lock (its row, as another process on any node of a cluster would) while both warehouses
    /// start migrating, checks that both wait and nothing but the lock was created, lets them go, and checks the outcome.
    static func race(
        _ first: MySQLWarehouse, _ second: MySQLWarehouse, observer: MySQLConnection, database: String, records: LogRecorder
    ) async throws {
        try await blocking {
            try observer.execute(MySQLSchema.lockTableSQL)
            try observer.run(
                "INSERT INTO schema_lock (id, holder, expires_at) VALUES (1, 'observer', \(MySQLSchema.serverNow) + 600000)")
        }
        let release = {
            try await blocking { try observer.run("UPDATE schema_lock SET holder = '', expires_at = 0 WHERE id = 1") }
        }
        async let firstMigration: Void = first.migrate()
        async let secondMigration: Void = second.migrate()
        var waiting = 0
        var tables: Int64 = -1
        do {
            // Both found the lock held and wait for it.
            for _ in 0..<3_000 {
                waiting = records.all.count { $0.contains("another process is migrating the schema; waiting for it") }
                if waiting >= 2 { break }
                try await Task.sleep(for: .milliseconds(10))
            }
            // While they wait, neither has created anything but the lock.
            tables = try await blocking {
                try observer.query("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?", MySQLParameters(database))
                    .first?.int64(0) ?? -1
            }
        } catch {
            _ = try? await release()
            throw error
        }
        #expect(records.all.contains { $0.contains("observer") }, "the holder is named: \(records.all)")
        _ = try await release()
        var results: [Result<Void, any Error>] = []
        do {
            try await firstMigration
            results.append(.success(()))
        } catch {
            results.append(.failure(error))
        }
        do {
            try await secondMigration
            results.append(.success(()))
        } catch {
            results.append(.failure(error))
        }
        #expect(waiting == 2, "warehouses waiting for the migration lock")
        #expect(tables == 1, "tables created while another process held the migration lock")
        for result in results { try result.get() }

        let rows = try await blocking {
            try observer.query("SELECT id, COUNT(*) FROM \(database).schema_migrations GROUP BY id ORDER BY id").all.map {
                ($0.string(0) ?? "", $0.int64(1) ?? 0)
            }
        }
        #expect(rows.map(\.0) == MySQLSchema.migrations.map(\.id).sorted())
        #expect(rows.allSatisfy { $0.1 == 1 }, "\(rows)")
        try await first.ping()
        try await second.ping()
    }
}

/// Runs `body` with the configuration of an empty database of its own on the test server, dropped afterwards.
func withEmptyDatabase<Value>(_ prefix: String, _ body: (MySQLConfiguration) async throws -> Value) async throws -> Value {
    let server = try #require(MySQLTestServer.configuration)
    let name = prefix + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(12)
    let admin = MySQLWarehouse(configuration: server)
    try await admin.execute("CREATE DATABASE \(name) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
    var configuration = server
    configuration.database = String(name)
    let outcome = await capturing { try await body(configuration) }
    try await admin.execute("DROP DATABASE \(name)")
    await admin.shutdown()
    return try outcome.get()
}

/// A migration lock whose holder died (its expiry passed) does not hold anyone up.
@Suite(.enabled(if: MySQLTestServer.isAvailable, Comment(rawValue: MySQLTestServer.skipReason)))
struct MySQLMigrationLockTests {
    @Test func anExpiredLockIsTakenOver() async throws {
        let rows = try await withEmptyDatabase("cryptopipe_lock_") { database in
            try await blocking {
                let observer = try MySQLConnection(database)
                try observer.execute(MySQLSchema.lockTableSQL)
                try observer.run("INSERT INTO schema_lock (id, holder, expires_at) VALUES (1, 'dead', \(MySQLSchema.serverNow) - 1)")
            }
            let warehouse = MySQLWarehouse(configuration: database)
            let migrated = await capturing { try await warehouse.migrate() }
            await warehouse.shutdown()
            try migrated.get()
            // Let go when done: the row names no one.
            return try await blocking {
                try MySQLConnection(database).query("SELECT holder, expires_at FROM schema_lock").all.map {
                    ($0.string(0) ?? "?", $0.int64(1) ?? -1)
                }
            }
        }
        #expect(rows.count == 1 && rows[0].0 == "" && rows[0].1 == 0, "\(rows)")
    }
}

/// A migration rerun on a new connection (the old one lost mid-way) takes back the lock its first attempt left
/// behind, instead of waiting for itself.
@Suite(.enabled(if: MySQLTestServer.isAvailable, Comment(rawValue: MySQLTestServer.skipReason)))
struct MySQLMigrationRerunTests {
    @Test func aRerunTakesBackItsOwnLock() async throws {
        try await withEmptyDatabase("cryptopipe_rerun_") { database in
            let warehouse = MySQLWarehouse(configuration: database)
            let holder = warehouse.migrationHolder
            let outcome = await capturing {
                // The first attempt's lock, still current (a lost connection cannot give it back).
                try await blocking {
                    let observer = try MySQLConnection(database)
                    try observer.execute(MySQLSchema.lockTableSQL)
                    try observer.run(
                        "INSERT INTO schema_lock (id, holder, expires_at) VALUES (1, ?, \(MySQLSchema.serverNow) + 600000)",
                        MySQLParameters(holder))
                }
                let started = ContinuousClock.now
                try await warehouse.migrate()
                // At once, not after the lock's 10 minutes or the 3 minutes a waiter gives another.
                #expect(ContinuousClock.now - started < .seconds(60))
            }
            await warehouse.shutdown()
            try outcome.get()
        }
    }
}

/// What `body` returned or threw.
func capturing<Value>(_ body: () async throws -> Value) async -> Result<Value, any Error> {
    do { return .success(try await body()) } catch { return .failure(error) }
}

/// `tls=verify` with `ca=` against a MariaDB of the test's own that serves a certificate made for the test.
@Suite(.enabled(if: MySQLTLSServer.isAvailable, Comment(rawValue: MySQLTLSServer.skipReason)))
struct MySQLTLSVerifyTests {
    /// The error's text, or `nil` when it connected.
    static func failure(_ result: Result<MySQLConnection, any Error>) -> String? {
        if case .failure(let error) = result { return "\(error)" }
        return nil
    }

    @Test(.timeLimit(.minutes(5)))
    func verifyWithCAConnectsOnlyToACertificateFromThatCAForTheHost() async throws {
        let server = try await MySQLTLSServer.launch()
        defer { server.stop() }

        // The README's form: mysql://user@host/db?tls=verify&ca=PATH (the password from the environment or here).
        let verified = try server.configuration("tls=verify&ca=\(server.tls)/ca.pem")
        #expect(verified.tls == .verify && verified.certificateAuthorityPath == server.tls + "/ca.pem")
        let cipher = try await blocking {
            try MySQLConnection(verified).query("SHOW SESSION STATUS LIKE 'Ssl_version'").first?.string(1)
        }
        #expect(cipher?.hasPrefix("TLS") == true, "\(cipher ?? "no TLS")")
        let warehouse = MySQLWarehouse(configuration: verified)
        try await warehouse.migrate()
        try await warehouse.ping()
        await warehouse.shutdown()

        // Another CA, or the system's CAs (which do not know the test's CA): refused.
        for options in ["tls=verify&ca=\(server.tls)/other-ca.pem", "tls=verify"] {
            let configuration = try server.configuration(options)
            let refused = await capturing { try await blocking { try MySQLConnection(configuration) } }
            let message = Self.failure(refused)
            #expect(
                message?.contains("TLS/SSL error: self-signed certificate in certificate chain (MySQL error 2026") == true,
                "\(options): \(message ?? "connected")")
            #expect(message?.contains(server.password) == false)
        }
        // `required` encrypts without checking who answers.
        let required = try server.configuration("tls=required")
        #expect(try await blocking { try MySQLConnection(required).query("SHOW SESSION STATUS LIKE 'Ssl_version'").first?.string(1) } != "")

        // The server now shows a certificate from the right CA made for another host name: verify refuses it.
        try await server.useCertificate("wrong-host")
        let wrongHost = await capturing { try await blocking { try MySQLConnection(verified) } }
        let message = Self.failure(wrongHost)
        #expect(
            message?.contains("TLS/SSL error: Validation of SSL server certificate failed (MySQL error 2026") == true,
            "\(message ?? "connected")")
        _ = try await blocking { try MySQLConnection(required) }
    }
}

/// A private MariaDB (``PrivateMariaDB``'s folder, user and port) restarted with TLS: a test CA, a server certificate
/// for 127.0.0.1 signed by it, and spares (another CA; a certificate for another host) made with `openssl`.
final class MySQLTLSServer: Sendable {
    let database: PrivateMariaDB
    private let process: Mutex<Process?>

    static let openssl = ["/usr/bin/openssl", "/usr/local/bin/openssl", "/opt/homebrew/bin/openssl"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    static var isAvailable: Bool { PrivateMariaDB.isAvailable && openssl != nil }

    static var skipReason: String {
        PrivateMariaDB.isAvailable ? "openssl not found: it makes the test certificates" : "mariadbd not found: run scripts/test"
    }

    var tls: String { database.folder.path + "/tls" }
    var password: String { database.password }

    private init(database: PrivateMariaDB) {
        self.database = database
        self.process = Mutex(nil)
    }

    static func launch() async throws -> MySQLTLSServer {
        let database = try await PrivateMariaDB.launch()
        await database.shutDown()
        let server = MySQLTLSServer(database: database)
        try await blocking {
            try server.makeCertificates()
            try server.start()
        }
        return server
    }

    /// `mysql://cryptopipe@127.0.0.1:PORT/cryptopipe?OPTIONS` with the password.
    func configuration(_ options: String) throws -> MySQLConfiguration {
        var configuration = try MySQLConfiguration(url: "mysql://cryptopipe@127.0.0.1:\(database.port)/cryptopipe?\(options)")
        configuration.password = database.password
        configuration.poolSize = 1
        return configuration
    }

    private func makeCertificates() throws {
        try FileManager.default.createDirectory(atPath: tls, withIntermediateDirectories: true)
        for ca in ["ca", "other-ca"] {
            try run(
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "\(ca)-key.pem", "-out", "\(ca).pem", "-days", "2", "-subj",
                "/CN=CryptoPipe test \(ca)")
        }
        for (name, subject, names) in [("good", "127.0.0.1", "IP:127.0.0.1"), ("wrong-host", "db.example.test", "DNS:db.example.test")] {
            try Data("subjectAltName=\(names)\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n".utf8).write(
                to: URL(fileURLWithPath: "\(tls)/\(name).ext"))
            try run(
                "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server-\(name)-key.pem", "-out", "server-\(name).csr", "-subj",
                "/CN=\(subject)")
            try run(
                "x509", "-req", "-in", "server-\(name).csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial", "-out",
                "server-\(name).pem", "-days", "2", "-extfile", "\(name).ext")
        }
        try install("good")
    }

    /// Puts `server-NAME.pem` and its key where the server reads its certificate.
    private func install(_ name: String) throws {
        for (from, to) in [("server-\(name).pem", "server.pem"), ("server-\(name)-key.pem", "server-key.pem")] {
            try? FileManager.default.removeItem(atPath: "\(tls)/\(to)")
            try FileManager.default.copyItem(atPath: "\(tls)/\(from)", toPath: "\(tls)/\(to)")
        }
    }

    /// Serves another certificate from now on (`FLUSH SSL` reloads it without a restart).
    func useCertificate(_ name: String) async throws {
        try await blocking {
            try self.install(name)
            try Self.execute(
                "/usr/bin/mariadb",
                ["--no-defaults", "--socket=\(self.database.folder.path)/mysqld.sock", "-uroot", "-e", "FLUSH SSL"], in: self.tls)
        }
    }

    private func run(_ arguments: String...) throws {
        guard let openssl = Self.openssl else { throw ConformanceFailure("openssl not found") }
        try Self.execute(openssl, arguments, in: tls)
    }

    /// A tool run in `folder` with nothing from the test's environment.
    static func execute(_ executable: String, _ arguments: [String], in folder: String) throws {
        try PrivateMariaDB.run(executable, arguments, in: folder, environment: [:])
    }

    private func start() throws {
        let folder = database.folder.path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/mariadbd")
        process.arguments = [
            "--no-defaults", "--user=\(NSUserName())", "--datadir=\(folder)/data", "--socket=\(folder)/mysqld.sock",
            "--port=\(database.port)", "--bind-address=127.0.0.1", "--skip-name-resolve", "--innodb-buffer-pool-size=64M",
            "--log-error=\(folder)/error.log", "--ssl-ca=\(tls)/ca.pem", "--ssl-cert=\(tls)/server.pem", "--ssl-key=\(tls)/server-key.pem",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process.withLock { $0 = process }
        // Ready once the root user gets an answer over the socket.
        for _ in 0..<400 {
            guard process.isRunning else { break }
            if (try? Self.execute(
                "/usr/bin/mariadb", ["--no-defaults", "--socket=\(folder)/mysqld.sock", "-uroot", "-e", "SELECT 1"], in: folder)) != nil
            {
                return
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        let log = (try? String(contentsOfFile: folder + "/error.log", encoding: .utf8)) ?? ""
        throw ConformanceFailure("mariadbd with TLS did not start: \(log.suffix(600))")
    }

    func stop() {
        guard
            let process = process.withLock({ process in
                defer { process = nil }; return process
            })
        else { return }
        process.terminate()
        process.waitUntilExit()
    }
}
