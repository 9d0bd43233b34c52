import Synchronization

/// What the client last learned about its standing with the exchange: the request weight used in the current
/// minute, and whether it was told to back off (429) or was banned (418), and until when.
public struct ExchangeUsage: Sendable, Hashable {
    /// `X-MBX-USED-WEIGHT-1M` of the newest response that carried it.
    public var usedWeight: Int?
    /// When that response arrived (UTC epoch ms).
    public var usedWeightAt: Int64?
    /// The per-minute limit the weight counts against.
    public var weightLimit: Int
    /// Until when a 429 asked us to pause.
    public var rateLimitedUntil: Int64?
    /// Until when a 418 banned this IP.
    public var bannedUntil: Int64?
    /// The newest request that got an answer.
    public var lastSuccessAt: Int64?
    /// The newest request that failed, and why.
    public var lastFailureAt: Int64?
    public var lastFailure: String?
    public var requests: Int
    public var failures: Int

    public init(weightLimit: Int = ExchangeUsage.binanceWeightLimit) {
        self.weightLimit = weightLimit
        self.requests = 0
        self.failures = 0
    }

    /// Binance's REQUEST_WEIGHT limit per minute and IP.
    public static let binanceWeightLimit = 6_000

    /// Whether the newest request failed (and none succeeded since).
    public var isFailing: Bool {
        guard let failed = lastFailureAt else { return false }
        return failed >= (lastSuccessAt ?? .min)
    }

    public func isBanned(at time: Int64) -> Bool { (bannedUntil ?? .min) > time }
    public func isRateLimited(at time: Int64) -> Bool { (rateLimitedUntil ?? .min) > time }
}

/// Collects ``ExchangeUsage`` from every request a client makes; read by status pages and metrics.
public final class ExchangeUsageMonitor: Sendable {
    private let state: Mutex<ExchangeUsage>

    public init(weightLimit: Int = ExchangeUsage.binanceWeightLimit) {
        state = Mutex(ExchangeUsage(weightLimit: weightLimit))
    }

    public var snapshot: ExchangeUsage { state.withLock { $0 } }

    func recordSuccess(usedWeight: Int?, at time: Int64) {
        state.withLock { usage in
            usage.requests += 1
            usage.lastSuccessAt = time
            if let usedWeight {
                usage.usedWeight = usedWeight
                usage.usedWeightAt = time
            }
        }
    }

    func recordFailure(_ error: ExchangeError, usedWeight: Int?, at time: Int64) {
        state.withLock { usage in
            usage.requests += 1
            usage.failures += 1
            usage.lastFailureAt = time
            usage.lastFailure = error.description
            if let usedWeight {
                usage.usedWeight = usedWeight
                usage.usedWeightAt = time
            }
            let seconds = error.kind.retryAfterSeconds
            switch error.kind.code {
            case .rateLimited: usage.rateLimitedUntil = time + Int64(seconds ?? 60) * 1_000
            case .banned: usage.bannedUntil = time + Int64(seconds ?? 120) * 1_000
            default: break
            }
        }
    }
}
