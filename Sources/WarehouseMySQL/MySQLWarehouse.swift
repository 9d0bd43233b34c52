public import Logging
import MarketData
public import ServiceLifecycle
public import Warehouse

/// The warehouse on a MySQL 8 or MariaDB server (the original design's database), through the MariaDB C client.
///
/// Behaves exactly like ``SQLiteWarehouse`` (both pass `WarehouseConformance`): every write is one transaction,
/// decimals are `DECIMAL(40,8)` bound and read as text, so values are exact. Each write transaction first bumps this
/// process's row of `warehouse_version` (the data version is their sum): a row per writer, so writers through different
/// nodes of a Galera cluster do not all conflict on one row.
/// Transactions interrupted by a lost connection are run again on a new one (see ``MySQLConnectionPool``).
public final class MySQLWarehouse: Warehouse {
    public let configuration: MySQLConfiguration
    let pool: MySQLConnectionPool
    let completeHours = CompleteHourCache()
    let logger: Logger
    /// This warehouse's name on the migration lock: the same for a migration rerun on a new connection.
    let migrationHolder = String(UInt64.random(in: 1...UInt64.max), radix: 16)
    /// This warehouse's row in `warehouse_version` (row 1 holds the count from before rows per writer).
    let versionRow = Int64.random(in: 2...Int64.max)

    public init(configuration: MySQLConfiguration, logger: Logger = Logger(label: "cryptopipe.mysql")) {
        self.configuration = configuration
        self.logger = logger
        pool = MySQLConnectionPool(configuration: configuration, logger: logger)
    }

    /// Closes the connections and stops the pool's threads.
    public func shutdown() async { await pool.shutdown() }

    /// The warehouse's part in the process's ServiceGroup: when shutdown begins, jobs retrying through an outage fail at
    /// once instead of waiting out ``MySQLConfiguration/reconnectWindow``. Put it last in the group, so it is told
    /// first (a group shuts its services down in reverse order) and a job the scheduler waits for is not kept retrying.
    public var retryService: some Service { RetryStopper(pool: pool) }

    public func migrate() async throws(WarehouseError) {
        let (views, database, logger, me) = (configuration.originalViewsDatabase, configuration.database, logger, migrationHolder)
        try await run("migrate the schema of \(configuration)") { connection throws(MySQLError) in
            try MySQLSchema.migrate(connection, originalViews: views, warehouse: database, holder: me) { holder in
                logger.notice("another process is migrating the schema; waiting for it", metadata: ["mysql.lock_holder": "\(holder)"])
            }
        }
        try await convertLegacyOrderBooks()
    }

    /// The server's version, e.g. `10.11.19-MariaDB`.
    public func serverVersion() async throws(WarehouseError) -> String {
        try await run("read the server version") { connection throws(MySQLError) in connection.serverVersion }
    }

    // MARK: Plumbing

    static let bumpVersionSQL = "INSERT INTO warehouse_version (id, version) VALUES (?, 1) ON DUPLICATE KEY UPDATE version = version + 1"

    /// One write transaction, run again on a new connection if the connection is lost before it commits.
    func write<T: Sendable>(
        _ operation: String, _ body: @escaping @Sendable (MySQLConnection) throws(MySQLError) -> T
    ) async throws(WarehouseError) -> T {
        let versionRow = self.versionRow
        return try await run(operation) { connection throws(MySQLError) in
            try connection.transaction { connection throws(MySQLError) in
                try connection.run(Self.bumpVersionSQL, MySQLParameters(versionRow))
                return try body(connection)
            }
        }
    }

    /// Reads (and statements that must not run in a transaction, such as DDL and `ANALYZE`).
    func run<T: Sendable>(
        _ operation: String, _ body: @escaping @Sendable (MySQLConnection) throws(MySQLError) -> T
    ) async throws(WarehouseError) -> T {
        do {
            return try await pool.run(operation, body)
        } catch {
            let code: WarehouseError.Code =
                error.isConnectionFailure || error.isTransientConflict ? .unavailable : error.isDataException ? .invalidData : .failed
            throw WarehouseError(code, operation: operation, detail: error.description)
        }
    }

    /// Runs untyped-throwing shared code (the roll-up algorithm) inside a typed job.
    static func typed<T>(_ operation: String, _ body: () throws -> T) throws(MySQLError) -> T {
        do {
            return try body()
        } catch let error as MySQLError {
            throw error
        } catch let error as DecimalParseError {
            throw .invalidData("\(error)", operation: operation)
        } catch let error as SymbolError {
            throw .invalidData("\(error)", operation: operation)
        } catch {
            throw .ours("\(error)", operation: operation)
        }
    }

    /// Direct SQL access for tests and maintenance commands.
    public func execute(_ sql: String) async throws(WarehouseError) {
        try await run("execute SQL") { connection throws(MySQLError) in try connection.execute(sql) }
    }
}

/// Stops the pool's retries when the process's graceful shutdown begins.
struct RetryStopper: Service {
    let pool: MySQLConnectionPool

    func run() async throws {
        do {
            try await gracefulShutdown()
        } catch {
            // Cancelled rather than shut down gracefully: the retries stop all the same.
        }
        await pool.stopRetrying()
    }
}
