import CMariaDB

/// One client connection through the MariaDB C library, with its prepared statements.
///
/// Every call blocks, so connections are only used on the pool's own threads, and by one thread at a time: the pool
/// hands a connection to exactly one job and takes it back when the job ends. That checkout is what makes the
/// `@unchecked Sendable` sound.
public final class MySQLConnection: @unchecked Sendable {
    private let handle: OpaquePointer
    private var statements: [String: MySQLStatement] = [:]

    /// The server it is connected to.
    public let server: MySQLConfiguration.Server

    /// Connects to `server` (by default the configuration's first) and sets the session up (UTF-8, strict SQL mode, UTC,
    /// READ COMMITTED).
    public init(_ configuration: MySQLConfiguration, server: MySQLConfiguration.Server? = nil) throws(MySQLError) {
        let server = server ?? configuration.servers[0]
        var single = configuration
        single.servers = [server]
        let operation = "connect to \(single)"
        try MariaDBClientLibrary.load()
        guard let handle = mysql_init(nil) else {
            throw .ours("the MariaDB client library could not allocate a connection", operation: operation)
        }
        var connectTimeout = UInt32(configuration.connectTimeoutSeconds)
        // Bounded reads and writes: a server that vanishes without closing the socket is noticed, not waited on forever.
        var ioTimeout: UInt32 = 300
        var off: my_bool = 0
        var on: my_bool = 1
        mysql_options(handle, MYSQL_OPT_CONNECT_TIMEOUT, &connectTimeout)
        mysql_options(handle, MYSQL_OPT_READ_TIMEOUT, &ioTimeout)
        mysql_options(handle, MYSQL_OPT_WRITE_TIMEOUT, &ioTimeout)
        // We reconnect ourselves and rerun the whole transaction; the library's silent reconnect would lose it.
        mysql_options(handle, MYSQL_OPT_RECONNECT, &off)
        mysql_options(handle, MYSQL_SET_CHARSET_NAME, "utf8mb4")
        switch configuration.tls {
        case .disabled:
            break
        case .required:
            mysql_options(handle, MYSQL_OPT_SSL_ENFORCE, &on)
        case .verify:
            mysql_options(handle, MYSQL_OPT_SSL_ENFORCE, &on)
            mysql_options(handle, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &on)
            if let ca = configuration.certificateAuthorityPath { mysql_options(handle, MYSQL_OPT_SSL_CA, ca) }
        }
        let connected = mysql_real_connect(
            handle, server.host, configuration.user, configuration.password ?? "", configuration.database, UInt32(server.port), nil, 0)
        guard connected != nil else {
            let error = MySQLError(
                code: mysql_errno(handle), sqlState: String(cString: mysql_sqlstate(handle)), message: String(cString: mysql_error(handle)),
                operation: operation)
            mysql_close(handle)
            throw error
        }
        // Connector/C versions differ in whether SSL_ENFORCE refuses a server without TLS; check the outcome ourselves.
        if configuration.tls != .disabled, mysql_get_ssl_cipher(handle) == nil {
            mysql_close(handle)
            throw .ours(
                "the server did not agree to TLS (tls=\(configuration.tls.rawValue)); enable TLS on the server or use tls=disabled",
                operation: operation)
        }
        self.handle = handle
        self.server = server
        // TRADITIONAL: a value that does not fit is an error, never silently truncated or rounded.
        try execute("SET SESSION sql_mode = 'TRADITIONAL'")
        try execute("SET SESSION time_zone = '+00:00'")
        try execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
    }

    deinit {
        statements.removeAll()
        mysql_close(handle)
    }

    /// The server's version text, e.g. `10.11.19-MariaDB`.
    public var serverVersion: String { String(cString: mysql_get_server_info(handle)) }

    public var isMariaDB: Bool { serverVersion.localizedLowercase.contains("mariadb") }

    func error(_ operation: String) -> MySQLError {
        MySQLError(
            code: mysql_errno(handle), sqlState: String(cString: mysql_sqlstate(handle)), message: String(cString: mysql_error(handle)),
            operation: operation)
    }

    /// Runs SQL without parameters (DDL, transaction control), discarding any result sets.
    public func execute(_ sql: String) throws(MySQLError) {
        let status = sql.withCString { mysql_real_query(handle, $0, UInt(sql.utf8.count)) }
        guard status == 0 else { throw error("run \(Self.summary(sql))") }
        repeat {
            if let result = mysql_store_result(handle) { mysql_free_result(result) }
        } while mysql_next_result(handle) == 0
        if mysql_errno(handle) != 0 { throw error("run \(Self.summary(sql))") }
    }

    /// A prepared statement for `sql`, prepared once per connection.
    public func statement(_ sql: String) throws(MySQLError) -> MySQLStatement {
        if let cached = statements[sql] { return cached }
        let statement = try MySQLStatement(connection: handle, sql: sql)
        statements[sql] = statement
        return statement
    }

    /// Executes a statement; returns the number of affected rows.
    @discardableResult
    public func run(_ sql: String, _ parameters: MySQLParameters = MySQLParameters()) throws(MySQLError) -> Int {
        try statement(sql).execute(parameters)
    }

    /// Executes a statement that returns rows.
    public func query(_ sql: String, _ parameters: MySQLParameters = MySQLParameters()) throws(MySQLError) -> MySQLRows {
        try statement(sql).query(parameters)
    }

    /// The id an `AUTO_INCREMENT` column received from the last insert of `sql`.
    public func lastInsertID(of sql: String) throws(MySQLError) -> Int64 {
        Int64(mysql_stmt_insert_id(try statement(sql).handle))
    }

    /// Runs `body` in one transaction: committed when it returns, rolled back when it throws.
    public func transaction<T>(_ body: (MySQLConnection) throws(MySQLError) -> T) throws(MySQLError) -> T {
        try execute("START TRANSACTION")
        do {
            let value = try body(self)
            try execute("COMMIT")
            return value
        } catch {
            // A connection that is gone has rolled back already; the original error is the one worth reporting.
            if !error.isConnectionFailure { try? execute("ROLLBACK") }
            throw error
        }
    }

    static func summary(_ sql: String) -> String {
        let flat = sql.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        return flat.count > 80 ? String(flat.prefix(77)) + "…" : flat
    }
}
