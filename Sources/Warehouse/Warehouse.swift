public import MarketData

/// The SQL warehouse: facts, roll-ups and the pipeline's bookkeeping, as the composition of the roles below.
///
/// Each part of the pipeline depends only on the roles it uses (the extractor on ``ExtractionLedger``, the gap filler
/// on ``GapStore``, …), so a new backend, or a test double, is written role by role and a reader of a user sees what it
/// can touch. What is stored is decided once, in shared rules (``CandleLoading``, ``GapReconciliation``,
/// ``RollupAlgorithm``, ``WarehouseOverviewRules``); a backend supplies storage steps.
///
/// Every load is idempotent: rows are upserted on their natural keys and each raw object is recorded
/// in `processed_files` in the same transaction as its rows, so a crash leaves either both or neither.
public protocol Warehouse:
    CandleStore, OrderBookStore, ObjectBatchLoader, ObjectLedger, ExtractionLedger, GapStore, JobRunStore, SettingsStore,
    LeaseStore, WarehouseMaintenance,
    WarehouseOverview
{}

/// 1m candles and their hourly and daily roll-ups: loads, and the reads of ``StoredCandles``.
public protocol CandleStore: StoredCandles {
    /// Upserts one raw object's k-lines and records the object as processed, in one transaction.
    func loadKlines(
        _ klines: [Kline], symbol: Symbol, interval: Interval, capturedAt: Int64, object: ProcessedObject
    )
        async throws(WarehouseError) -> LoadResult
    /// Bulk-loads the 1m candles of dump files (each ascending, no repeats) and records each file in the ledger, all
    /// in one transaction, keeping the roll-ups current: the fast path of `cryptopipe import`. Where a file's time
    /// range held no rows before, its complete hours are stored from the batch's own roll-ups; every other touched
    /// hour, and every touched day, is left pending for ``rollUpPending()``.
    func importKlines(_ files: [KlineImport]) async throws(WarehouseError) -> [LoadResult]
    /// Recomputes the hourly and daily candles whose minutes changed since the last call (loads mark them),
    /// so a cycle's cost follows what changed, not the history kept.
    func rollUpPending() async throws(WarehouseError) -> RollupReport
    /// Marks every hour with final minutes (of one symbol, or all) for recomputation: `aggregate --rebuild`.
    func markAllForRollup(symbol: Symbol?) async throws(WarehouseError)
}

/// Order-book snapshots.
public protocol OrderBookStore: Sendable {
    /// Inserts one order-book snapshot and records the object as processed, in one transaction.
    func loadOrderBook(
        _ book: OrderBookSnapshot, symbol: Symbol, capturedAt: Int64, object: ProcessedObject
    )
        async throws(WarehouseError) -> LoadResult
    /// The newest order-book snapshot of `symbol`, at most `levels` per side; `nil` when none is stored.
    func latestOrderBook(symbol: Symbol, levels: Int) async throws(WarehouseError) -> StoredOrderBook?
}

/// Several raw objects' rows in one transaction. Live extraction leaves small objects (two candles, one book), and
/// a transaction each (a commit, a round trip, a hop to the database's thread) costs more than their rows.
public protocol ObjectBatchLoader: Sendable {
    /// Loads each object as ``CandleStore/loadKlines(_:symbol:interval:capturedAt:object:)`` or
    /// ``OrderBookStore/loadOrderBook(_:symbol:capturedAt:object:)`` would, in order, all in one transaction; the
    /// results are in the same order.
    func loadObjects(_ objects: [ObjectLoad]) async throws(WarehouseError) -> [LoadResult]
}

/// One raw object's rows for ``ObjectBatchLoader/loadObjects(_:)``.
public enum ObjectLoad: Sendable, Hashable {
    /// `batch`, when given, holds the same ascending 1m candles prepared off the writer: a page into a range that holds
    /// none is then inserted as it is, its complete hours stored from the batch's own roll-ups.
    case klines([Kline], batch: KlineBatch? = nil, symbol: Symbol, interval: Interval, capturedAt: Int64, object: ProcessedObject)
    case orderBook(OrderBookSnapshot, symbol: Symbol, capturedAt: Int64, object: ProcessedObject)

    public var object: ProcessedObject {
        switch self {
        case .klines(_, _, _, _, _, let object), .orderBook(_, _, _, let object): object
        }
    }

    /// How errors and logs name a load of `objects`: `load <key>`, or `load N objects, <first key> to <last key>`.
    public static func operation(_ objects: [ObjectLoad]) -> String {
        guard let first = objects.first?.object.key, let last = objects.last?.object.key else { return "load nothing" }
        return objects.count == 1 ? "load \(first)" : "load \(objects.count) objects, \(first) to \(last)"
    }
}

