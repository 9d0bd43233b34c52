public import MarketData

/// Keeps the request weight of this process under a share of Binance's per-minute limit, pauses every request while a
/// 429 back-off lasts, and refuses every request at once while a 418 ban lasts — so ignoring a 429 can never earn a ban.
///
/// Each request is charged its weight before it is sent. The used weight of the current UTC minute is the larger of what
/// this process charged and the newest `X-MBX-USED-WEIGHT-1M` (which also counts other clients on the same IP); a request
/// that would go over the budget waits for the next minute. One budget is shared by every client of a process.
public actor WeightBudget {
    public struct Configuration: Sendable, Hashable {
        /// The exchange's limit per minute.
        public var limitPerMinute: Int
        /// The share of it this process may use, in percent (default 50).
        public var sharePercent: Int

        public init(limitPerMinute: Int = BinanceWeights.limitPerMinute, sharePercent: Int = 50) {
            self.limitPerMinute = limitPerMinute
            self.sharePercent = min(100, max(1, sharePercent))
        }

        public var budgetPerMinute: Int { max(1, limitPerMinute * sharePercent / 100) }
    }

    /// What the budget has done, for status pages and benchmarks.
    public struct Statistics: Sendable, Hashable {
        /// Requests that waited for the next minute or for a 429 back-off.
        public var waits = 0
        /// Milliseconds spent waiting, summed.
        public var waitedMilliseconds: Int64 = 0
        /// Requests refused during a ban without being sent.
        public var refusedWhileBanned = 0
    }

    public nonisolated let configuration: Configuration
    let clock: PipelineClock
    private var minute: Int64 = .min
    private var charged = 0
    private var reported = 0
    private var pausedUntil: Int64 = .min
    private var bannedUntil: Int64 = .min
    public private(set) var statistics = Statistics()

    /// `clock` tells the time and waits; tests pass a manual clock.
    public init(configuration: Configuration = Configuration(), clock: PipelineClock = .system) {
        self.configuration = configuration
        self.clock = clock
    }

    /// Waits until `weight` fits this minute's budget and no back-off runs, then charges it. Throws `banned` at once
    /// while a ban lasts: a ban runs for minutes to days, and callers should fail rather than hang that long.
    public func acquire(weight: Int, endpoint: String) async throws(ExchangeError) {
        var waited = false
        let started = clock.now()
        defer {
            if waited {
                statistics.waits += 1
                statistics.waitedMilliseconds += clock.now() - started
            }
        }
        while true {
            let now = clock.now()
            if bannedUntil > now {
                statistics.refusedWhileBanned += 1
                throw ExchangeError(.banned(retryAfterSeconds: Int((bannedUntil - now + 999) / 1_000)), endpoint: endpoint)
            }
            roll(to: now)
            let resumeAt: Int64
            if pausedUntil > now {
                resumeAt = pausedUntil
            } else {
                let used = max(charged, reported)
                // A request heavier than the whole budget still goes, alone, at the start of a minute.
                if used + weight <= configuration.budgetPerMinute || used == 0 {
                    charged += weight
                    return
                }
                resumeAt = minute + 60_000
            }
            waited = true
            do {
                try await clock.sleep(for: .milliseconds(max(1, resumeAt - now)))
            } catch {
                throw ExchangeError(.transport("cancelled while waiting for the request-weight budget"), endpoint: endpoint)
            }
        }
    }

    /// Takes in the exchange's count of the minute's weight.
    public func observe(usedWeight: Int, at time: Int64) {
        roll(to: time)
        if Interval.oneMinute.openTime(containing: time) == minute { reported = max(reported, usedWeight) }
    }

    /// A 429: every request waits `retryAfterSeconds` (the rest of the minute when not given).
    public func rateLimited(retryAfterSeconds: Int?, at time: Int64) {
        let until = retryAfterSeconds.map { time + Int64($0) * 1_000 } ?? (Interval.oneMinute.openTime(containing: time) + 60_000)
        pausedUntil = max(pausedUntil, until)
    }

    /// A 418: no request is sent until the ban ends (2 minutes when the exchange does not say).
    public func banned(retryAfterSeconds: Int?, at time: Int64) {
        bannedUntil = max(bannedUntil, time + Int64(retryAfterSeconds ?? 120) * 1_000)
    }

    private func roll(to time: Int64) {
        let current = Interval.oneMinute.openTime(containing: time)
        guard current > minute else { return }
        minute = current
        charged = 0
        reported = 0
    }
}
