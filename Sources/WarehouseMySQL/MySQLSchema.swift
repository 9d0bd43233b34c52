#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Versioned migrations of the MySQL/MariaDB schema: the same tables, columns and keys as the SQLite schema.
///
/// - Prices, quantities and volumes are `DECIMAL(40,8)`: eight fractional digits like Binance's strings and 32 integer
///   digits, more than the 29 `ExactDecimal` reads, so no value we store can be rounded or refused.
/// - Text keys are binary-collated (`ascii_bin`, `utf8mb4_bin`): comparisons and prefix ranges work byte by byte, as
///   in SQLite.
/// - `interval`, `ignore`, `rows`, `trigger` and `key` are reserved words in MySQL 8 or MariaDB and are quoted with
///   backticks everywhere.
/// - Only syntax both MySQL 8 and MariaDB 10.11 accept; indexes are declared inside `CREATE TABLE` (MySQL 8 has no
///   `CREATE INDEX IF NOT EXISTS`), so every statement of a migration can be re-run after an interrupted migration
///   (MySQL commits each DDL statement on its own).
enum MySQLSchema {
    struct Migration {
        var id: String
        /// Runs before the statements, for a step no statement can make re-runnable (a conditional rename).
        var prepare: (@Sendable (MySQLConnection) throws(MySQLError) -> Void)? = nil
        var statements: [String]
    }

    static let decimal = "DECIMAL(40,8) NOT NULL"
    static let symbol = "VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL"
    static let table = "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"

