public import MarketData
import Synchronization

/// The exchange's time as this process knows it: the local clock plus the offset last measured against the exchange.
///
/// Whether a candle is final, where a first fetch starts and how late the data is are questions about the exchange's
/// time, not ours: a local clock a few seconds ahead would store a candle as final while the exchange still changes
/// it, and against a replay years in the past nothing would be fetched at all. The offset comes from
/// `/api/v3/time` (corrected for half the round trip); every response's `Date` header is a cross-check that marks
/// the offset stale when the two disagree, so it is measured again before the next page.
public final class ExchangeClock: Sendable {
    /// One measurement of the offset.
    public struct Reading: Sendable, Hashable {
        /// Exchange time minus local time: positive when the exchange's clock is ahead of ours.
        public var offsetMilliseconds: Int64
        /// The round trip of the `/api/v3/time` request it came from; the offset is uncertain by half of it.
        public var roundTripMilliseconds: Int64
        /// When it was measured, on the local clock.
        public var measuredAt: Int64

        public init(offsetMilliseconds: Int64, roundTripMilliseconds: Int64, measuredAt: Int64) {
            self.offsetMilliseconds = offsetMilliseconds
            self.roundTripMilliseconds = roundTripMilliseconds
            self.measuredAt = measuredAt
        }

        /// How far the offset can be off: half the round trip it was measured with, rounded up.
        var uncertainty: Int64 { roundTripMilliseconds / 2 + roundTripMilliseconds % 2 }

        /// The earliest the exchange's time can have been at local time `time` (saturating).
        public func earliestExchangeTime(atLocal time: Int64) -> Int64 {
            ExchangeClock.adding(offsetMilliseconds, to: ExchangeClock.adding(-uncertainty, to: time))
        }

        /// The latest the exchange's time can have been at local time `time` (saturating).
        public func latestExchangeTime(atLocal time: Int64) -> Int64 {
            ExchangeClock.adding(offsetMilliseconds, to: ExchangeClock.adding(uncertainty, to: time))
        }
    }

    /// An offset this large is logged as a warning: a local clock that far off makes local logs hard to match.
    public static let warningOffsetMilliseconds: Int64 = 1_000
    /// An offset this large is shown on the Pipeline page: the machine's clock needs attention (or this is a replay).
    public static let alarmingOffsetMilliseconds: Int64 = 30_000
    /// How far the two clocks may have drifted apart since the last measurement before it is due again.
    public static let driftAllowanceMilliseconds: Int64 = 500

    /// The local clock (UTC epoch ms).
    public let local: PipelineClock
    private let state = Mutex(State())

    struct State {
        var reading: Reading?
        /// Milliseconds the offset moved per local millisecond between the last two measurements of this process:
        /// about 1e-5 for two quartz clocks, 59 for a replay at `--speed 60`.
        var drift: Double = 0
        /// Set when a `Date` header disagreed with the offset; cleared by the next measurement.
        var stale = false
        /// Whether this process measured the reading (rather than adopting another process's).
        var measuredHere = false
        /// How often a `Date` header contradicted the offset.
        var contradictions = 0
    }

    /// Milliseconds the offset moved per local millisecond between this process's last two measurements (0 before):
    /// samples taken apart in time may differ by this much per millisecond between them.
    public var drift: Double { state.withLock { $0.drift } }

    /// How often a `Date` header contradicted the offset so far: a clock that keeps stepping shows here.
    public var contradictions: Int { state.withLock { $0.contradictions } }

    public init(local: PipelineClock = .system) {
        self.local = local
    }

    /// The exchange's time now: the local time plus the measured offset (the local time before any measurement).
    public func now() -> Int64 { exchangeTime(atLocal: local.now()) }

    /// The exchange's time at local time `time`, by the measured offset (saturating).
    public func exchangeTime(atLocal time: Int64) -> Int64 {
        guard let offset = state.withLock({ $0.reading?.offsetMilliseconds }) else { return time }
        return Self.adding(offset, to: time)
    }

    static func adding(_ offset: Int64, to time: Int64) -> Int64 {
        let (sum, overflow) = time.addingReportingOverflow(offset)
        return overflow ? (offset < 0 ? .min : .max) : sum
    }

    /// The last measurement, `nil` before the first.
    public var reading: Reading? { state.withLock { $0.reading } }

