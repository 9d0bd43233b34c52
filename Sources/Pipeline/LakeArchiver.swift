public import DataLake
public import Logging
import MarketData
public import Warehouse

/// Ages raw objects through the lake: transformed raw objects older than `archiveAfterDays` move to the archive
/// bucket, archived objects older than `deleteAfterDays` are deleted with their ledger rows.
///
/// An object's age is the day in its key (`{YYYY-MM-DD}/…`), against today in UTC. An object the ledger does not
/// know — never transformed — is never moved or deleted. Each step is safe to interrupt: a move copies, verifies,
/// records the new place, and only then deletes the original, so a rerun finishes what a stopped run began.
public struct LakeArchiver: Sendable {
    public struct Configuration: Sendable, Hashable {
        public var archiveAfterDays: Int
        public var deleteAfterDays: Int

        public init(archiveAfterDays: Int = 7, deleteAfterDays: Int = 30) {
            self.archiveAfterDays = archiveAfterDays
            self.deleteAfterDays = deleteAfterDays
        }
    }

    public struct Report: Sendable, Hashable {
        public var archivedObjects = 0
        public var archivedBytes = 0
        public var deletedObjects = 0
        public var forgottenLedgerRows = 0
        /// Old raw objects left in place because they were never transformed.
        public var untransformedKept = 0

        public init() {}
    }

    public let configuration: Configuration
    let lake: any ObjectStore
    let layout: LakeLayout
    let warehouse: any ObjectLedger
    let logger: Logger

    public init(configuration: Configuration, lake: any ObjectStore, layout: LakeLayout, warehouse: any ObjectLedger, logger: Logger) {
        self.configuration = configuration
        self.lake = lake
        self.layout = layout
        self.warehouse = warehouse
        self.logger = logger
    }

    /// Objects are moved in batches of this many: one ledger update and one batch delete each.
    static let batchSize = 200

    public func run(now: Int64) async throws(PipelineError) -> Report {
        var report = Report()
        let archiveBefore = Self.dayFolder(now: now, daysAgo: configuration.archiveAfterDays)
        let deleteBefore = Self.dayFolder(now: now, daysAgo: configuration.deleteAfterDays)
        for day in try await dayFolders(layout.rawBucket, before: archiveBefore) {
            try await archive(day: day, into: &report)
        }
        for day in try await dayFolders(layout.archiveBucket, before: deleteBefore) {
            try await forEachPage(of: day, in: layout.archiveBucket) { (objects, processed) throws(PipelineError) in
                let doomed = objects.map(\.key).filter(processed.contains)
                try await wrap { () throws(ObjectStoreError) in try await lake.delete(bucket: layout.archiveBucket, keys: doomed) }
                report.deletedObjects += doomed.count
            }
        }
        // Ledger rows go after their objects; sweeping by age also clears rows whose objects an interrupted run deleted.
        report.forgottenLedgerRows = try await wrap { () throws(WarehouseError) in
            try await warehouse.forgetArchivedFiles(before: deleteBefore)
        }
        if report.archivedObjects + report.deletedObjects + report.forgottenLedgerRows > 0 {
            logger.info(
                "lake aged",
                metadata: [
                    "lake.archived": "\(report.archivedObjects)", "lake.archived_bytes": "\(report.archivedBytes)",
                    "lake.deleted": "\(report.deletedObjects)", "ledger.forgotten": "\(report.forgottenLedgerRows)",
                ])
        }
        return report
    }

    /// Objects listed at a time, so a day folder of any size holds one page of names.
    static let listPageSize = 10_000

    /// Calls `body` with each page of `day`'s objects in `bucket` and which of them the ledger holds.
    func forEachPage(
        of day: String, in bucket: String, _ body: ([ObjectInfo], Set<String>) async throws(PipelineError) -> Void
    ) async throws(PipelineError) {
        var walk = FolderWalk(bucket: bucket, prefix: day, pageSize: Self.listPageSize)
        while let page = try await wrap({ () throws(ObjectStoreError) in try await walk.next(in: lake) }) {
            let processed = try await wrap { () throws(WarehouseError) in
                try await warehouse.processedObjectKeys(among: page.objects.map(\.key))
            }
            try await body(page.objects, processed)
        }
    }

    func archive(day: String, into report: inout Report) async throws(PipelineError) {
        try await forEachPage(of: day, in: layout.rawBucket) { (objects, processed) throws(PipelineError) in
            try await archive(objects, processed: processed, into: &report)
        }
    }

    private func archive(_ objects: [ObjectInfo], processed: Set<String>, into report: inout Report) async throws(PipelineError) {
        let movable = objects.filter { processed.contains($0.key) }
        report.untransformedKept += objects.count - movable.count
        var start = 0
        while start < movable.count {
            let batch = Array(movable[start..<min(movable.count, start + Self.batchSize)])
            start += batch.count
            for object in batch {
                try await wrap { () throws(ObjectStoreError) in
                    try await lake.copyVerified(
                        from: ObjectLocation(bucket: layout.rawBucket, key: object.key),
                        to: ObjectLocation(bucket: layout.archiveBucket, key: object.key), expecting: object)
                }
            }
            let keys = batch.map(\.key)
            try await wrap { () throws(WarehouseError) in try await warehouse.markArchived(keys: keys, bucket: layout.archiveBucket) }
            try await wrap { () throws(ObjectStoreError) in try await lake.delete(bucket: layout.rawBucket, keys: keys) }
            report.archivedObjects += batch.count
            report.archivedBytes += batch.reduce(0) { $0 + $1.size }
        }
    }

    /// Day folders of `bucket` that sort before `bound`; `_rejected/` and other folders are not day folders.
    func dayFolders(_ bucket: String, before bound: String) async throws(PipelineError) -> [String] {
        let folders = try await wrap { () throws(ObjectStoreError) in try await lake.listFolders(bucket: bucket, prefix: "") }
        return folders.filter { CivilDate(isoString: $0.dropLast()) != nil && $0 < bound }
    }

    /// The day folder (`YYYY-MM-DD/`) of the UTC day `daysAgo` days before today's.
    static func dayFolder(now: Int64, daysAgo: Int) -> String {
        CivilDate(epochMilliseconds: Interval.oneDay.openTime(containing: now) - Int64(daysAgo) * 86_400_000).isoString + "/"
    }
}
