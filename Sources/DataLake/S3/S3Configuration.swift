public import MarketData

/// How to reach an S3-compatible store (AWS S3, MinIO, R2, moto…).
public struct S3Configuration: Sendable {
    /// Where requests go; `nil` means AWS itself (`https://s3.<region>.amazonaws.com`).
    public var endpoint: S3Endpoint?
    /// Signing region; MinIO and moto accept `us-east-1`.
    public var region: String
    public var credentials: S3Credentials
    /// `http://host/bucket/key` (MinIO, moto) rather than `http://bucket.host/key` (AWS).
    public var pathStyle: Bool
    /// Create a bucket on the first write that finds it missing.
    public var createBuckets: Bool
    /// Retries of 5xx, `SlowDown`, `RequestTimeout` and connection failures; every S3 request we make is idempotent.
    public var retry: RetryPolicy
    public var requestTimeout: Duration

    public init(
        endpoint: S3Endpoint? = nil, region: String = "us-east-1", credentials: S3Credentials, pathStyle: Bool? = nil,
        createBuckets: Bool = true, retry: RetryPolicy = RetryPolicy(maxAttempts: 5, baseDelay: .milliseconds(100), maxDelay: .seconds(5)),
        requestTimeout: Duration = .seconds(30)
    ) {
        self.endpoint = endpoint
        self.region = region
        self.credentials = credentials
        self.pathStyle = pathStyle ?? (endpoint != nil)
        self.createBuckets = createBuckets
        self.retry = retry
        self.requestTimeout = requestTimeout
    }

    /// The endpoint requests go to, AWS's regional one when none is configured.
    public var effectiveEndpoint: S3Endpoint {
        endpoint ?? S3Endpoint(secure: true, host: "s3.\(region).amazonaws.com", port: nil)
    }

    /// For status output: where and how, never the secret.
    public var description: String {
        "endpoint \(effectiveEndpoint), region \(region), \(pathStyle ? "path-style" : "virtual-hosted")"
    }
}

/// An S3 endpoint: scheme, host and port, without a path.
public struct S3Endpoint: Sendable, Hashable, CustomStringConvertible {
    public var secure: Bool
    public var host: String
    public var port: Int?

    public init(secure: Bool, host: String, port: Int?) {
        self.secure = secure
        self.host = host
        self.port = port
    }

    /// Parses `http(s)://host[:port][/]`.
    public init(parsing text: String) throws(S3ConfigurationError) {
        let lower = text.lowercased()
        let secure: Bool
        var rest: Substring
        if lower.hasPrefix("https://") {
            secure = true
            rest = text.dropFirst(8)
        } else if lower.hasPrefix("http://") {
            secure = false
            rest = text.dropFirst(7)
        } else {
            throw S3ConfigurationError("S3 endpoint '\(text)' must start with http:// or https://, e.g. http://127.0.0.1:9000")
        }
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        guard !rest.isEmpty, !rest.contains("/"), !rest.contains("@"), !rest.contains("?") else {
            throw S3ConfigurationError("S3 endpoint '\(text)' must be scheme://host[:port] without a path or credentials")
        }
        var host = String(rest)
        var port: Int?
        // An IPv6 literal keeps its brackets; the port follows the last ':' outside them.
        if let colon = rest.lastIndex(of: ":"), !rest[colon...].contains("]") {
            guard let number = Int(rest[rest.index(after: colon)...]), (1...65_535).contains(number) else {
                throw S3ConfigurationError("S3 endpoint '\(text)' has an invalid port")
            }
            host = String(rest[..<colon])
            port = number
        }
        guard !host.isEmpty else { throw S3ConfigurationError("S3 endpoint '\(text)' has no host") }
        self.init(secure: secure, host: host, port: port)
    }

    /// The `Host` header value: the port only when it is not the scheme's default.
    public var hostHeader: String {
        guard let port, port != (secure ? 443 : 80) else { return host }
        return "\(host):\(port)"
    }

    public var description: String { "\(secure ? "https" : "http")://\(hostHeader)" }
}

public struct S3ConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
