public import DataLake
public import Logging
import MarketData
import Synchronization
public import Warehouse

/// Loads every raw object not yet in `processed_files` into the warehouse, one transaction per object.
///
/// Listing is by day folder, starting at the last processed position: after a pass that loaded everything, the day of
/// "now − 1 h" is kept in memory and in the warehouse's settings (`transform.resume_from`), and later passes — of this
/// transformer or of a new process — list only that day and newer ones, so a cycle's cost follows the recent days, not
/// the whole bucket. `rescan` lists every day folder (e.g. after copying objects into old days by hand).
///
/// Re-running is a no-op: processed objects are skipped, and even a re-load upserts the same rows.
/// An object that cannot be parsed is moved to `crypto-raw/_rejected/` with its reason recorded, and the
/// pass continues; a warehouse failure stops the pass, leaving the object for the next one.
public struct Transformer: Sendable {
    let lake: any ObjectStore
    let layout: LakeLayout
    let warehouse: any Warehouse
    let clock: PipelineClock
    let logger: Logger
    /// Where the next pass may start; shared by copies of this transformer, loaded from the warehouse by the first pass.
    let cursor = ScanCursor()
    let rescan: Bool

    /// The warehouse setting that keeps the scan position across processes.
    public static let resumeSetting = "transform.resume_from"

    public init(
        lake: any ObjectStore, layout: LakeLayout = LakeLayout(), warehouse: any Warehouse, clock: PipelineClock = .system,
        rescan: Bool = false, logger: Logger
    ) {
        self.rescan = rescan
        self.lake = lake
        self.layout = layout
        self.warehouse = warehouse
        self.clock = clock
        self.logger = logger
    }

    public func transformPending() async throws(PipelineError) -> TransformReport {
        let folders = try await wrap { () throws(ObjectStoreError) in try await lake.listFolders(bucket: layout.rawBucket, prefix: "") }
        var resumeFrom = cursor.resumeFolder
        if resumeFrom == nil, !rescan {
            resumeFrom = try await wrap { () throws(WarehouseError) in try await warehouse.setting(Self.resumeSetting) }
            if let resumeFrom { cursor.advance(to: resumeFrom) }
        }
        // Only day folders hold raw objects; `_rejected/` and anything else are not scanned.
        let days = folders.filter { folder in
            CivilDate(isoString: folder.dropLast()) != nil && resumeFrom.map { folder >= $0 } ?? true
        }
        var report = TransformReport()
        var pending: [String] = []
        for day in days {
            let objects = try await wrap { () throws(ObjectStoreError) in try await lake.list(bucket: layout.rawBucket, prefix: day) }
            let processed = try await wrap { () throws(WarehouseError) in try await warehouse.processedObjectKeys(withPrefix: day) }
            // Capture order; names that do not parse sort first and are rejected when loaded.
            let dayPending = objects.filter { !processed.contains($0.key) }
                .map { (capturedAt: LakeLayout.parse(key: $0.key)?.capturedAt ?? 0, key: $0.key) }
                .sorted { ($0.capturedAt, $0.key) < ($1.capturedAt, $1.key) }
            pending.append(contentsOf: dayPending.map(\.key))
        }
        // One pipelined load over all days keeps the parse-ahead running across day boundaries.
        try await load(pending, into: &report)
        // Hours and days whose minutes changed are recomputed now, so roll-ups never lag the facts.
        let rollups = try await wrap { () throws(WarehouseError) in try await warehouse.rollUpPending() }
        report.hoursRolledUp = rollups.hours
        report.daysRolledUp = rollups.days
        // Extraction writes into the folder of the capture day, so once a pass has loaded everything,
        // older days stay done; an hour of slack covers writes that straddle midnight.
        let next = CivilDate(epochMilliseconds: clock.now() - 3_600_000).isoString + "/"
        if cursor.advance(to: next) {
            try await wrap { () throws(WarehouseError) in try await warehouse.saveSetting(Self.resumeSetting, value: next, at: clock.now())
            }
        }
        if report.objects > 0 || report.rejected > 0 {
            logger.info(
                "transformed",
                metadata: [
                    "objects": "\(report.objects)", "rows.written": "\(report.rowsWritten)", "rows.unchanged": "\(report.rowsUnchanged)",
                    "rejected": "\(report.rejected)",
                ])
        }
        return report
    }

    /// Loads objects in order while the next one is read and parsed concurrently: parsing and the
    /// warehouse write then use both cores instead of taking turns.
    func load(_ keys: [String], into report: inout TransformReport) async throws(PipelineError) {
        guard let first = keys.first else { return }
        var current = await prepare(first)
        for key in keys.dropFirst() {
            async let upcoming = prepare(key)
            try await apply(current, into: &report)
            current = await upcoming
        }
        try await apply(current, into: &report)
    }

    /// The read-and-parse half of loading an object, free of side effects so it can run ahead.
    enum PreparedObject: Sendable {
        case parsed(key: String, ParsedObject)
        case malformed(key: String, reason: String)
        case vanished
        case unreadable(ObjectStoreError)
    }

