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
    public var clock: PipelineClock
    /// Faults injected into a share of the answers; `nil` for none.
    public var faults: FaultConfiguration?
    /// Requests that arrive this soon after a 429 get another 429 rather than a ban: they were already on their way
    /// when the 429 was sent. Binance bans clients that go on sending, not ones with requests in flight.
    public var banGraceMilliseconds: Int64
    /// How long a stream connection lives before the simulator closes it: 24 h on Binance, shorter to rehearse a
    /// rotation (`--ws-lifetime`).
    public var webSocketLifetime: Duration = .seconds(86_400)

    public init(
        seed: UInt64 = 42,
        symbols: [Symbol],
        historyMinutes: Int = 1_440,
        weightLimitPerMinute: Int = 6_000,
        clock: PipelineClock = .system,
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

}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