/// Which lake objects were loaded, rejected or archived: `processed_files` and `rejected_files`.
public protocol ObjectLedger: Sendable {
    /// Keys of processed objects that start with `prefix` (e.g. a day folder `2024-01-01/`).
    func processedObjectKeys(withPrefix prefix: String) async throws(WarehouseError) -> Set<String>
    /// Which of `keys` are processed objects.
    func processedObjectKeys(among keys: [String]) async throws(WarehouseError) -> Set<String>
    /// Records that a raw object could not be loaded and was moved aside.
    func recordRejected(objectKey: String, movedTo: String, reason: String, at time: Int64) async throws(WarehouseError)
    /// Records that processed objects now live in `bucket` (the archive): the ledger row's bucket changes and
    /// `archived` is set. Keys not in the ledger are ignored.
    func markArchived(keys: [String], bucket: String) async throws(WarehouseError)
    /// Deletes the ledger rows of archived objects whose key sorts before `keyBound` (a day folder such as
    /// `2024-01-01/`), after the objects themselves were deleted; returns how many.
    func forgetArchivedFiles(before keyBound: String) async throws(WarehouseError) -> Int
    /// Totals of the processed and rejected files ledgers.
    func ledgerSummary() async throws(WarehouseError) -> LedgerSummary
}

/// Where extraction stands per symbol and data type: `extraction_metadata`.
public protocol ExtractionLedger: Sendable {
    func extractionState(symbol: Symbol, type: ExtractionDataType) async throws(WarehouseError) -> ExtractionState?
    /// Advances the extraction metadata after a response reached the lake.
    func recordExtraction(_ update: ExtractionUpdate) async throws(WarehouseError)
}

/// Missing minutes and the `kline_gaps` ledger. How detection results change the ledger is decided by
/// ``GapReconciliation``.
public protocol GapStore: Sendable {
    /// Runs of missing minutes between the symbol's first and last final 1m candle, ascending.
    func missingMinutes(symbol: Symbol) async throws(WarehouseError) -> [MinuteRange]
    /// Records what detection found: new ranges become `open` gaps (unless an `exchange-empty` gap covers them),
    /// and `open` gaps no longer missing become `filled`.
    func recordGaps(symbol: Symbol, missing: [MinuteRange], at time: Int64) async throws(WarehouseError)
    /// Sets one gap's status, creating the gap if needed (e.g. a range the exchange had nothing for).
    func setGap(symbol: Symbol, range: MinuteRange, status: GapStatus, at time: Int64) async throws(WarehouseError)
    /// Recorded gaps, of one symbol or all, ascending.
    func gaps(symbol: Symbol?) async throws(WarehouseError) -> [KlineGap]
}

extension JobRunStore {
    /// A run of a process without a worker id (`extract`, `serve`'s manual runs, tests).
    public func startJobRun(job: JobName, trigger: JobTrigger, at time: Int64) async throws(WarehouseError) -> Int64 {
        try await startJobRun(job: job, trigger: trigger, at: time, worker: "")
    }

    /// Closes every run still marked running: for a warehouse only one process writes.
    public func abandonRunningJobRuns(at time: Int64, reason: String) async throws(WarehouseError) -> Int {
        try await abandonRunningJobRuns(at: time, reason: reason, sparing: [])
    }
}

/// The scheduler's ingestion log and persisted schedules: `job_runs` and `job_schedules`.
public protocol JobRunStore: Sendable {
    /// Records that `worker`'s run started (status `running`) and returns its id.
    func startJobRun(job: JobName, trigger: JobTrigger, at time: Int64, worker: String) async throws(WarehouseError) -> Int64
    func finishJobRun(id: Int64, at time: Int64, outcome: JobRunOutcome) async throws(WarehouseError)
    /// Marks runs still `running` whose worker is not in `sparing` (their process stopped) as failed with `reason`;
    /// returns how many. Runs of live workers on other machines are spared.
    func abandonRunningJobRuns(at time: Int64, reason: String, sparing: Set<String>) async throws(WarehouseError) -> Int
    /// The ingestion log, newest first.
    func jobRuns(_ query: JobRunQuery) async throws(WarehouseError) -> JobRunPage
    /// The newest run of each job.
    func latestJobRuns() async throws(WarehouseError) -> [JobName: JobRun]
    func jobSchedules() async throws(WarehouseError) -> [StoredJobSchedule]
    /// Inserts or replaces the job's schedule.
    func saveJobSchedule(_ schedule: StoredJobSchedule) async throws(WarehouseError)
}

