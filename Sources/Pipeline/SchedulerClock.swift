import Foundation

/// Time for the scheduler: "now" in UTC epoch ms and a cancellable sleep. Tests inject a manual clock.
public protocol SchedulerClock: Sendable {
    var now: Int64 { get }
    /// Sleeps `duration` of this clock's time; throws `CancellationError` when the task is cancelled.
    func sleep(for duration: Duration) async throws
}

/// The wall clock.
public struct SystemSchedulerClock: SchedulerClock {
    public init() {}

    public var now: Int64 { PipelineClock.system.now() }

    public func sleep(for duration: Duration) async throws {
        try await Task.sleep(for: duration)
    }
}
