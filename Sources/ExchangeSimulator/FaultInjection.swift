import Synchronization

/// A fault the simulated exchange can inject instead of (or into) a normal answer: what real networks, gateways and
/// rate limiters do to a client that runs for months.
public enum FaultKind: String, CaseIterable, Sendable, Hashable {
    /// A 500, 502, 503 or 504, with Binance's error body or a gateway's HTML page.
    case serverError = "5xx"
    /// The answer comes only after the client's timeout has passed.
    case hang
    /// The connection closes after the status line and headers, before any of the body.
    case connectionReset = "reset"
    /// A 200 whose body is not valid JSON.
    case malformedJSON = "malformed"
    /// A 200 whose body stops half-way: either the connection closes early or the declared length is short.
    case truncatedJSON = "truncated"
    /// A 429 with `Retry-After` although the weight is under the limit; asking again during it earns a ban.
    case rateLimitBurst = "429"
    /// A stream connection is closed by the server.
    case streamDrop = "ws-drop"
    /// A stream connection stays open but its events stop.
    case streamStall = "ws-stall"
    /// One diff-depth event is skipped: the next one's `U` does not continue the last `u`.
    case streamGap = "ws-gap"
    /// A minute's final kline event arrives after the next minute's first event.
    case streamLate = "ws-late"

    /// Faults of REST answers.
    public static let requestKinds: [FaultKind] = [.serverError, .hang, .connectionReset, .malformedJSON, .truncatedJSON, .rateLimitBurst]
    /// Faults of WebSocket streams.
    public static let streamKinds: [FaultKind] = [.streamDrop, .streamStall, .streamGap, .streamLate]
}

/// Which faults to inject and how often. The same seed and the same sequence of requests give the same faults.
public struct FaultConfiguration: Sendable, Hashable {
    /// Share of requests that get a fault, 0…1; for streams, the chance that a connection meets one in each 10 s of its
    /// life.
    public var rate: Double
    public var seed: UInt64
    /// Kinds drawn from, uniformly.
    public var kinds: [FaultKind]
    /// How long a hung request waits before answering; longer than the client's timeout.
    public var hang: Duration
    /// `Retry-After` of an injected 429.
    public var burstSeconds: Int

    public init(
        rate: Double, seed: UInt64 = 1, kinds: [FaultKind] = FaultKind.allCases, hang: Duration = .seconds(15), burstSeconds: Int = 2
    ) {
        self.rate = min(1, max(0, rate))
        self.seed = seed
        self.kinds = kinds.isEmpty ? FaultKind.allCases : kinds
        self.hang = hang
        self.burstSeconds = max(1, burstSeconds)
    }
}

/// Draws the fault of each request from a counter-based hash of the seed, so runs are reproducible and need no lock
/// around a generator's state beyond the counter.
final class FaultInjector: Sendable {
    let configuration: FaultConfiguration
    private let state = Mutex(State())

    struct State {
        var requests: UInt64 = 0
        var streamDraws: UInt64 = 0
        var injected: [FaultKind: Int] = [:]
    }

    /// One request's fault and a second random word for choosing among its variants.
    struct Draw {
        var kind: FaultKind
        var variant: UInt64
    }

    init(configuration: FaultConfiguration) {
        self.configuration = configuration
    }

    /// A REST request's fault, drawn among the configured request kinds.
    func draw() -> Draw? {
        let kinds = configuration.kinds.filter(FaultKind.requestKinds.contains)
        guard configuration.rate > 0, !kinds.isEmpty else { return nil }
        return state.withLock { state in
            state.requests += 1
            return Self.pick(kinds, rate: configuration.rate, roll: SyntheticMarket.hash(configuration.seed, state.requests), state: &state)
        }
    }

    /// A stream connection's fault for its next 10 s, drawn among the configured stream kinds.
    func drawStream() -> Draw? {
        let kinds = configuration.kinds.filter(FaultKind.streamKinds.contains)
        guard configuration.rate > 0, !kinds.isEmpty else { return nil }
        return state.withLock { state in
            state.streamDraws += 1
            let roll = SyntheticMarket.hash(configuration.seed ^ 0x5757_5757, state.streamDraws)
            return Self.pick(kinds, rate: configuration.rate, roll: roll, state: &state)
        }
    }

    private static func pick(_ kinds: [FaultKind], rate: Double, roll: UInt64, state: inout State) -> Draw? {
        guard SyntheticMarket.unit(roll) < rate else { return nil }
        let pick = SyntheticMarket.hash(roll, 0x5EED)
        let kind = kinds[Int(pick % UInt64(kinds.count))]
        state.injected[kind, default: 0] += 1
        return Draw(kind: kind, variant: SyntheticMarket.hash(pick, 0xFA17))
    }

    var injected: [FaultKind: Int] { state.withLock { $0.injected } }
}

extension SimulatedExchange {
    /// How a reply reaches the client over HTTP.
    public enum Delivery: Sendable, Hashable {
        case normal
        /// Answer after waiting this long.
        case delayed(Duration)
        /// Send the head, then close the connection without a body.
        case resetAfterHead
        /// Declare the whole body's length, send this many bytes of it, then close the connection.
        case cutAfter(bytes: Int)
    }
}
