import Foundation
public import Pipeline
import Synchronization

/// A unique folder under the system's temporary directory, removed by ``remove()``.
public struct TemporaryDirectory: Sendable {
    public let path: String

    public init(_ label: String = "cryptopipe") throws {
        path = NSTemporaryDirectory() + "\(label)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    public func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// A clock that moves only when told: shared by the simulator, the client, the pipeline and the scheduler in tests,
/// so "now" is the same everywhere and runs are reproducible. Sleepers wake when ``advance(milliseconds:)`` passes
/// their deadline.
public final class ManualClock: SchedulerClock, Sendable {
    private struct State {
        var time: Int64
        var sleepers: [Int: (deadline: Int64, continuation: CheckedContinuation<Void, any Error>)] = [:]
        var cancelled: Set<Int> = []
        var nextID = 0
    }

    private let state: Mutex<State>

    public init(_ start: Int64) {
        state = Mutex(State(time: start))
    }

    public var now: Int64 { state.withLock { $0.time } }

    public func advance(milliseconds: Int64) {
        let due = state.withLock { state in
            state.time += milliseconds
            let due = state.sleepers.filter { $0.value.deadline <= state.time }
            for id in due.keys { state.sleepers[id] = nil }
            return due.values.map(\.continuation)
        }
        for continuation in due { continuation.resume() }
    }

    /// Moves the clock by `duration` (whole milliseconds): a sleep function for code that waits on a virtual clock
    /// nobody else moves.
    public func advance(by duration: Duration) {
        advance(milliseconds: Self.milliseconds(duration))
    }

    static func milliseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1_000 + duration.components.attoseconds / 1_000_000_000_000_000
    }

    /// Tasks sleeping on this clock.
    public var sleeperCount: Int { state.withLock { $0.sleepers.count } }

    public func sleep(for duration: Duration) async throws {
        let milliseconds = Self.milliseconds(duration)
        let id = state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let resumeNow: Result<Void, any Error>? = state.withLock { state in
                    if state.cancelled.remove(id) != nil { return .failure(CancellationError()) }
                    if milliseconds <= 0 { return .success(()) }
                    state.sleepers[id] = (state.time + milliseconds, continuation)
                    return nil
                }
                if let resumeNow { continuation.resume(with: resumeNow) }
            }
        } onCancel: {
            let continuation = state.withLock { state in
                if let sleeper = state.sleepers.removeValue(forKey: id) { return sleeper.continuation as CheckedContinuation? }
                state.cancelled.insert(id)
                return nil
            }
            continuation?.resume(throwing: CancellationError())
        }
    }

    /// A closure reading this clock, for configuration structs.
    public var reader: @Sendable () -> Int64 { { [self] in self.now } }
}
