public import Logging

/// Read-only access to another MySQL or MariaDB database (the original system's, for `adopt`). Each query runs in a
/// read-only transaction, so the server refuses any write, on a pool thread, and is retried after a lost connection.
public struct MySQLReader: Sendable {
    let pool: MySQLConnectionPool
    public let configuration: MySQLConfiguration

    public init(configuration: MySQLConfiguration, logger: Logger) {
        self.configuration = configuration
        pool = MySQLConnectionPool(configuration: configuration, logger: logger)
    }

    public func query(_ sql: String, _ parameters: MySQLParameters = MySQLParameters()) async throws(MySQLError) -> MySQLRows {
        try await pool.run("read \(MySQLConnection.summary(sql))") { connection throws(MySQLError) in
            try connection.execute("START TRANSACTION READ ONLY")
            do throws(MySQLError) {
                let rows = try connection.query(sql, parameters)
                try connection.execute("COMMIT")
                return rows
            } catch {
                // A connection that is gone has ended the transaction already; the original error is the one to report.
                if !error.isConnectionFailure { try? connection.execute("ROLLBACK") }
                throw error
            }
        }
    }

    public func shutdown() async { await pool.shutdown() }
}