    func prepare(_ key: String) async -> PreparedObject {
        let bytes: [UInt8]
        do {
            bytes = try await lake.get(bucket: layout.rawBucket, key: key)
        } catch .notFound {
            // Moved or deleted since the listing (e.g. by a concurrent transform): nothing to do.
            return .vanished
        } catch {
            return .unreadable(error)
        }
        do {
            return .parsed(key: key, try Self.parse(key: key, bytes: bytes))
        } catch {
            return .malformed(key: key, reason: error.description)
        }
    }

    /// Loads one prepared object; parse failures reject it, lake and warehouse failures propagate.
    func apply(_ prepared: PreparedObject, into report: inout TransformReport) async throws(PipelineError) {
        let key: String
        let parsed: ParsedObject
        switch prepared {
        case .vanished: return
        case .unreadable(let error): throw .lake(error)
        case .malformed(let malformedKey, let reason):
            try await reject(malformedKey, reason: reason)
            report.rejected += 1
            return
        case .parsed(let parsedKey, let object):
            key = parsedKey
            parsed = object
        }
        let object = ProcessedObject(bucket: layout.rawBucket, key: key, processedAt: clock.now())
        let result: LoadResult
        switch parsed {
        case .klines(let envelope, let klines):
            result = try await wrap { () throws(WarehouseError) in
                try await warehouse.loadKlines(
                    klines, symbol: envelope.symbol, interval: envelope.interval ?? .oneMinute, capturedAt: envelope.capturedAt,
                    object: object)
            }
        case .depth(let envelope, let book):
            result = try await wrap { () throws(WarehouseError) in
                try await warehouse.loadOrderBook(book, symbol: envelope.symbol, capturedAt: envelope.capturedAt, object: object)
            }
        }
        report.objects += 1
        report.rowsWritten += result.rowsWritten
        report.rowsUnchanged += result.rowsUnchanged
    }

    enum ParsedObject: Sendable {
        case klines(RawEnvelope, [Kline])
        case depth(RawEnvelope, OrderBookSnapshot)
    }

    static func parse(key: String, bytes: [UInt8]) throws(TransformError) -> ParsedObject {
        guard let name = LakeLayout.parse(key: key) else {
            throw TransformError("object name does not follow {YYYY-MM-DD}/{SYMBOL}_{klines|depth}_{epochms}.json")
        }
        let outcome: Result<ParsedObject, TransformError> = bytes.withUnsafeBufferPointer { buffer in
            Result { () throws(TransformError) in
                let envelope: RawEnvelope
                do {
                    envelope = try RawEnvelope.decode(buffer)
                } catch {
                    throw TransformError("\(error)")
                }
                guard envelope.symbol == name.symbol, envelope.type == name.type, envelope.capturedAt == name.capturedAt else {
                    throw TransformError(
                        "envelope (\(envelope.symbol), \(envelope.type.rawValue), \(envelope.capturedAt)) does not match the object name")
                }
                var scanner = JSONScanner(
                    UnsafeBufferPointer(rebasing: buffer[..<envelope.dataRange.upperBound]), position: envelope.dataRange.lowerBound)
                do {
                    switch envelope.type {
                    case .klines:
                        let klines = try BinanceCodec.decodeKlines(&scanner)
                        try scanner.expectEnd()
                        return .klines(envelope, klines)
                    case .depth:
                        let book = try BinanceCodec.decodeDepth(&scanner)
                        try scanner.expectEnd()
                        return .depth(envelope, book)
                    }
                } catch {
                    throw TransformError("data: \(error)")
                }
            }
        }
        return try outcome.get()
    }

    private func reject(_ key: String, reason: String) async throws(PipelineError) {
        let destination = LakeLayout.rejectedPrefix + key
        logger.warning("rejected raw object", metadata: ["lake.object": "\(key)", "reason": "\(reason)"])
        try await wrap { () throws(ObjectStoreError) in
            try await lake.put(bucket: layout.rawBucket, key: destination + ".reason.txt", bytes: Array((reason + "\n").utf8))
            try await lake.move(
                from: ObjectLocation(bucket: layout.rawBucket, key: key), to: ObjectLocation(bucket: layout.rawBucket, key: destination))
        }
        try await wrap { () throws(WarehouseError) in
            try await warehouse.recordRejected(
                objectKey: key, movedTo: "\(layout.rawBucket)/\(destination)", reason: reason, at: clock.now())
        }
    }
}

public struct TransformReport: Sendable, Hashable {
    public var objects = 0
    public var rowsWritten = 0
    public var rowsUnchanged = 0
    public var rejected = 0
    /// Hourly and daily candles recomputed after the load.
    public var hoursRolledUp = 0
    public var daysRolledUp = 0
    public init() {}
}

public struct TransformError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// The first day folder the next pass needs to scan; only moves forward.
final class ScanCursor: Sendable {
    private let folder = Mutex<String?>(nil)

    var resumeFolder: String? { folder.withLock { $0 } }

    /// Moves the position forward; `true` when it moved.
    @discardableResult
    func advance(to day: String) -> Bool {
        folder.withLock { current in
            guard current.map({ day > $0 }) ?? true else { return false }
            current = day
            return true
        }
    }
}