    static let migrations: [Migration] = [
        Migration(
            id: "v1-warehouse",
            statements: [
                """
                CREATE TABLE IF NOT EXISTS fact_klines (
                    symbol \(symbol),
                    `interval` VARCHAR(4) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
                    open_time BIGINT NOT NULL,
                    open \(decimal), high \(decimal), low \(decimal), close \(decimal), volume \(decimal),
                    close_time BIGINT NOT NULL,
                    quote_volume \(decimal),
                    trade_count BIGINT NOT NULL,
                    taker_buy_base_volume \(decimal), taker_buy_quote_volume \(decimal),
                    `ignore` VARCHAR(64) NOT NULL,
                    is_final TINYINT NOT NULL,
                    captured_at BIGINT NOT NULL,
                    PRIMARY KEY (symbol, `interval`, open_time)
                ) \(table)
                """,
                """
                CREATE TABLE IF NOT EXISTS fact_orderbook (
                    symbol \(symbol),
                    captured_at BIGINT NOT NULL,
                    side VARCHAR(3) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
                    price \(decimal),
                    quantity \(decimal),
                    level INT NOT NULL,
                    last_update_id BIGINT NOT NULL,
                    PRIMARY KEY (symbol, captured_at, side, price),
                    CONSTRAINT fact_orderbook_side CHECK (side IN ('bid', 'ask'))
                ) \(table)
                """,
                """
                CREATE TABLE IF NOT EXISTS extraction_metadata (
                    symbol \(symbol),
                    data_type VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
                    last_fetch_time BIGINT NOT NULL,
                    last_open_time BIGINT NULL,
                    record_count BIGINT NOT NULL DEFAULT 0,
                    PRIMARY KEY (symbol, data_type)
                ) \(table)
                """,
                """
                CREATE TABLE IF NOT EXISTS processed_files (
                    object_key VARCHAR(700) NOT NULL,
                    bucket VARCHAR(255) NOT NULL,
                    processed_at BIGINT NOT NULL,
                    `rows` BIGINT NOT NULL,
                    archived TINYINT NOT NULL DEFAULT 0,
                    rows_unchanged BIGINT NOT NULL DEFAULT 0,
                    PRIMARY KEY (object_key)
                ) \(table)
                """,
                """
                CREATE TABLE IF NOT EXISTS rejected_files (
                    object_key VARCHAR(700) NOT NULL,
                    moved_to VARCHAR(700) NOT NULL,
                    rejected_at BIGINT NOT NULL,
                    reason TEXT NOT NULL,
                    PRIMARY KEY (object_key)
                ) \(table)
                """,
                rollupTable("hourly_klines"),
                rollupTable("daily_klines"),
                """
                CREATE TABLE IF NOT EXISTS rollup_pending (
                    symbol \(symbol),
                    `period` VARCHAR(2) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
                    open_time BIGINT NOT NULL,
                    PRIMARY KEY (symbol, `period`, open_time),
                    CONSTRAINT rollup_pending_period CHECK (`period` IN ('1h', '1d'))
                ) \(table)
                """,
                """
                CREATE TABLE IF NOT EXISTS kline_gaps (
                    symbol \(symbol),
                    from_time BIGINT NOT NULL,
                    to_time BIGINT NOT NULL,
                    status VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
                    detected_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL,
                    PRIMARY KEY (symbol, from_time),
                    CONSTRAINT kline_gaps_status CHECK (status IN ('open', 'filled', 'exchange-empty'))
                ) \(table)
                """,
                """
                CREATE TABLE IF NOT EXISTS job_runs (
                    id BIGINT NOT NULL AUTO_INCREMENT,
                    job VARCHAR(64) NOT NULL,
                    `trigger` VARCHAR(32) NOT NULL,
                    started_at BIGINT NOT NULL,
                    finished_at BIGINT NULL,
                    status VARCHAR(16) NOT NULL,
                    files BIGINT NOT NULL DEFAULT 0,
                    `rows` BIGINT NOT NULL DEFAULT 0,
                    error TEXT NULL,
                    PRIMARY KEY (id),
                    KEY job_runs_by_job (job, id),
                    KEY job_runs_by_status (status, id),
                    CONSTRAINT job_runs_status CHECK (status IN ('running', 'succeeded', 'partial', 'failed'))
                ) \(table)
                """,
                """
                CREATE TABLE IF NOT EXISTS job_schedules (
                    job VARCHAR(64) NOT NULL,
                    enabled TINYINT NOT NULL,
                    interval_seconds BIGINT NULL,
                    weekday INT NULL,
                    minute_of_day INT NULL,
                    updated_at BIGINT NOT NULL,
                    PRIMARY KEY (job),
                    CONSTRAINT job_schedules_weekday CHECK (weekday BETWEEN 0 AND 6),
                    CONSTRAINT job_schedules_minute CHECK (minute_of_day BETWEEN 0 AND 1439),
                    CONSTRAINT job_schedules_kind CHECK ((interval_seconds IS NULL) <> (weekday IS NULL AND minute_of_day IS NULL))
                ) \(table)
                """,
                """
                CREATE TABLE IF NOT EXISTS settings (
                    `key` VARCHAR(191) NOT NULL,
                    value TEXT NOT NULL,
                    updated_at BIGINT NOT NULL,
                    PRIMARY KEY (`key`)
                ) \(table)
                """,
                // One row counting committed write transactions: MySQL has no `PRAGMA data_version`. Every write
                // transaction bumps it first, which also orders writers from several processes without deadlocks.
                """
                CREATE TABLE IF NOT EXISTS warehouse_version (
                    id TINYINT NOT NULL,
                    version BIGINT NOT NULL,
                    PRIMARY KEY (id)
                ) \(table)
                """,
                "INSERT IGNORE INTO warehouse_version (id, version) VALUES (1, 0)",
            ]),
        Migration(
            id: "v2-sessions",
            statements: [
                // Sign-in sessions of the pages (``SessionStore``): the id's hash, never the id.
                """
                CREATE TABLE IF NOT EXISTS web_sessions (
                    id_hash CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
                    form_token CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
                    created_at BIGINT NOT NULL,
                    last_seen_at BIGINT NOT NULL,
                    PRIMARY KEY (id_hash)
                ) \(table)
                """
            ]),
        Migration(
            id: "v3-compact-books",
            // One row per snapshot (``CompactOrderBook``); the old per-level table is kept as `fact_orderbook_v1` until
            // ``MySQLWarehouse/convertLegacyOrderBooks()`` has moved its snapshots, a batch per transaction.
            prepare: { connection throws(MySQLError) in
                let type = try connection.query(
                    "SELECT TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'fact_orderbook'"
                ).first?.string(0)
                if type == "BASE TABLE" { try connection.execute("RENAME TABLE fact_orderbook TO fact_orderbook_v1") }
            },
            statements: [
                """
                CREATE TABLE IF NOT EXISTS orderbook_snapshots (
                    symbol \(symbol),
                    captured_at BIGINT NOT NULL,
                    last_update_id BIGINT NOT NULL,
                    price_tick BIGINT NOT NULL,
                    quantity_lot BIGINT NOT NULL,
                    levels INT NOT NULL,
                    bids LONGTEXT CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
                    asks LONGTEXT CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
                    PRIMARY KEY (symbol, captured_at)
                ) \(table)
                """,
                factOrderBookView,
            ]),
        Migration(
            id: "v4-workers",
            // Several `run` processes on one warehouse (``LeaseStore``): their heartbeats, the leases that split the
            // symbols and the singleton jobs among them, and which worker ran each job. Every table has a primary key
            // (Galera replicates rows by it).
            prepare: { connection throws(MySQLError) in
                let present =
                    try connection.query(
                        """
                        SELECT count(*) FROM information_schema.COLUMNS
                        WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'job_runs' AND COLUMN_NAME = 'worker'
                        """
                    ).first?.int64(0) ?? 0
                if present == 0 {
                    try connection.execute("ALTER TABLE job_runs ADD COLUMN worker VARCHAR(128) NOT NULL DEFAULT ''")
                }
            },
            statements: [
                """
                CREATE TABLE IF NOT EXISTS cluster_workers (
                    worker_id VARCHAR(128) NOT NULL,
                    host VARCHAR(255) NOT NULL,
                    process_id BIGINT NOT NULL,
                    started_at BIGINT NOT NULL,
                    heartbeat_at BIGINT NOT NULL,
                    lease_ms BIGINT NOT NULL,
                    PRIMARY KEY (worker_id)
                ) \(table)
                """,
                """
                CREATE TABLE IF NOT EXISTS leases (
                    name VARCHAR(160) NOT NULL,
                    holder VARCHAR(128) NOT NULL,
                    acquired_at BIGINT NOT NULL,
                    expires_at BIGINT NOT NULL,
                    PRIMARY KEY (name)
                ) \(table)
                """,
            ]),
        Migration(
            id: "v5-version-rows",
            // A `warehouse_version` row per writing process (``MySQLWarehouse/versionRow``), the data version their sum:
            // writers through different nodes of a Galera cluster no longer all conflict on one row.
            statements: ["ALTER TABLE warehouse_version MODIFY id BIGINT NOT NULL"]),
    ]

