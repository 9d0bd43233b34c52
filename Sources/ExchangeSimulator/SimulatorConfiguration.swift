public import MarketData

/// How a simulated exchange behaves. Defaults match Binance's public spot API.
public struct SimulatorConfiguration: Sendable {
    /// Seed of the synthetic market; the same seed serves the same candles.
    public var seed: UInt64
    /// Symbols listed on the exchange.
    public var symbols: [Symbol]
    /// How many minutes of 1m history exist before the simulator started.
    public var historyMinutes: Int
    /// Request-weight limit per minute, as in exchangeInfo's `REQUEST_WEIGHT` rate limit.
    public var weightLimitPerMinute: Int
    /// The simulator's clock in UTC epoch milliseconds; the wall clock unless a test injects one.
    public var clock: @Sendable () -> Int64
    /// Faults injected into a share of the answers; `nil` for none.
    public var faults: FaultConfiguration?
    /// Requests that arrive this soon after a 429 get another 429 rather than a ban: they were already on their way
    /// when the 429 was sent. Binance bans clients that go on sending, not ones with requests in flight.
    public var banGraceMilliseconds: Int64

    public init(
        seed: UInt64 = 42,
        symbols: [Symbol],
        historyMinutes: Int = 1_440,
        weightLimitPerMinute: Int = 6_000,
        clock: @escaping @Sendable () -> Int64 = SimulatorConfiguration.wallClock,
        faults: FaultConfiguration? = nil,
        banGraceMilliseconds: Int64 = 1_000
    ) {
        self.faults = faults
        self.banGraceMilliseconds = max(0, banGraceMilliseconds)
        self.seed = seed
        self.symbols = symbols
        self.historyMinutes = historyMinutes
        self.weightLimitPerMinute = weightLimitPerMinute
        self.clock = clock
    }

    /// The wall clock moved by `offset` milliseconds: an exchange whose clock runs ahead of (positive) or behind ours.
    public static func offsetClock(
        by offset: Int64, wall: @escaping @Sendable () -> Int64 = SimulatorConfiguration.wallClock
    ) -> @Sendable () -> Int64 {
        { wall() + offset }
    }

    /// A clock that starts at `start` and runs `speed` times as fast as `wall` (for replays: a day of dumps in an hour).
    public static func virtualClock(
        startingAt start: Int64, speed: Double, wall: @escaping @Sendable () -> Int64 = SimulatorConfiguration.wallClock
    ) -> @Sendable () -> Int64 {
        let origin = wall()
        return { start + Int64((Double(wall() - origin) * speed).rounded(.down)) }
    }

    @Sendable public static func wallClock() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1_000 + Int64(spec.tv_nsec) / 1_000_000
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
