import Foundation

/// The pipeline's notion of "now" in UTC epoch milliseconds; injectable so tests control time.
public struct PipelineClock: Sendable {
    public var now: @Sendable () -> Int64

    public init(now: @escaping @Sendable () -> Int64) {
        self.now = now
    }

    public static let system = PipelineClock { Int64((Date().timeIntervalSince1970 * 1_000).rounded(.down)) }
}

extension Duration {
    /// Seconds as a `Double`, for rates and progress.
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
