/// Where and how to reach a MySQL or MariaDB server: parsed from `mysql://user[:password]@host[:port]/database`.
///
/// The password may be in the URL (percent-encoded) or given separately (the CLI reads `CRYPTOPIPE_MYSQL_PASSWORD`);
/// it never appears in ``description``, logs or errors.
public struct MySQLConfiguration: Sendable, Hashable, CustomStringConvertible {
    /// How the connection is encrypted.
    public enum TLSMode: String, Sendable, Hashable, CaseIterable {
        /// Plain TCP.
        case disabled
        /// TLS is required, the server's certificate is not checked (self-signed servers).
        case required
        /// TLS is required and the certificate must be valid for the host (signed by `ca`, or the system's CAs).
        case verify
    }

    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    public var tls: TLSMode
    /// A PEM file of CA certificates for ``TLSMode/verify``.
    public var certificateAuthorityPath: String?
    /// Connections kept open; each blocking call runs on a thread of its own.
    public var poolSize: Int
    /// How long an operation keeps retrying while the server cannot be reached (restart, failover) before it fails.
    public var reconnectWindow: Duration
    public var connectTimeoutSeconds: Int

    public init(
        host: String = "127.0.0.1", port: Int = 3306, user: String, password: String? = nil, database: String,
        tls: TLSMode = .disabled, certificateAuthorityPath: String? = nil, poolSize: Int = 4,
        reconnectWindow: Duration = .seconds(60), connectTimeoutSeconds: Int = 5
    ) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = database
        self.tls = tls
        self.certificateAuthorityPath = certificateAuthorityPath
        self.poolSize = poolSize
        self.reconnectWindow = reconnectWindow
        self.connectTimeoutSeconds = connectTimeoutSeconds
    }

    /// The URL without its password.
    public var description: String {
        var text = "mysql://\(user)@\(host.contains(":") ? "[\(host)]" : host):\(port)/\(database)"
        var query: [String] = []
        if tls != .disabled { query.append("tls=\(tls.rawValue)") }
        if let certificateAuthorityPath { query.append("ca=\(certificateAuthorityPath)") }
        if poolSize != 4 { query.append("pool=\(poolSize)") }
        if !query.isEmpty { text += "?" + query.joined(separator: "&") }
        return text
    }

    /// Parses `mysql://` (or `mariadb://`) URLs. Options: `tls=disabled|required|verify`, `ca=PATH`, `pool=N`.
    public init(url text: String) throws(MySQLConfigurationError) {
        func fail(_ why: String) -> MySQLConfigurationError {
            MySQLConfigurationError(
                "warehouse URL '\(Self.redacted(text))' \(why): expected mysql://user@host:3306/database")
        }
        guard let schemeEnd = text.range(of: "://") else { throw fail("has no scheme") }
        let scheme = text[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "mysql" || scheme == "mariadb" else { throw fail("is not a mysql:// URL") }
        var rest = Substring(text[schemeEnd.upperBound...])
        var queryText: Substring = ""
        if let question = rest.firstIndex(of: "?") {
            queryText = rest[rest.index(after: question)...]
            rest = rest[..<question]
        }
        guard let at = rest.lastIndex(of: "@") else { throw fail("names no user") }
        let credentials = rest[..<at]
        let location = rest[rest.index(after: at)...]
        let userText: Substring
        var password: String?
        if let colon = credentials.firstIndex(of: ":") {
            userText = credentials[..<colon]
            password = try Self.percentDecoded(credentials[credentials.index(after: colon)...], or: fail("has a badly encoded password"))
        } else {
            userText = credentials
        }
        let user = try Self.percentDecoded(userText, or: fail("has a badly encoded user name"))
        guard !user.isEmpty else { throw fail("names no user") }
        guard let slash = location.firstIndex(of: "/") else { throw fail("names no database") }
        let hostPort = location[..<slash]
        let database = String(location[location.index(after: slash)...])
        guard !database.isEmpty else { throw fail("names no database") }
        guard database.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "$") }), database.count <= 64
        else { throw fail("has database name '\(database)'; use letters, digits and _ only") }
        var host: String
        var port = 3306
        if hostPort.hasPrefix("[") {
            guard let close = hostPort.firstIndex(of: "]") else { throw fail("has an unterminated [IPv6] host") }
            host = String(hostPort[hostPort.index(after: hostPort.startIndex)..<close])
            let after = hostPort[hostPort.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let value = Int(after.dropFirst()) else { throw fail("has a bad port") }
                port = value
            }
        } else if let colon = hostPort.lastIndex(of: ":") {
            host = String(hostPort[..<colon])
            guard let value = Int(hostPort[hostPort.index(after: colon)...]) else { throw fail("has a bad port") }
            port = value
        } else {
            host = String(hostPort)
        }
        guard !host.isEmpty else { throw fail("names no host") }
        guard (1...65_535).contains(port) else { throw fail("has port \(port), outside 1–65535") }
        self.init(user: user, password: password, database: database)
        self.host = host
        self.port = port
        for pair in queryText.split(separator: "&") where !pair.isEmpty {
            let parts = pair.split(separator: "=", maxSplits: 1)
            let key = String(parts[0])
            let value = parts.count > 1 ? try Self.percentDecoded(parts[1], or: fail("has a badly encoded option")) : ""
            switch key {
            case "tls", "ssl", "ssl-mode":
                guard let mode = TLSMode(rawValue: value.lowercased()) else {
                    throw fail("has tls=\(value); use tls=disabled, required or verify")
                }
                tls = mode
            case "ca", "ssl-ca":
                certificateAuthorityPath = value
            case "pool":
                guard let size = Int(value), (1...64).contains(size) else { throw fail("has pool=\(value); use 1–64") }
                poolSize = size
            default:
                throw fail("has unknown option '\(key)'; known: tls, ca, pool")
            }
        }
    }

    /// The URL with any password replaced, for error messages.
    public static func redacted(_ text: String) -> String {
        guard let schemeEnd = text.range(of: "://"), let at = text[schemeEnd.upperBound...].lastIndex(of: "@"),
            let colon = text[schemeEnd.upperBound..<at].firstIndex(of: ":")
        else { return text }
        return text[..<colon] + ":[redacted]" + text[at...]
    }

    static func percentDecoded(_ text: Substring, or error: MySQLConfigurationError) throws(MySQLConfigurationError) -> String {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next(), let low = iterator.next(),
                let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)
            else { throw error }
            bytes.append(value)
        }
        guard let decoded = String(validating: bytes, as: UTF8.self) else { throw error }
        return decoded
    }
}

/// A `mysql://` URL that cannot be used; one line saying what is wrong.
public struct MySQLConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    public var description: String

    init(_ description: String) { self.description = description }
}
