/// A request to the exchange that failed, with the endpoint it was for.
public struct ExchangeError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// Binance answered with its error body, e.g. `-1121 Invalid symbol.`
        case rejected(status: Int, code: Int, message: String)
        /// 429: too much weight; pause for `retryAfterSeconds`.
        case rateLimited(retryAfterSeconds: Int?)
        /// 418: the IP is banned for `retryAfterSeconds`.
        case banned(retryAfterSeconds: Int?)
        /// Another unsuccessful HTTP status, e.g. a 5xx from a gateway.
        case httpStatus(Int, bodyPrefix: String)
        /// The connection could not be made or broke.
        case transport(String)
        /// No complete response in time.
        case timeout
        /// A 200 whose body is not what the endpoint returns.
        case malformedResponse(String)
        /// K-line pages that would not move pagination forward (the same page again, candles older than asked, or a
        /// next start time past `Int64`): asking again would loop forever.
        case pagingDoesNotAdvance(String)
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
        switch kind {
        case .httpStatus(let status, _): status >= 500
        case .transport, .timeout, .malformedResponse: true
        case .rejected(let status, _, _): status >= 500
        case .rateLimited, .banned, .pagingDoesNotAdvance: false
        }
    }

    public var isRateLimited: Bool {
        if case .rateLimited = kind { return true }
        return false
    }

    public var description: String {
        let what: String
        switch kind {
        case .rejected(let status, let code, let message): what = "exchange rejected the request (HTTP \(status), code \(code)): \(message)"
        case .rateLimited(let seconds):
            what = "rate limited by the exchange (HTTP 429), retry after \(seconds.map { "\($0) s" } ?? "an unknown time")"
        case .banned(let seconds): what = "IP banned by the exchange (HTTP 418) for \(seconds.map { "\($0) s" } ?? "an unknown time")"
        case .httpStatus(let status, let body): what = "exchange answered HTTP \(status)\(body.isEmpty ? "" : ": \(body)")"
        case .transport(let detail): what = "cannot reach the exchange: \(detail)"
        case .timeout: what = "the exchange did not answer in time"
        case .malformedResponse(let detail): what = "malformed response from the exchange: \(detail)"
        case .pagingDoesNotAdvance(let detail): what = "the exchange's k-line pages do not advance: \(detail)"
        }
        return "\(what) [\(endpoint)]"
    }
}
