import Foundation
public import MarketData
public import Pipeline
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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
public final class ManualClock: Sendable {
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
        try await sleep(until: nil, orFor: Self.milliseconds(duration))
    }

    /// Sleeps until the clock reads `deadline` (at once when it already does).
    public func sleep(until deadline: Int64) async throws {
        try await sleep(until: deadline, orFor: 0)
    }

    /// Sleeps until `deadline`, or, without one, `milliseconds` after the time read when the sleeper registers.
    private func sleep(until deadline: Int64?, orFor milliseconds: Int64) async throws {
        let id = state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let resumeNow: Result<Void, any Error>? = state.withLock { state in
                    if state.cancelled.remove(id) != nil { return .failure(CancellationError()) }
                    let later = state.time.addingReportingOverflow(milliseconds)
                    let wakeAt = deadline ?? (later.overflow ? .max : later.partialValue)
                    if wakeAt <= state.time { return .success(()) }
                    state.sleepers[id] = (wakeAt, continuation)
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

    /// This clock as the program's ``PipelineClock``: what the simulator, the client, the budget, the pipeline and the
    /// scheduler are given in tests, so their timestamps and sleeps all follow ``advance(milliseconds:)``.
    public var reader: PipelineClock { PipelineClock(ManualEpochClock(manual: self)) }
}

/// ``ManualClock`` as a Swift `Clock` of epoch milliseconds.
struct ManualEpochClock: EpochClock {
    let manual: ManualClock

    var now: EpochInstant { EpochInstant(epochMilliseconds: manual.now) }
    var minimumResolution: Duration { .milliseconds(1) }

    func sleep(until deadline: EpochInstant, tolerance: Duration?) async throws {
        try await manual.sleep(until: deadline.epochMilliseconds)
    }
}

/// A reproducible random number generator (SplitMix64) for tests: the same seed gives the same sequence on every
/// platform and run. Tests that draw random values print the seed in their failure messages, so a failure can be
/// replayed with `CRYPTOPIPE_TEST_SEED=<seed>`.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    public let seed: UInt64
    private var state: UInt64

    public init(seed: UInt64) {
        self.seed = seed
        state = seed
    }

    /// Seeded from `CRYPTOPIPE_TEST_SEED` when set (to replay a failure), otherwise from the system generator.
    public static func fromEnvironment() -> SeededGenerator {
        if let text = ProcessInfo.processInfo.environment["CRYPTOPIPE_TEST_SEED"], let seed = UInt64(text) {
            return SeededGenerator(seed: seed)
        }
        return SeededGenerator(seed: UInt64.random(in: 0...UInt64.max))
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// How to replay a run that used this generator, for failure messages.
    public var replayHint: String { "seed \(seed) (replay with CRYPTOPIPE_TEST_SEED=\(seed))" }
}

/// Waits until `condition` holds, checking it every `interval`, and fails with `what` after `timeout`: for waiting on an
/// event another task or process causes (a log line, a lock wait, a state change), never for letting time pass.
public func waitUntil(
    _ what: @autoclosure () -> String, timeout: Duration = .seconds(60), checkingEvery interval: Duration = .milliseconds(5),
    _ condition: () async throws -> Bool, file: String = #fileID, line: Int = #line
) async throws {
    let deadline = ContinuousClock.now + timeout
    while try await !condition() {
        guard ContinuousClock.now < deadline else { throw ConformanceFailure("timed out waiting for \(what())", file: file, line: line) }
        try await Task.sleep(for: interval)
    }
}

/// Whether this machine answers on 127.0.0.2 as on 127.0.0.1, for tests of `--source-address`: every 127/8 address
/// is the loopback's on Linux, while macOS has 127.0.0.1 only unless one is added.
#if os(Linux)
public let hasSecondLoopbackAddress = true
#else
public let hasSecondLoopbackAddress = false
#endif

/// A loopback TCP port held bound but not listening: connections to it are refused, and no other process can take the
/// port while it is held (unlike a port that was found free and closed again). Call ``release()`` when done.
public final class ReservedPort: Sendable {
    public let port: Int
    private let socket: Mutex<Int32?>

    public init() throws {
        #if canImport(Glibc)
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let socket = Darwin.socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard socket >= 0 else { throw ConformanceFailure("cannot open a socket") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(socket, pointer, length) == 0 && getsockname(socket, pointer, &length) == 0
            }
        }
        guard bound else {
            close(socket)
            throw ConformanceFailure("cannot bind a loopback port")
        }
        self.socket = Mutex(socket)
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { release() }

    /// Closes the socket (once): the port is free again.
    public func release() {
        if let socket = socket.withLock({ socket in
            defer { socket = nil }; return socket
        }) {
            close(socket)
        }
    }
}

/// Runs tasks on a thread of its own (a serial dispatch queue) instead of Swift's cooperative pool, which has one thread
/// per core and is shared by every test of the process. Code that races a real clock (a request timeout) runs here
/// with `withTaskExecutorPreference`, so other tests keeping the pool's threads busy cannot stall it for seconds; its
/// child tasks and the default actors it calls run here too.
public final class DedicatedThreadExecutor: TaskExecutor, @unchecked Sendable {
    private let queue: DispatchQueue

    public init(label: String) {
        queue = DispatchQueue(label: label)
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}

/// A ``ManualClock`` whose sleeps move it: for code that waits on a virtual clock nobody else moves (the weight budget
/// in a test that runs the cycles itself), so a wait costs no real time and every reader sees the time it waited to.
public struct AdvancingClock: EpochClock {
    public let manual: ManualClock

    public init(manual: ManualClock) { self.manual = manual }

    public var now: EpochInstant { EpochInstant(epochMilliseconds: manual.now) }
    public var minimumResolution: Duration { .milliseconds(1) }

    public func sleep(until deadline: EpochInstant, tolerance: Duration?) async throws {
        try Task.checkCancellation()
        let wait = now.duration(to: deadline)
        if wait > .zero { manual.advance(by: wait) }
    }
}
