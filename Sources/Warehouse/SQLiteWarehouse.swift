import GRDB
import GRDBSQLite
public import MarketData

/// The embedded warehouse: one SQLite file in WAL mode, through GRDB.
public final class SQLiteWarehouse: Warehouse {
    let pool: DatabasePool
    /// Complete hours loads brought since the last roll-up (``CompleteHourCache``).
    let completeHours = CompleteHourCache()
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
        } catch {
            throw Self.failure("open SQLite database at \(path)", error)
        }
        self.path = path
    }

    public func migrate() async throws(WarehouseError) {
        do {
            try SQLiteSchema.migrator.migrate(pool)
        } catch {
            throw Self.failure("migrate schema of \(path)", error)
        }
        try await convertLegacyOrderBooks()
    }

    // MARK: Plumbing

    /// One write transaction. Unless `changesData` is false (leases, heartbeats, sessions: bookkeeping no cached
    /// response is computed from), it raises the data version in the same transaction, so that every process's caches
    /// see it.
    func write<T: Sendable>(
        _ operation: String, changesData: Bool = true, _ body: @escaping @Sendable (Database) throws -> T
    ) async throws(WarehouseError) -> T {
        do {
            return try await pool.write { db in
                if changesData { try db.execute(sql: "UPDATE warehouse_version SET version = version + 1") }
                return try body(db)
            }
        } catch {
            throw Self.failure(operation, error)
        }
    }

    func read<T: Sendable>(
        _ operation: String, _ body: @escaping @Sendable (Database) throws -> T
    ) async throws(WarehouseError) -> T {
        do {
            return try await pool.read(body)
        } catch {
            throw Self.failure(operation, error)
        }
    }

    /// `error` as a ``WarehouseError`` of the kind its cause says: busy, locked, I/O and open failures mean the database
    /// is unavailable; data that does not parse is invalid; any other SQLite error is a failed statement.
    static func failure(_ operation: String, _ error: any Error) -> WarehouseError {
        if let error = error as? WarehouseError { return error }
        guard let error = error as? DatabaseError else {
            let invalid = error is DecimalParseError || error is SymbolError
            return WarehouseError(invalid ? .invalidData : .failed, operation: operation, detail: "\(error)")
        }
        let code: WarehouseError.Code =
            switch error.resultCode.primaryResultCode {
            case .SQLITE_BUSY, .SQLITE_LOCKED, .SQLITE_IOERR, .SQLITE_CANTOPEN, .SQLITE_FULL, .SQLITE_NOMEM, .SQLITE_PROTOCOL: .unavailable
            case .SQLITE_CORRUPT, .SQLITE_NOTADB: .invalidData
            default: .failed
            }
        return WarehouseError(code, operation: operation, detail: error.message ?? "\(error.resultCode)")
    }

    /// Direct SQL access for tests and maintenance commands.
    public func execute(_ sql: String) async throws(WarehouseError) {
        try await write("execute SQL") { db in try db.execute(sql: sql) }
    }
}
