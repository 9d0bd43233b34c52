import Crypto
public import MarketData

/// Access keys for S3. The secret never appears in `description`, logs or errors.
public struct S3Credentials: Sendable, Hashable, CustomStringConvertible {
    public var accessKeyID: String
    public var secretAccessKey: String
    /// For temporary (STS) credentials; sent as `X-Amz-Security-Token` and signed.
    public var sessionToken: String?

    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }

    public var description: String { "access key \(accessKeyID) (secret redacted)" }
}

/// AWS Signature Version 4 with the `Authorization` header (AWS4-HMAC-SHA256).
///
/// Pure: the request's parts go in, the headers to add come out, so it is tested against the published
/// examples without a network. S3 signs the path as sent — each segment percent-encoded once, `.` and `..` kept —
/// while other services normalise the path first; `normalizesPath` picks the rule.
public struct SigV4Signer: Sendable {
    public var credentials: S3Credentials
    public var region: String
    public var service: String
    public var normalizesPath: Bool

    public init(credentials: S3Credentials, region: String, service: String = "s3", normalizesPath: Bool? = nil) {
        self.credentials = credentials
        self.region = region
        self.service = service
        self.normalizesPath = normalizesPath ?? (service != "s3")
    }

    /// A request to sign, with everything unencoded: the signer encodes path and query exactly as they must be sent.
    public struct Request: Sendable {
        public var method: String
        /// The path, e.g. `/crypto-raw/2024-01-01/BTCUSDT_klines_1.json`, not percent-encoded.
        public var path: String
        public var query: [(name: String, value: String)]
        /// Headers to sign, names in any case; `host` must be among them.
        public var headers: [(name: String, value: String)]
        /// Hex SHA-256 of the body (or `UNSIGNED-PAYLOAD`).
        public var payloadHash: String

        public init(
            method: String, path: String, query: [(name: String, value: String)] = [], headers: [(name: String, value: String)],
            payloadHash: String
        ) {
            self.method = method
            self.path = path
            self.query = query
            self.headers = headers
            self.payloadHash = payloadHash
        }

        /// The path and query as they go on the wire, encoded the same way they were signed.
        public func encodedTarget(normalizingPath: Bool = false) -> String {
            let query = SigV4Signer.canonicalQuery(self.query)
            let path = SigV4Signer.canonicalPath(self.path, normalizing: normalizingPath)
            return query.isEmpty ? path : "\(path)?\(query)"
        }
    }

    /// The headers to add to the request: `x-amz-date`, `x-amz-content-sha256` (S3), the session token if any, and
    /// `authorization`. They are signed along with the request's own headers.
    public func sign(_ request: Request, at epochMilliseconds: Int64) -> [(name: String, value: String)] {
        let timestamp = Self.timestamp(epochMilliseconds)
        var added: [(name: String, value: String)] = [("x-amz-date", timestamp)]
        if service == "s3" { added.append(("x-amz-content-sha256", request.payloadHash)) }
        if let token = credentials.sessionToken { added.append(("x-amz-security-token", token)) }
        var signed = request
        signed.headers += added.filter { name, _ in !request.headers.contains { $0.name.lowercased() == name } }
        let authorization = self.authorization(for: signed, timestamp: timestamp)
        return added + [("authorization", authorization)]
    }

    /// The `Authorization` value for a request that already carries its `x-amz-date` (= `timestamp`) header.
    public func authorization(for request: Request, timestamp: String) -> String {
        let (canonical, signedHeaders) = canonicalRequest(request)
        let scope = "\(timestamp.prefix(8))/\(region)/\(service)/aws4_request"
        let signature = self.signature(
            stringToSign: stringToSign(canonicalRequest: canonical, timestamp: timestamp), date: timestamp.prefix(8))
        return "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(signature)"
    }

