/// A request to the exchange that failed, with the endpoint it was for.
public struct ExchangeError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, with its figures: a struct over a private set of kinds (the pattern of Hummingbird's
    /// `HTTPError`), so a new kind does not break callers. Compare ``code``, or a whole kind (`kind == .timeout`).
    public struct Kind: Sendable, Hashable {
        public struct Code: Sendable, Hashable, CustomStringConvertible {
            private enum Base: String, Sendable, Hashable {
                case rejected, rateLimited = "rate limited", banned, httpStatus = "HTTP status", transport, timeout
                case malformedResponse = "malformed response", pagingDoesNotAdvance = "paging does not advance"
            }
            private let base: Base
            private init(_ base: Base) { self.base = base }

            /// Binance answered with its error body, e.g. `-1121 Invalid symbol.`
            public static let rejected = Code(.rejected)
            /// 429: too much weight; pause for ``Kind/retryAfterSeconds``.
            public static let rateLimited = Code(.rateLimited)
            /// 418: the IP is banned for ``Kind/retryAfterSeconds``.
            public static let banned = Code(.banned)
            /// Another unsuccessful HTTP status, e.g. a 5xx from a gateway.
            public static let httpStatus = Code(.httpStatus)
            /// The connection could not be made or broke.
            public static let transport = Code(.transport)
            /// No complete response in time.
            public static let timeout = Code(.timeout)
            /// A 200 whose body is not what the endpoint returns.
            public static let malformedResponse = Code(.malformedResponse)
            /// K-line pages that would not move pagination forward (the same page again, candles older than asked, or a
            /// next start time past `Int64`): asking again would loop forever.
            public static let pagingDoesNotAdvance = Code(.pagingDoesNotAdvance)

            public var description: String { base.rawValue }
        }

        public let code: Code
        /// The HTTP status (``Code/rejected``, ``Code/httpStatus``).
        public let status: Int?
        /// Binance's error code (``Code/rejected``).
        public let exchangeCode: Int?
        /// `Retry-After` of a 429 or 418, when sent.
        public let retryAfterSeconds: Int?
        /// Binance's message, the start of an unexpected body, or what failed.
        public let detail: String

        private init(_ code: Code, status: Int? = nil, exchangeCode: Int? = nil, retryAfterSeconds: Int? = nil, detail: String = "") {
            self.code = code
            self.status = status
            self.exchangeCode = exchangeCode
            self.retryAfterSeconds = retryAfterSeconds
            self.detail = detail
        }

        public static func rejected(status: Int, code: Int, message: String) -> Kind {
            Kind(.rejected, status: status, exchangeCode: code, detail: message)
        }
        public static func rateLimited(retryAfterSeconds: Int?) -> Kind { Kind(.rateLimited, retryAfterSeconds: retryAfterSeconds) }
        public static func banned(retryAfterSeconds: Int?) -> Kind { Kind(.banned, retryAfterSeconds: retryAfterSeconds) }
        public static func httpStatus(_ status: Int, bodyPrefix: String) -> Kind { Kind(.httpStatus, status: status, detail: bodyPrefix) }
        public static func transport(_ detail: String) -> Kind { Kind(.transport, detail: detail) }
        public static let timeout = Kind(.timeout)
        public static func malformedResponse(_ detail: String) -> Kind { Kind(.malformedResponse, detail: detail) }
        public static func pagingDoesNotAdvance(_ detail: String) -> Kind { Kind(.pagingDoesNotAdvance, detail: detail) }
    }

    public var kind: Kind
    /// Path and query, e.g. `/api/v3/klines?symbol=BTCUSDT&interval=1m`.
    public var endpoint: String

    public init(_ kind: Kind, endpoint: String) {
        self.kind = kind
        self.endpoint = endpoint
    }

    /// Whether repeating the same read may succeed: server faults, timeouts, broken connections and
    /// truncated bodies. Client errors, 429 and 418 are not retried blindly; the caller must wait.
    public var isRetryable: Bool {
        switch kind.code {
        case .httpStatus, .rejected: (kind.status ?? 0) >= 500
        case .transport, .timeout, .malformedResponse: true
        default: false
        }
    }

    public var isRateLimited: Bool { kind.code == .rateLimited }

    public var description: String {
        let what: String
        let seconds = kind.retryAfterSeconds.map { "\($0) s" }
        let status = kind.status.map(String.init) ?? "?"
        switch kind.code {
        case .rejected:
            what = "exchange rejected the request (HTTP \(status), code \(kind.exchangeCode.map(String.init) ?? "?")): \(kind.detail)"
        case .rateLimited: what = "rate limited by the exchange (HTTP 429), retry after \(seconds ?? "an unknown time")"
        case .banned: what = "IP banned by the exchange (HTTP 418) for \(seconds ?? "an unknown time")"
        case .httpStatus: what = "exchange answered HTTP \(status)\(kind.detail.isEmpty ? "" : ": \(kind.detail)")"
        case .transport: what = "cannot reach the exchange: \(kind.detail)"
        case .timeout: what = "the exchange did not answer in time"
        case .malformedResponse: what = "malformed response from the exchange: \(kind.detail)"
        default: what = "the exchange's k-line pages do not advance: \(kind.detail)"
        }
        return "\(what) [\(endpoint)]"
    }
}
