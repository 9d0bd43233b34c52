#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An instant of UTC wall time, in epoch milliseconds: what every timestamp of the pipeline is.
public struct EpochInstant: InstantProtocol, Sendable, Hashable {
    public var epochMilliseconds: Int64

    public init(epochMilliseconds: Int64) { self.epochMilliseconds = epochMilliseconds }

    /// Whole milliseconds later (or earlier), saturating at the ends of `Int64`.
    public func advanced(by duration: Duration) -> EpochInstant {
        let (sum, overflow) = epochMilliseconds.addingReportingOverflow(Self.milliseconds(duration))
        return EpochInstant(epochMilliseconds: overflow ? (duration < .zero ? .min : .max) : sum)
    }

    public func duration(to other: EpochInstant) -> Duration {
        let (difference, overflow) = other.epochMilliseconds.subtractingReportingOverflow(epochMilliseconds)
        return .milliseconds(overflow ? (other.epochMilliseconds < epochMilliseconds ? Int64.min : .max) : difference)
    }

    public static func < (lhs: EpochInstant, rhs: EpochInstant) -> Bool { lhs.epochMilliseconds < rhs.epochMilliseconds }

    /// `duration` in whole milliseconds, rounded toward zero; saturating for durations beyond `Int64` milliseconds.
    public static func milliseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        let (whole, overflow) = seconds.multipliedReportingOverflow(by: 1_000)
        if overflow { return seconds < 0 ? .min : .max }
        let (total, overflowed) = whole.addingReportingOverflow(attoseconds / 1_000_000_000_000_000)
        return overflowed ? (seconds < 0 ? .min : .max) : total
    }
}

/// A Swift `Clock` that tells UTC epoch milliseconds: the system's wall clock, or a test's manual clock (which moves
/// only when told, and wakes its sleepers then).
public protocol EpochClock: Clock where Instant == EpochInstant, Duration == Swift.Duration {}

/// The system's wall clock (`CLOCK_REALTIME`); its sleeps are real time.
public struct SystemEpochClock: EpochClock {
    public init() {}

    public var now: EpochInstant {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return EpochInstant(epochMilliseconds: Int64(spec.tv_sec) * 1_000 + Int64(spec.tv_nsec) / 1_000_000)
    }

    public var minimumResolution: Duration { .milliseconds(1) }

    public func sleep(until deadline: EpochInstant, tolerance: Duration?) async throws {
        let wait = now.duration(to: deadline)
        if wait > .zero { try await Task.sleep(for: wait) } else { try Task.checkCancellation() }
    }
}

/// A clock whose time is read from a function (a fixed time, an offset or a sped-up replay of the wall clock) and whose
/// sleeps are real time.
struct FunctionEpochClock: EpochClock {
    let read: @Sendable () -> Int64

    var now: EpochInstant { EpochInstant(epochMilliseconds: read()) }
    var minimumResolution: Duration { .milliseconds(1) }

    func sleep(until deadline: EpochInstant, tolerance: Duration?) async throws {
        let wait = now.duration(to: deadline)
        if wait > .zero { try await Task.sleep(for: wait) } else { try Task.checkCancellation() }
    }
}

/// A clock running `speed` times as fast as `base` from `start`; it sleeps on `base`, for the scaled-down wait.
struct ScaledEpochClock: EpochClock {
    let base: PipelineClock
    let origin: Int64
    let start: Int64
    let speed: Double

    var now: EpochInstant {
        let elapsed = Double(base.now()) - Double(origin)
        let scaled = (elapsed * speed).rounded(.down)
        // Saturates rather than traps for speeds and times whose product leaves `Int64`.
        guard scaled.isFinite, scaled.magnitude < 9.0e18 else { return EpochInstant(epochMilliseconds: scaled < 0 ? .min : .max) }
        let (time, overflow) = start.addingReportingOverflow(Int64(scaled))
        return EpochInstant(epochMilliseconds: overflow ? (scaled < 0 ? .min : .max) : time)
    }

    var minimumResolution: Duration { .milliseconds(1) }

    func sleep(until deadline: EpochInstant, tolerance: Duration?) async throws {
        let wait = Double(EpochInstant.milliseconds(now.duration(to: deadline)))
        guard wait > 0, speed > 0, speed.isFinite else { return try Task.checkCancellation() }
        try await base.sleep(for: .microseconds(Int64(min(wait / speed * 1_000, 9.0e15))))
    }
}

/// The clock the whole program is given: "now" in UTC epoch milliseconds and sleeping, over any ``EpochClock``.
///
/// One abstraction for every part that reads or waits on time (extraction, the weight budget, the scheduler, the
/// exchange's clock, S3 signatures, the simulator), so a test moves one manual clock and every timestamp and every
/// sleep follows it.
public struct PipelineClock: Sendable {
    private let base: any EpochClock

    public init(_ base: some EpochClock) { self.base = base }

    /// A clock that reads its time from `now` and sleeps in real time (a fixed time for a test that never sleeps).
    public init(now: @escaping @Sendable () -> Int64) { self.base = FunctionEpochClock(read: now) }

    public static let system = PipelineClock(SystemEpochClock())

    /// UTC epoch milliseconds.
    public func now() -> Int64 { base.now.epochMilliseconds }

    /// Sleeps `duration` of this clock's time; throws `CancellationError` when the task is cancelled.
    public func sleep(for duration: Duration) async throws {
        try await base.sleep(until: base.now.advanced(by: duration), tolerance: nil)
    }

    /// This clock moved by `offset` milliseconds (an exchange whose clock runs ahead, or behind); sleeps are real time.
    public func offset(by offset: Int64) -> PipelineClock {
        PipelineClock { [self] in
            let (time, overflow) = now().addingReportingOverflow(offset)
            return overflow ? (offset < 0 ? .min : .max) : time
        }
    }

    /// A clock that starts at `start` and runs `speed` times as fast as this one (a replay: a day of dumps in an hour);
    /// its sleeps are as much shorter, so a loop waking each simulated second wakes `speed` times a real second.
    public func scaled(startingAt start: Int64, speed: Double) -> PipelineClock {
        PipelineClock(ScaledEpochClock(base: self, origin: now(), start: start, speed: speed))
    }
}

extension Duration {
    /// Seconds as a `Double`, for rates and progress.
    public var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
