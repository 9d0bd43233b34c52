public import DataLake
public import Logging
public import MarketData
public import Warehouse

/// Weekly upkeep: the lake ages (raw objects to the archive after 7 days, archives deleted after 30), minute candles
/// and order books older than the retention period are deleted (roll-ups are kept forever and never changed), then
/// the backend refreshes its statistics.
public struct Maintenance: Sendable {
    public struct Configuration: Sendable {
        /// Days of minute data kept; the cut-off is midnight UTC, so whole hours and days go together.
        public var retentionDays: Int
        public var lake: LakeArchiver.Configuration

        public init(retentionDays: Int = 90, lake: LakeArchiver.Configuration = .init()) {
            self.retentionDays = retentionDays
            self.lake = lake
        }
    }

    public let configuration: Configuration
    let warehouse: any WarehouseMaintenance & ObjectLedger
    let archiver: LakeArchiver
    let clock: PipelineClock

    public init(
        configuration: Configuration, warehouse: any WarehouseMaintenance & ObjectLedger, lake: any ObjectStore,
        layout: LakeLayout = LakeLayout(),
        clock: PipelineClock = .system, logger: Logger
    ) {
        self.configuration = configuration
        self.warehouse = warehouse
        self.archiver = LakeArchiver(configuration: configuration.lake, lake: lake, layout: layout, warehouse: warehouse, logger: logger)
        self.clock = clock
    }

    public struct Report: Sendable, Hashable {
        public var cutoff: Int64
        public var retention: RetentionReport
        public var lake: LakeArchiver.Report
    }

    public func run() async throws(PipelineError) -> Report {
        let now = clock.now()
        // The lake first: it only needs the ledger, and a warehouse problem below must not keep raw files forever.
        let lake = try await archiver.run(now: now)
        let cutoff = Self.cutoff(now: now, retentionDays: configuration.retentionDays)
        return try await wrap { () throws(WarehouseError) in
            let retention = try await warehouse.deleteMinuteData(before: cutoff)
            try await warehouse.optimize()
            return Report(cutoff: cutoff, retention: retention, lake: lake)
        }
    }

    /// Midnight UTC `retentionDays` days before today's.
    public static func cutoff(now: Int64, retentionDays: Int) -> Int64 {
        Interval.oneDay.openTime(containing: now) - Int64(retentionDays) * 86_400_000
    }
}