    /// Whether a measurement is due: none by this process yet (an adopted reading may be old or another machine's),
    /// a `Date` header contradicted it, the last one is `interval` old, or the drift seen between the last two may
    /// since have moved the clocks ``driftAllowanceMilliseconds`` apart (a replay running faster than real time gets
    /// measured every cycle; two quartz clocks every `interval`).
    public func isDue(every interval: Int64) -> Bool {
        let now = local.now()
        return state.withLock { state in
            guard let reading = state.reading, state.measuredHere, !state.stale else { return true }
            let (elapsed, overflow) = now.subtractingReportingOverflow(reading.measuredAt)
            guard !overflow, elapsed >= 0, elapsed < interval else { return true }
            return Double(elapsed) * state.drift >= Double(Self.driftAllowanceMilliseconds)
        }
    }

    /// Records the exchange's `serverTime`, asked at local `sentAt` and answered at local `receivedAt`: the exchange
    /// read its clock, on average, half-way through the round trip. Refuses (returns `nil`) a time outside 1970–9999
    /// or a round trip that runs backwards, which only a broken exchange or clock produces. Whether the time is
    /// plausible (its `Date` header, other samples) is the caller's to check: see ``ExchangeClockSync``.
    @discardableResult
    public func record(serverTime: Int64, sentAt: Int64, receivedAt: Int64) -> Reading? {
        guard let reading = Self.reading(of: ServerTimeSample(serverTime: serverTime, sentAt: sentAt, receivedAt: receivedAt)) else {
            return nil
        }
        state.withLock { state in
            if state.measuredHere, let previous = state.reading, reading.measuredAt > previous.measuredAt {
                let moved = Double(reading.offsetMilliseconds) - Double(previous.offsetMilliseconds)
                state.drift = abs(moved) / Double(reading.measuredAt - previous.measuredAt)
            }
            state.reading = reading
            state.stale = false
            state.measuredHere = true
        }
        return reading
    }

    /// Whether this process has measured the offset itself; one that only serves pages adopts the collector's.
    public var measuresItself: Bool { state.withLock { $0.measuredHere } }

    /// The reading a sample gives, without recording it; `nil` for a time outside 1970–9999 or a round trip that runs
    /// backwards.
    public static func reading(of sample: ServerTimeSample) -> Reading? {
        let (serverTime, sentAt, receivedAt) = (sample.serverTime, sample.sentAt, sample.receivedAt)
        guard (0...UTCTime.latest).contains(serverTime), (0...UTCTime.latest).contains(sentAt),
            (sentAt...UTCTime.latest).contains(receivedAt)
        else { return nil }
        let roundTrip = receivedAt - sentAt
        return Reading(
            offsetMilliseconds: serverTime - (sentAt + roundTrip / 2), roundTripMilliseconds: roundTrip, measuredAt: receivedAt)
    }

    /// Adopts a reading measured by another process (kept in the warehouse), unless this one measures itself.
    public func adopt(_ reading: Reading) {
        state.withLock { state in
            if !state.measuredHere { state.reading = reading }
        }
    }

    /// What a `Date` header said about the offset.
    public enum CrossCheck: Sendable, Hashable {
        /// It agrees, or there is no offset to check it against.
        case consistent
        /// It disagrees: the offset is now stale and is measured again before the next page.
        case contradicted
        /// It disagrees with an offset already marked stale, or with one measured again while the request was out.
        case alreadyStale
    }

    /// Checks a response's `Date` header (whole seconds, epoch ms of the second's start) against `reading`, the offset
    /// in force when the request was sent at local `sentAt` (answered at local `receivedAt`).
    ///
    /// The exchange wrote the header after the request went out, so the header's second cannot end before the
    /// earliest exchange time of the send: that side is checked without slack, because an offset that runs ahead is
    /// the one that would take open candles as final. The header cannot start after the answer arrived either; that
    /// side gets a second of slack for servers that round. A disagreement marks the offset stale, unless it was
    /// measured again meanwhile; either way the response disagrees with the reading it is stamped by.
    @discardableResult
    public func crossCheck(dateHeader: Int64, sentAt: Int64, receivedAt: Int64, reading: Reading?) -> CrossCheck {
        guard let reading, (0...UTCTime.latest).contains(dateHeader), sentAt <= receivedAt else { return .consistent }
        let earliest = reading.earliestExchangeTime(atLocal: sentAt)
        let latest = reading.latestExchangeTime(atLocal: receivedAt)
        guard dateHeader + 999 < earliest || dateHeader - 1_000 > latest else { return .consistent }
        return state.withLock { state in
            guard state.reading == reading, !state.stale else { return .alreadyStale }
            state.stale = true
            state.contradictions += 1
            return .contradicted
        }
    }
}
