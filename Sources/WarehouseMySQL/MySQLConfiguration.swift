/// Where and how to reach a MySQL or MariaDB server: parsed from `mysql://user[:password]@host[:port]/database`, or
/// several servers of one replicated cluster (a Galera cluster, MySQL Group Replication, TiDB):
/// `mysql://user@h1:3306,h2:3306,h3:3306/database`. Connections go to one reachable server and move to the next when it
/// fails.
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

    /// One server of ``servers``.
    public struct Server: Sendable, Hashable, CustomStringConvertible {
        public var host: String
        public var port: Int

        public init(host: String, port: Int = 3306) {
            self.host = host
            self.port = port
        }

        public var description: String { "\(host.contains(":") ? "[\(host)]" : host):\(port)" }
    }

    /// The servers connections may go to, in the URL's order; never empty (set only by the URL's parser).
    public internal(set) var servers: [Server]
    /// At most this many servers in one URL.
    public static let maximumServers = 16
    /// The first server's host.
    public var host: String {
        get { servers[0].host }
        set { servers[0].host = newValue }
    }
    /// The first server's port.
    public var port: Int {
        get { servers[0].port }
        set { servers[0].port = newValue }
    }
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
    /// A database kept holding read-only views with the original system's table and column names (``OriginalViews``),
    /// created and replaced by every migration; `nil`: none.
    public var originalViewsDatabase: String?

    public init(
        host: String = "127.0.0.1", port: Int = 3306, user: String, password: String? = nil, database: String,
        tls: TLSMode = .disabled, certificateAuthorityPath: String? = nil, poolSize: Int = 4,
        reconnectWindow: Duration = .seconds(60), connectTimeoutSeconds: Int = 5
    ) {
        self.servers = [Server(host: host, port: port)]
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
        var text = "mysql://\(user)@\(servers.map(\.description).joined(separator: ","))/\(database)"
        var query: [String] = []
        if tls != .disabled { query.append("tls=\(tls.rawValue)") }
        if let certificateAuthorityPath { query.append("ca=\(certificateAuthorityPath)") }
        if poolSize != 4 { query.append("pool=\(poolSize)") }
        if !query.isEmpty { text += "?" + query.joined(separator: "&") }
        return text
    }

    /// Parses `mysql://` (or `mariadb://`) URLs. Options: `tls=disabled|required|verify`, `ca=PATH`, `pool=N`.
    ///
    /// The URL is split on its ASCII delimiters byte by byte, not by `Character`: a delimiter followed by a combining
    /// mark (`@\u{301}`) is one `Character` that is not `"@"`, and a password would then be read as part of the user
    /// name, which errors and ``description`` show.
    public init(url text: String) throws(MySQLConfigurationError) {
        func fail(_ why: String) -> MySQLConfigurationError {
            MySQLConfigurationError(
                "warehouse URL '\(Self.redacted(text))' \(why): expected mysql://user@host:3306/database")
        }
        let bytes = Array(text.utf8)
        guard let schemeEnd = bytes.firstRange(of: Array("://".utf8)) else { throw fail("has no scheme") }
        let scheme = Self.string(bytes[..<schemeEnd.lowerBound]).lowercased()
        guard scheme == "mysql" || scheme == "mariadb" else { throw fail("is not a mysql:// URL") }
        var rest = bytes[schemeEnd.upperBound...]
        var queryText: ArraySlice<UInt8> = []
        if let question = rest.firstIndex(of: UInt8(ascii: "?")) {
            queryText = rest[(question + 1)...]
            rest = rest[..<question]
        }
        guard let at = rest.lastIndex(of: UInt8(ascii: "@")) else { throw fail("names no user") }
        let credentials = rest[..<at]
        let location = rest[(at + 1)...]
        let userText: ArraySlice<UInt8>
        var password: String?
        if let colon = credentials.firstIndex(of: UInt8(ascii: ":")) {
            userText = credentials[..<colon]
            password = try Self.percentDecoded(credentials[(colon + 1)...], or: fail("has a badly encoded password"))
        } else {
            userText = credentials
        }
        let user = try Self.percentDecoded(userText, or: fail("has a badly encoded user name"))
        guard !user.isEmpty else { throw fail("names no user") }
        guard let slash = location.firstIndex(of: UInt8(ascii: "/")) else { throw fail("names no database") }
        let hostPort = location[..<slash]
        let database = Self.string(location[(slash + 1)...])
        guard !database.isEmpty else { throw fail("names no database") }
        guard Self.isValidDatabaseName(database) else {
            throw fail("has database name '\(Self.shown(database))'; use letters, digits and _ only (at most 64)")
        }
        // Servers are separated by commas, which neither a host name nor a bracketed IPv6 address holds.
        let parts = hostPort.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false)
        guard parts.count <= Self.maximumServers else { throw fail("names more than \(Self.maximumServers) servers") }
        var servers: [Server] = []
        for part in parts {
            let server = try Self.server(part, fail: fail)
            guard !servers.contains(server) else { throw fail("names server \(server) twice") }
            servers.append(server)
        }
        self.init(user: user, password: password, database: database)
        self.servers = servers
        for pair in queryText.split(separator: UInt8(ascii: "&")) {
            let parts = pair.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
            let key = Self.string(parts[0])
            let value = parts.count > 1 ? try Self.percentDecoded(parts[1], or: fail("has a badly encoded option")) : ""
            switch key {
            case "tls", "ssl", "ssl-mode":
                guard let mode = TLSMode(rawValue: value.lowercased()) else {
                    throw fail("has tls=\(Self.shown(value)); use tls=disabled, required or verify")
                }
                tls = mode
            case "ca", "ssl-ca":
                certificateAuthorityPath = value
            case "pool":
                guard let size = Int(value), (1...64).contains(size) else { throw fail("has pool=\(Self.shown(value)); use 1–64") }
                poolSize = size
            default:
                throw fail("has unknown option '\(Self.shown(key))'; known: tls, ca, pool")
            }
        }
    }

    /// One `host[:port]` or `[ipv6][:port]` of the URL's server list.
    private static func server(
        _ text: ArraySlice<UInt8>, fail: (String) -> MySQLConfigurationError
    ) throws(MySQLConfigurationError) -> Server {
        var host: String
        var port = 3306
        if text.first == UInt8(ascii: "[") {
            guard let close = text.firstIndex(of: UInt8(ascii: "]")) else { throw fail("has an unterminated [IPv6] host") }
            host = Self.string(text[(text.startIndex + 1)..<close])
            let after = text[(close + 1)...]
            if !after.isEmpty {
                guard after.first == UInt8(ascii: ":"), let value = Int(Self.string(after.dropFirst())) else {
                    throw fail("has a bad port")
                }
                port = value
            }
        } else if let colon = text.lastIndex(of: UInt8(ascii: ":")) {
            host = Self.string(text[..<colon])
            guard let value = Int(Self.string(text[(colon + 1)...])) else { throw fail("has a bad port") }
            port = value
        } else {
            host = Self.string(text)
        }
        guard !host.isEmpty else { throw fail("names no host") }
        guard (1...65_535).contains(port) else { throw fail("has port \(port), outside 1–65535") }
        return Server(host: host, port: port)
    }

    /// The URL with anything that could be a password replaced, for error messages.
    ///
    /// Total and conservative, because it must also hide passwords in URLs that do not parse: with a valid
    /// `scheme://`, everything after the user name's first `:` up to the last `@` is hidden; without one (`mysql:/u:pw@h`,
    /// `mysql//u:pw@h`) everything before the last `@` is. Without any `@`, whatever follows a `:` in the part that
    /// would hold the credentials is hidden too (`mysql://u:pw/db` → `mysql://u:[redacted]/db`).
    public static func redacted(_ text: String) -> String {
        // Bytes, not Characters, for the reason given at init(url:).
        let bytes = Array(text.utf8)
        var head: ArraySlice<UInt8> = []
        var body = bytes[...]
        if let schemeEnd = bytes.firstRange(of: Array("://".utf8)), isScheme(bytes[..<schemeEnd.lowerBound]) {
            head = bytes[..<schemeEnd.upperBound]
            body = bytes[schemeEnd.upperBound...]
        }
        if let at = body.lastIndex(of: UInt8(ascii: "@")) {
            guard !head.isEmpty else { return "[redacted]" + string(body[at...]) }
            guard let colon = body[..<at].firstIndex(of: UInt8(ascii: ":")) else { return text }
            return string(head) + string(body[..<colon]) + ":[redacted]" + string(body[at...])
        }
        let authorityEnd =
            head.isEmpty ? body.endIndex : (body.firstIndex(where: { "/?#".utf8.contains($0) }) ?? body.endIndex)
        guard let colon = body[..<authorityEnd].firstIndex(of: UInt8(ascii: ":")) else { return text }
        return string(head) + string(body[..<colon]) + ":[redacted]" + string(body[authorityEnd...])
    }

    /// UTF-8 that was cut at ASCII delimiters, so it is still valid.
    private static func string(_ bytes: ArraySlice<UInt8>) -> String { String(decoding: bytes, as: UTF8.self) }

    /// RFC 3986: a letter, then letters, digits, `+`, `-` and `.`.
    private static func isScheme(_ bytes: ArraySlice<UInt8>) -> Bool {
        let isLetter = { (byte: UInt8) in (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte | 0x20) }
        guard let first = bytes.first, isLetter(first) else { return false }
        return bytes.allSatisfy { isLetter($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || "+-.".utf8.contains($0) }
    }

    /// A value from the URL's path or options, echoed in an error only when it is short and plain, so nothing that
    /// could be a misplaced password is printed.
    private static func shown(_ text: some StringProtocol) -> String {
        let plain =
            text.utf8.count <= 24
            && text.unicodeScalars.allSatisfy {
                $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "-_.$".unicodeScalars.contains($0))
            }
        return plain ? String(text) : "…"
    }

    static func percentDecoded(_ text: ArraySlice<UInt8>, or error: MySQLConfigurationError) throws(MySQLConfigurationError) -> String {
        var bytes: [UInt8] = []
        var iterator = text.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else { throw error }
            bytes.append(high << 4 | low)
        }
        guard let decoded = String(validating: bytes, as: UTF8.self) else { throw error }
        return decoded
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// A `mysql://` URL that cannot be used; one line saying what is wrong.
public struct MySQLConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    public var description: String

    init(_ description: String) { self.description = description }
}

extension MySQLConfiguration {
    /// Whether `name` is a database name we accept: letters, digits, `_` and `$`, at most 64 characters (MySQL's limit).
    public static func isValidDatabaseName(_ name: String) -> Bool {
        (1...64).contains(name.utf8.count)
            && name.utf8.allSatisfy { byte in
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                    UInt8(ascii: "_"), UInt8(ascii: "$"):
                    true
                default: false
                }
            }
    }
}