/// Persisted settings (the tracked symbols, checkpoints, the exchange clock's offset): `settings`.
public protocol SettingsStore: Sendable {
    /// A persisted setting, `nil` when never saved.
    func setting(_ key: String) async throws(WarehouseError) -> String?
    func saveSetting(_ key: String, value: String, at time: Int64) async throws(WarehouseError)
    /// Every setting whose key starts with `prefix` (one per worker, e.g. `stream.status/`), by key.
    func settings(withPrefix prefix: String) async throws(WarehouseError) -> [String: String]
    /// Deletes the setting (nothing when there is none).
    func deleteSetting(_ key: String) async throws(WarehouseError)
}

/// Schema upgrades, retention and housekeeping.
public protocol WarehouseMaintenance: Sendable {
    /// Creates or upgrades the schema to the newest version.
    func migrate() async throws(WarehouseError)
    /// Retention: deletes 1m candles opening before `cutoff` and order-book snapshots captured before it. Pending
    /// roll-ups are brought up to date first, and hourly and daily candles are never changed: they are kept forever.
    func deleteMinuteData(before cutoff: Int64) async throws(WarehouseError) -> RetentionReport
    /// Refreshes the query planner's statistics and tidies storage where the backend has such a thing.
    func optimize() async throws(WarehouseError)
}

/// What `status`, health checks and response caches read about the warehouse as a whole.
public protocol WarehouseOverview: Sendable {
    /// A cheap round trip, for health checks.
    func ping() async throws(WarehouseError)
    /// A number that changes whenever committed data changes, whichever process committed it: equal numbers mean the
    /// data read in between was the same, so responses computed from it can be reused. It may change spuriously.
    func dataVersion() async throws(WarehouseError) -> Int64
    /// Rows and time span per symbol and data type, for `status`; formed by ``WarehouseOverviewRules/summaries``.
    func dataSummary() async throws(WarehouseError) -> [DataSummary]
    /// Row counts of ``WarehouseOverviewRules/countedTables``.
    func tableCounts() async throws(WarehouseError) -> [String: Int]
}

/// Open times of the first and last missing minute, inclusive.
public struct MinuteRange: Sendable, Hashable {
    public var from: Int64
    public var to: Int64
    public init(from: Int64, to: Int64) {
        self.from = from
        self.to = to
    }
    public var minutes: Int64 { (to - from) / 60_000 + 1 }
    public func contains(_ other: MinuteRange) -> Bool { from <= other.from && other.to <= to }
    public func overlaps(_ other: MinuteRange) -> Bool { from <= other.to && other.from <= to }
}

public enum GapStatus: String, Sendable, Hashable, CaseIterable, Codable {
    /// Missing and not yet asked for.
    case open
    /// Missing when detected, present now.
    case filled
    /// The exchange was asked and returned nothing (an outage, a listing gap): not asked again.
    case exchangeEmpty = "exchange-empty"
}

public struct KlineGap: Sendable, Hashable {
    public var symbol: Symbol
    public var range: MinuteRange
    public var status: GapStatus
    public var detectedAt: Int64
    public var updatedAt: Int64
    public init(symbol: Symbol, range: MinuteRange, status: GapStatus, detectedAt: Int64, updatedAt: Int64) {
        self.symbol = symbol
        self.range = range
        self.status = status
        self.detectedAt = detectedAt
        self.updatedAt = updatedAt
    }
}

public struct RetentionReport: Sendable, Hashable {
    public var klineRows = 0
    public var orderBookRows = 0
    public init(klineRows: Int = 0, orderBookRows: Int = 0) {
        self.klineRows = klineRows
        self.orderBookRows = orderBookRows
    }
}

/// One dump file's candles for ``Warehouse/importKlines(_:)``.
public struct KlineImport: Sendable {
    public var batch: KlineBatch
    public var symbol: Symbol
    /// When the candles were read: those closed by then are final.
    public var capturedAt: Int64
    public var object: ProcessedObject

    public init(batch: KlineBatch, symbol: Symbol, capturedAt: Int64, object: ProcessedObject) {
        self.batch = batch
        self.symbol = symbol
        self.capturedAt = capturedAt
        self.object = object
    }
}

public struct RollupReport: Sendable, Hashable {
    public var hours = 0
    public var days = 0
    /// Periods that could not be computed (a sum that does not fit, a period past the largest time): they stay
    /// pending and are tried again on every roll-up; each line says which and why, for the caller to log.
    public var failures: [String] = []
    public init(hours: Int = 0, days: Int = 0, failures: [String] = []) {
        self.hours = hours
        self.days = days
        self.failures = failures
    }
}

