/// A failure reported by the MariaDB client library or the server, with what we were doing.
public struct MySQLError: Error, Sendable, CustomStringConvertible {
    /// The client (2xxx) or server (1xxx, 4xxx) error number; 0 for failures found on our side.
    public var code: UInt32
    public var sqlState: String
    public var message: String
    public var operation: String

    public init(code: UInt32, sqlState: String = "HY000", message: String, operation: String) {
        self.code = code
        self.sqlState = sqlState
        self.message = message
        self.operation = operation
    }

    public var description: String { "\(operation): \(message) (MySQL error \(code), SQLSTATE \(sqlState))" }

    /// The connection is gone or could not be made: the server stopped, restarted or dropped us. The work is retried
    /// on a new connection; every write we make is idempotent, so a retried transaction cannot double anything.
    public var isConnectionFailure: Bool {
        switch code {
        case 2002, 2003, 2005, 2006, 2013, 2055:  // cannot connect, host unknown, gone away, lost
            return true
        case 2026:  // TLS: a handshake cut short is retried; a certificate that does not verify will not change
            return !message.lowercased().contains("certificate")
        case 1053, 1927, 4031:  // server shutdown in progress, connection killed, disconnected for inactivity
            return true
        case 1040, 1203:  // too many connections (for now)
            return true
        case 1047:
            return isNodeNotReady
        default:
            return false
        }
    }

    /// A Galera node not (yet, or no longer) in the cluster's primary component: 1047, "WSREP has not yet prepared
    /// node for application use". It accepts connections and refuses statements; another node may serve them. (1047
    /// is also the generic "unknown command", which is not retried.)
    public var isNodeNotReady: Bool { code == 1047 && message.uppercased().contains("WSREP") }

    /// The server rolled the transaction back to resolve contention; running it again is the documented remedy. Under
    /// Galera, a transaction that loses certification against another node's fails at commit with 1213 too.
    public var isTransientConflict: Bool { code == 1213 || code == 1205 }

    static func ours(_ message: String, operation: String) -> MySQLError {
        MySQLError(code: 0, message: message, operation: operation)
    }

    /// A stored value that is not what its column should hold, found on our side: SQLSTATE class 22, "data exception",
    /// as the server reports its own.
    static func invalidData(_ message: String, operation: String) -> MySQLError {
        MySQLError(code: 0, sqlState: "22000", message: message, operation: operation)
    }

    /// The value read or written is not valid for its column (SQLSTATE class 22).
    public var isDataException: Bool { sqlState.hasPrefix("22") }
}
