public import MarketData
public import Warehouse

/// Weekly upkeep: minute candles and order books older than the retention period are deleted (roll-ups are kept
/// forever and never changed), then the backend refreshes its statistics.
public struct Maintenance: Sendable {
    public struct Configuration: Sendable {
        /// Days of minute data kept; the cut-off is midnight UTC, so whole hours and days go together.
        public var retentionDays: Int

        public init(retentionDays: Int = 90) {
            self.retentionDays = retentionDays
        }
    }

    public let configuration: Configuration
    let warehouse: any Warehouse
    let clock: PipelineClock

    public init(configuration: Configuration, warehouse: any Warehouse, clock: PipelineClock = .system) {
        self.configuration = configuration
        self.warehouse = warehouse
        self.clock = clock
    }

    public struct Report: Sendable, Hashable {
        public var cutoff: Int64
        public var retention: RetentionReport
    }

    public func run() async throws(PipelineError) -> Report {
        let cutoff = Self.cutoff(now: clock.now(), retentionDays: configuration.retentionDays)
        return try await wrap { () throws(WarehouseError) in
            let retention = try await warehouse.deleteMinuteData(before: cutoff)
            try await warehouse.optimize()
            return Report(cutoff: cutoff, retention: retention)
        }
    }

    /// Midnight UTC `retentionDays` days before today's.
    public static func cutoff(now: Int64, retentionDays: Int) -> Int64 {
        Interval.oneDay.openTime(containing: now) - Int64(retentionDays) * 86_400_000
    }
}
