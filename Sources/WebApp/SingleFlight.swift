import MarketData

/// A value that is expensive to compute (a listing of the whole lake, row counts of the fact tables, the dashboard's
/// figures), computed at most once per `maximumAge` and by one caller at a time: whoever asks while it is being
/// computed waits for that computation instead of starting its own, so a burst of requests costs one computation.
actor SingleFlight<Value: Sendable> {
    struct Stamped: Sendable {
        var value: Value
        var computedAt: Int64
        var version: Int64
    }

    private let maximumAge: Int64
    /// When a computation finished: a value is fresh for `maximumAge` from then, so a computation slower than
    /// `maximumAge` is not repeated back to back.
    private let clock: PipelineClock
    private var latest: Stamped?
    private var running: (version: Int64, task: Task<Stamped, any Error>)?
    /// Callers that waited for a computation another caller started (for tests).
    private(set) var joined = 0
    /// Computations started.
    private(set) var computations = 0

    /// - Parameter maximumAge: milliseconds a computed value is served for (while its version is unchanged).
    init(maximumAge: Int64, clock: PipelineClock) {
        self.maximumAge = maximumAge
        self.clock = clock
    }

    /// The value computed at `version` less than `maximumAge` ago, or a new one. A failed computation is not kept:
    /// the next caller tries again. `compute` runs in a task of its own, so one caller's cancellation does not fail
    /// the others waiting for it.
    func value(
        now: Int64, version: Int64 = 0, _ compute: @escaping @Sendable () async throws -> Value
    ) async throws -> Stamped {
        if let latest, latest.version == version, now >= latest.computedAt, now - latest.computedAt < maximumAge {
            return latest
        }
        if let running, running.version == version {
            joined += 1
            return try await running.task.value
        }
        computations += 1
        let clock = self.clock
        let task = Task<Stamped, any Error> { Stamped(value: try await compute(), computedAt: clock.now(), version: version) }
        running = (version, task)
        defer { if running?.task == task { running = nil } }
        let stamped = try await task.value
        // A slower computation of an older version does not replace a newer one.
        if latest.map({ $0.version <= stamped.version }) ?? true { latest = stamped }
        return stamped
    }
}