    /// The canonical request text and the `SignedHeaders` list.
    public func canonicalRequest(_ request: Request) -> (text: String, signedHeaders: String) {
        var merged: [String: [String]] = [:]
        for (name, value) in request.headers {
            merged[name.lowercased(), default: []].append(Self.trimmedHeaderValue(value))
        }
        let names = merged.keys.sorted()
        let headerLines = names.map { "\($0):\(merged[$0, default: []].joined(separator: ","))\n" }.joined()
        let signedHeaders = names.joined(separator: ";")
        let text = [
            request.method.uppercased(), Self.canonicalPath(request.path, normalizing: normalizesPath), Self.canonicalQuery(request.query),
            headerLines, signedHeaders, request.payloadHash,
        ].joined(separator: "\n")
        return (text, signedHeaders)
    }

    public func stringToSign(canonicalRequest: String, timestamp: String) -> String {
        let scope = "\(timestamp.prefix(8))/\(region)/\(service)/aws4_request"
        return "AWS4-HMAC-SHA256\n\(timestamp)\n\(scope)\n\(Self.hexSHA256(Array(canonicalRequest.utf8)))"
    }

    func signature(stringToSign: String, date: Substring) -> String {
        var key = SymmetricKey(data: Array("AWS4\(credentials.secretAccessKey)".utf8))
        for part in [String(date), region, service, "aws4_request"] {
            key = SymmetricKey(data: HMAC<SHA256>.authenticationCode(for: Array(part.utf8), using: key))
        }
        return Self.hex(HMAC<SHA256>.authenticationCode(for: Array(stringToSign.utf8), using: key))
    }

    // MARK: - Encoding rules

    /// `YYYYMMDD'T'HHMMSS'Z'` in UTC.
    public static func timestamp(_ epochMilliseconds: Int64) -> String {
        let iso = UTCTime.iso8601(epochMilliseconds - epochMilliseconds % 1_000)  // 2024-01-01T00:00:00Z
        return iso.prefix(19).filter { $0 != "-" && $0 != ":" } + "Z"
    }

    /// RFC 3986 percent-encoding of everything but the unreserved characters (`A-Z a-z 0-9 - _ . ~`), and of `/`
    /// unless `keepSlash`.
    public static func percentEncode(_ text: String, keepSlash: Bool = false) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                result.unicodeScalars.append(Unicode.Scalar(byte))
            case UInt8(ascii: "/") where keepSlash:
                result.append("/")
            default:
                result += "%" + String(byte >> 4, radix: 16, uppercase: true) + String(byte & 0xF, radix: 16, uppercase: true)
            }
        }
        return result
    }

    static func canonicalPath(_ path: String, normalizing: Bool) -> String {
        guard !path.isEmpty else { return "/" }
        guard normalizing else { return percentEncode(path, keepSlash: true) }
        // Other services: remove empty, `.` and `..` segments (RFC 3986 §5.2.4), keep a trailing slash.
        var segments: [Substring] = []
        for segment in path.split(separator: "/", omittingEmptySubsequences: true) {
            if segment == "." { continue }
            if segment == ".." {
                _ = segments.popLast()
                continue
            }
            segments.append(segment)
        }
        let trailing = path.hasSuffix("/") && !segments.isEmpty ? "/" : ""
        return "/" + segments.map { percentEncode(String($0)) }.joined(separator: "/") + trailing
    }

    static func canonicalQuery(_ query: [(name: String, value: String)]) -> String {
        query.map { (percentEncode($0.name), percentEncode($0.value)) }
            .sorted { ($0.0, $0.1) < ($1.0, $1.1) }
            .map { "\($0.0)=\($0.1)" }
            .joined(separator: "&")
    }

    /// Leading and trailing blanks removed, inner runs of blanks collapsed to one space.
    static func trimmedHeaderValue(_ value: String) -> String {
        value.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }).joined(separator: " ")
    }

    public static func hexSHA256(_ bytes: [UInt8]) -> String { hex(SHA256.hash(data: bytes)) }

    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var result: [UInt8] = []
        for byte in bytes {
            result.append(digits[Int(byte >> 4)])
            result.append(digits[Int(byte & 0xF)])
        }
        return String(decoding: result, as: UTF8.self)
    }
}