    /// `fact_orderbook` as it was, a row per level with `DECIMAL(40,8)` values, unfolded from `orderbook_snapshots` with
    /// `JSON_TABLE`: a level's price is the running sum of its steps times the tick (bids step down from the first
    /// level); a snapshot in the plain form (`price_tick` 0) holds its decimals as text. Conditions on `symbol` and
    /// `captured_at` are pushed to the table's key, as both are the windows' partition. Levels are read as text and
    /// cast to integers only in the compact form, so a plain form's decimals are never truncated into integers (a
    /// warning a strict `INSERT … SELECT` would turn into an error), and the doubling is in `DECIMAL`.
    static let factOrderBookView = """
                CREATE OR REPLACE SQL SECURITY INVOKER VIEW fact_orderbook (symbol, captured_at, side, price, quantity, level, last_update_id) AS
                SELECT symbol, captured_at, side,
                    CAST(CASE WHEN tick = 0 THEN a ELSE tick * steps * 0.00000001 END AS DECIMAL(40,8)),
                    CAST(CASE WHEN tick = 0 THEN b ELSE lot * CAST(b AS SIGNED) * 0.00000001 END AS DECIMAL(40,8)),
                    level, last_update_id
                FROM (
                    SELECT s.symbol, s.captured_at, 'bid' AS side, s.price_tick AS tick, s.quantity_lot AS lot, s.last_update_id,
                        CAST(j.level - 1 AS SIGNED) AS level, j.a, j.b,
                        2 * FIRST_VALUE(CASE WHEN s.price_tick > 0 THEN CAST(j.a AS DECIMAL(20,0)) END) OVER w
                            - SUM(CASE WHEN s.price_tick > 0 THEN CAST(j.a AS SIGNED) END) OVER w AS steps
                    FROM orderbook_snapshots AS s,
                        JSON_TABLE(s.bids, '$[*]' COLUMNS (level FOR ORDINALITY, a VARCHAR(64) PATH '$[0]', b VARCHAR(64) PATH '$[1]')) AS j
                    WINDOW w AS (PARTITION BY s.symbol, s.captured_at ORDER BY j.level)
                    UNION ALL
                    SELECT s.symbol, s.captured_at, 'ask', s.price_tick, s.quantity_lot, s.last_update_id,
                        CAST(j.level - 1 AS SIGNED), j.a, j.b,
                        SUM(CASE WHEN s.price_tick > 0 THEN CAST(j.a AS SIGNED) END) OVER w
                    FROM orderbook_snapshots AS s,
                        JSON_TABLE(s.asks, '$[*]' COLUMNS (level FOR ORDINALITY, a VARCHAR(64) PATH '$[0]', b VARCHAR(64) PATH '$[1]')) AS j
                    WINDOW w AS (PARTITION BY s.symbol, s.captured_at ORDER BY j.level)
                ) AS levels
        """