public enum ExtractionDataType: String, Sendable, Hashable, CaseIterable, Codable {
    case klines
    case depth
}

/// A raw object being loaded, for the `processed_files` ledger.
public struct ProcessedObject: Sendable, Hashable {
    public var bucket: String
    public var key: String
    public var processedAt: Int64

    public init(bucket: String, key: String, processedAt: Int64) {
        self.bucket = bucket
        self.key = key
        self.processedAt = processedAt
    }
}

public struct LoadResult: Sendable, Hashable {
    /// Rows inserted or changed.
    public var rowsWritten: Int
    /// Rows already present with the same or newer data.
    public var rowsUnchanged: Int

    public init(rowsWritten: Int, rowsUnchanged: Int) {
        self.rowsWritten = rowsWritten
        self.rowsUnchanged = rowsUnchanged
    }
}

public struct ExtractionState: Sendable, Hashable {
    public var symbol: Symbol
    public var type: ExtractionDataType
    public var lastFetchTime: Int64
    /// Open time of the newest closed candle fetched (k-lines only).
    public var lastOpenTime: Int64?
    /// Records fetched so far.
    public var recordCount: Int64

    public init(symbol: Symbol, type: ExtractionDataType, lastFetchTime: Int64, lastOpenTime: Int64?, recordCount: Int64) {
        self.symbol = symbol
        self.type = type
        self.lastFetchTime = lastFetchTime
        self.lastOpenTime = lastOpenTime
        self.recordCount = recordCount
    }
}

public struct ExtractionUpdate: Sendable, Hashable {
    public var symbol: Symbol
    public var type: ExtractionDataType
    public var fetchTime: Int64
    /// New newest closed open time; never moves the stored one backwards.
    public var lastOpenTime: Int64?
    /// Records in this fetch, added to the total.
    public var records: Int

    public init(symbol: Symbol, type: ExtractionDataType, fetchTime: Int64, lastOpenTime: Int64?, records: Int) {
        self.symbol = symbol
        self.type = type
        self.fetchTime = fetchTime
        self.lastOpenTime = lastOpenTime
        self.records = records
    }
}

public struct StoredKline: Sendable, Hashable {
    public var kline: Kline
    /// `false` while the candle was still open when last captured.
    public var isFinal: Bool

    public init(kline: Kline, isFinal: Bool) {
        self.kline = kline
        self.isFinal = isFinal
    }
}

public struct DataSummary: Sendable, Hashable {
    public var symbol: Symbol
    public var type: ExtractionDataType
    /// K-line rows, or order-book snapshots.
    public var rows: Int
    /// First and last open time (k-lines) or capture time (depth).
    public var first: Int64?
    public var last: Int64?
    /// Open time of the newest final candle (k-lines only): what freshness is measured from.
    public var lastFinal: Int64?
    public var lastFetchTime: Int64?

    public init(
        symbol: Symbol, type: ExtractionDataType, rows: Int, first: Int64?, last: Int64?, lastFinal: Int64? = nil, lastFetchTime: Int64?
    ) {
        self.symbol = symbol
        self.type = type
        self.rows = rows
        self.first = first
        self.last = last
        self.lastFinal = lastFinal
        self.lastFetchTime = lastFetchTime
    }
}

/// A warehouse operation that failed: what kind of failure (``code``), what was being done and the backend's detail.
///
/// A struct over a private set of kinds (the pattern of Hummingbird's `HTTPError` and postgres-nio's `PSQLError`): the
/// web layer answers by kind (``Code/unavailable`` is a 503 to retry later, ``Code/invalidData`` a 500) and keeps the
/// detail, which may name a server or a path, in the log.
public struct WarehouseError: Error, Sendable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case unavailable = "unavailable"
            case failed = "failed"
            case invalidData = "invalid data"
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The database could not be reached, was busy or locked, or its storage failed: trying later may work.
        public static let unavailable = Code(.unavailable)
        /// A statement failed.
        public static let failed = Code(.failed)
        /// Stored data could not be read as what it should be (a decimal, a symbol), or a figure formed from it does not
        /// fit.
        public static let invalidData = Code(.invalidData)

        public var description: String { base.rawValue }
    }

    public var code: Code
    public var operation: String
    public var detail: String

    public init(_ code: Code = .failed, operation: String, detail: String) {
        self.code = code
        self.operation = operation
        self.detail = detail
    }

    public var description: String { "warehouse: cannot \(operation): \(detail)" }
}
