import Foundation
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

/// A clock that moves only when told: shared by the simulator, the client and the pipeline in tests,
/// so "now" is the same everywhere and runs are reproducible.
public final class ManualClock: Sendable {
    private let time: Mutex<Int64>

    public init(_ start: Int64) {
        time = Mutex(start)
    }

    public var now: Int64 { time.withLock { $0 } }

    public func advance(milliseconds: Int64) {
        time.withLock { $0 += milliseconds }
    }

    /// A closure reading this clock, for configuration structs.
    public var reader: @Sendable () -> Int64 { { [self] in self.now } }
}