    static func rollupTable(_ name: String) -> String {
        """
        CREATE TABLE IF NOT EXISTS \(name) (
            symbol \(symbol),
            open_time BIGINT NOT NULL,
            open \(decimal), high \(decimal), low \(decimal), close \(decimal), volume \(decimal),
            close_time BIGINT NOT NULL,
            quote_volume \(decimal),
            trade_count BIGINT NOT NULL,
            taker_buy_base_volume \(decimal), taker_buy_quote_volume \(decimal),
            minute_count BIGINT NOT NULL,
            is_final TINYINT NOT NULL,
            PRIMARY KEY (symbol, open_time)
        ) \(table)
        """
    }

    /// The migration lock: one row naming its holder until its expiry (the server's time), so a holder that died
    /// frees it once its lease runs out. A row, not `GET_LOCK`: a named lock holds on one node of a Galera cluster
    /// only, while the row is replicated, and two nodes taking it at once is a certification conflict, one of them
    /// rerun.
    static let lockTableSQL = """
        CREATE TABLE IF NOT EXISTS schema_lock (
            id TINYINT NOT NULL,
            holder VARCHAR(64) NOT NULL,
            expires_at BIGINT NOT NULL,
            PRIMARY KEY (id)
        ) \(table)
        """
    /// The server's clock in milliseconds: the holders' clocks may differ, and every node's is close to the others'.
    static let serverNow = "CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED)"
    /// How long the lock is held without a renewal; it is renewed after each migration. A process that died holding
    /// it holds up the others this long at most.
    static let lockLeaseMilliseconds: Int64 = 120_000
    /// How long a process waits for another's migration before it gives up: longer than a lease, so a dead holder's
    /// lock is taken over rather than failing the start.
    static let lockWaitMilliseconds: Int64 = 180_000

    /// Takes the migration lock for `holder` (waiting for another process's, see ``lockWaitMilliseconds``), runs
    /// `body` with a function that renews it, and lets it go. `holder` stays the same for a warehouse, so a migration
    /// rerun on a new connection (the old one lost mid-way) takes back its own lock at once. `waiting` is told the
    /// holder once when the lock is found held by another.
    static func withMigrationLock(
        _ connection: MySQLConnection, holder: String, waiting: (String) -> Void,
        _ body: (() throws(MySQLError) -> Void) throws(MySQLError) -> Void
    ) throws(MySQLError) {
        try connection.execute(lockTableSQL)
        try connection.run("INSERT IGNORE INTO schema_lock (id, holder, expires_at) VALUES (1, '', 0)")
        let take = """
            UPDATE schema_lock SET holder = ?, expires_at = \(serverNow) + ? WHERE id = 1 AND (holder = ? OR expires_at < \(serverNow))
            """
        let parameters = MySQLParameters(holder, lockLeaseMilliseconds, holder)
        // The row read back decides: an UPDATE that changes nothing (a retake in the same millisecond) reports 0 rows.
        func currentHolder() throws(MySQLError) -> String {
            try connection.query("SELECT holder FROM schema_lock WHERE id = 1").first?.string(0) ?? ""
        }
        var waited: Int64 = 0
        while true {
            try connection.run(take, parameters)
            let current = try currentHolder()
            if current == holder { break }
            if waited == 0 { waiting(current) }
            guard waited < lockWaitMilliseconds else {
                throw .ours(
                    "another process (\(current)) held the migration lock for \(lockWaitMilliseconds / 1_000) s",
                    operation: "migrate the schema")
            }
            usleep(200_000)
            waited += 200
        }
        defer {
            _ = try? connection.run(
                "UPDATE schema_lock SET holder = '', expires_at = 0 WHERE id = 1 AND holder = ?", MySQLParameters(holder))
        }
        try body { () throws(MySQLError) in
            try connection.run(
                "UPDATE schema_lock SET expires_at = \(serverNow) + ? WHERE id = 1 AND holder = ?",
                MySQLParameters(lockLeaseMilliseconds, holder))
            guard try currentHolder() == holder else {
                throw MySQLError.ours("the migration lock expired and was taken over; start again", operation: "migrate the schema")
            }
        }
    }

