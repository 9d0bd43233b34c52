import GRDB
import GRDBSQLite
public import MarketData

/// The embedded warehouse: one SQLite file in WAL mode, through GRDB.
public final class SQLiteWarehouse: Warehouse {
    let pool: DatabasePool
    /// One connection of its own for `PRAGMA data_version`, which counts commits made by *other* connections: the
    /// pool's writer and other processes alike.
    let versionConnection: DatabaseQueue
    public let path: String

    /// Opens (creating if needed) the database at `path`. Call ``migrate()`` before use.
    public init(path: String) throws(WarehouseError) {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            // 16 KiB pages for new databases (an existing one keeps its size): fact tables are written in long
            // ascending runs and read in ranges, and bigger pages make bulk imports about 25% faster.
            try db.execute(sql: "PRAGMA page_size = 16384")
            // WAL with NORMAL sync is durable across application crashes and cheap per commit.
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            // 64 MiB of page cache keeps the upper B-tree levels of large fact tables in memory.
            try db.execute(sql: "PRAGMA cache_size = -65536")
            // Checkpoint every 2048 pages (32 MiB with 16 KiB pages) instead of 1000: each checkpoint fsyncs, and a
            // large load would otherwise checkpoint every few objects.
            try db.execute(sql: "PRAGMA wal_autocheckpoint = 2048")
            // Reads (range queries, roll-ups, checkpoints) through a memory map instead of a copy per page.
            try db.execute(sql: "PRAGMA mmap_size = 1073741824")
        }
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
            var versionConfiguration = Configuration()
            versionConfiguration.busyMode = .timeout(10)
            versionConnection = try DatabaseQueue(path: path, configuration: versionConfiguration)
        } catch {
            throw WarehouseError(operation: "open SQLite database at \(path)", detail: Self.describe(error))
        }
        self.path = path
    }

    public func migrate() async throws(WarehouseError) {
        do {
            try SQLiteSchema.migrator.migrate(pool)
        } catch {
            throw WarehouseError(operation: "migrate schema of \(path)", detail: Self.describe(error))
        }
    }

    // MARK: Plumbing

    func write<T: Sendable>(
        _ operation: String, _ body: @escaping @Sendable (Database) throws -> T
    ) async throws(WarehouseError) -> T {
        do {
            return try await pool.write(body)
        } catch {
            throw WarehouseError(operation: operation, detail: Self.describe(error))
        }
    }

    func read<T: Sendable>(
        _ operation: String, _ body: @escaping @Sendable (Database) throws -> T
    ) async throws(WarehouseError) -> T {
        do {
            return try await pool.read(body)
        } catch {
            throw WarehouseError(operation: operation, detail: Self.describe(error))
        }
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? DatabaseError { return error.message ?? "\(error.resultCode)" }
        return "\(error)"
    }

    /// Direct SQL access for tests and maintenance commands.
    public func execute(_ sql: String) async throws(WarehouseError) {
        try await write("execute SQL") { db in try db.execute(sql: sql) }
    }
}