    /// Applies the migrations not yet recorded in `schema_migrations`, under the migration lock (held as `holder`) so
    /// two processes starting together (on one server or on different nodes of a cluster) do not both migrate.
    /// With `originalViews`, also creates or replaces the original design's views in that database (``OriginalViews``).
    static func migrate(
        _ connection: MySQLConnection, originalViews: String?, warehouse: String,
        holder: String = String(UInt64.random(in: 1...UInt64.max), radix: 16), waiting: (String) -> Void = { _ in }
    ) throws(MySQLError) {
        try withMigrationLock(connection, holder: holder, waiting: waiting) { renew throws(MySQLError) in
            try migrateLocked(connection, originalViews: originalViews, warehouse: warehouse, renew: renew)
        }
    }

    private static func migrateLocked(
        _ connection: MySQLConnection, originalViews: String?, warehouse: String, renew: () throws(MySQLError) -> Void
    ) throws(MySQLError) {
        try connection.execute(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                id VARCHAR(64) NOT NULL,
                applied_at BIGINT NOT NULL,
                PRIMARY KEY (id)
            ) \(table)
            """)
        let applied = Set(try connection.query("SELECT id FROM schema_migrations").all.compactMap { $0.string(0) })
        for migration in migrations where !applied.contains(migration.id) {
            try migration.prepare?(connection)
            for statement in migration.statements { try connection.execute(statement) }
            let parameters = MySQLParameters(migration.id)
            try connection.run(
                "INSERT INTO schema_migrations (id, applied_at) VALUES (?, UNIX_TIMESTAMP() * 1000)", parameters)
            try renew()
        }
        if let originalViews {
            guard MySQLConfiguration.isValidDatabaseName(originalViews), originalViews != warehouse else {
                throw .ours(
                    "'\(originalViews)' cannot hold the original design's views: use another database name of letters, digits and _",
                    operation: "create the original design's views")
            }
            // Made once per version of their definition (and again when one is missing): replacing a view waits for
            // every query reading it, so doing it on every start could hold a start behind a dashboard's long query.
            let made = try connection.query(
                "SELECT value FROM settings WHERE `key` = ?", MySQLParameters(OriginalViews.versionSetting)
            ).first?.string(0)
            var names = MySQLParameters(originalViews)
            for name in OriginalViews.names { names.append(name) }
            let present = try connection.query(
                "SELECT COUNT(*) FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ? AND TABLE_NAME IN ("
                    + OriginalViews.names.map { _ in "?" }.joined(separator: ", ") + ")", names
            ).first?.int64(0)
            // The tables they read change with the migrations: a new one remakes them too.
            let marker = "\(OriginalViews.version) \(migrations.last?.id ?? "") \(originalViews)"
            guard made != marker || present != Int64(OriginalViews.names.count) else { return }
            // And when it must wait, it gives up after a while with the server's own error rather than hang the start.
            try connection.execute("SET SESSION lock_wait_timeout = 30")
            defer { try? connection.execute("SET SESSION lock_wait_timeout = DEFAULT") }
            for statement in OriginalViews.statements(views: originalViews, warehouse: warehouse) {
                do {
                    try connection.execute(statement)
                } catch {
                    // Access denied: say which rights; anything else (a lock wait that timed out) as the server said it.
                    let denied = [1_044, 1_142, 1_227].contains(error.code)
                    throw .init(
                        code: error.code, sqlState: error.sqlState,
                        message: denied
                            ? "\(error.message); the user needs CREATE, CREATE VIEW and DROP on database `\(originalViews)` "
                                + "(or create it first and grant CREATE VIEW and DROP on it)" : error.message,
                        operation: "create the original design's views in `\(originalViews)`")
                }
            }
            var parameters = MySQLParameters(OriginalViews.versionSetting)
            parameters.append(marker)
            try connection.run(
                "INSERT INTO settings (`key`, value, updated_at) VALUES (?, ?, UNIX_TIMESTAMP() * 1000) "
                    + "ON DUPLICATE KEY UPDATE value = VALUES(value), updated_at = VALUES(updated_at)", parameters)
        }
    }
}
