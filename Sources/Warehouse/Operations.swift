public import MarketData

/// A scheduled job's name, as its runs and schedule are stored (`extract-transform`, `gap-fill`, `maintenance`): a
/// type of its own, so a trigger, a status or a symbol cannot be passed where a job is meant.
public struct JobName: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    public var rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }

    public var description: String { rawValue }
    public static func < (lhs: JobName, rhs: JobName) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// What started a job run.
public enum JobTrigger: String, Sendable, Hashable, CaseIterable, Codable {
    /// Its schedule came due.
    case schedule
    /// Someone asked for it (the API, the Scheduler page).
    case manual
    /// A flush of the stream collector (`run --source stream`): extraction over WebSockets, then the transform.
    case stream
}

/// How a scheduled job's run ended; `running` until it does.
public enum JobRunStatus: String, Sendable, Hashable, CaseIterable, Codable {
    case running
    case succeeded
    /// Finished, but part of the work failed (e.g. one symbol of many could not be fetched).
    case partial
    case failed
}

/// One run of a scheduled job: the ingestion log.
public struct JobRun: Sendable, Hashable {
    public var id: Int64
    public var job: JobName
    public var trigger: JobTrigger
    public var startedAt: Int64
    public var finishedAt: Int64?
    public var status: JobRunStatus
    /// Lake objects (or files) the run wrote or loaded.
    public var files: Int
    /// Warehouse rows the run wrote.
    public var rows: Int
    public var error: String?
    /// The worker (``WorkerRecord/id``) whose process ran it; empty for runs recorded before workers had ids.
    public var worker: String

    public init(
        id: Int64, job: JobName, trigger: JobTrigger, startedAt: Int64, finishedAt: Int64?, status: JobRunStatus, files: Int, rows: Int,
        error: String?, worker: String = ""
    ) {
        self.worker = worker
        self.id = id
        self.job = job
        self.trigger = trigger
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.status = status
        self.files = files
        self.rows = rows
        self.error = error
    }
}

/// What ended a run: written to its row by ``Warehouse/finishJobRun(id:at:outcome:)``.
public struct JobRunOutcome: Sendable, Hashable {
    public var status: JobRunStatus
    public var files: Int
    public var rows: Int
    public var error: String?

    public init(status: JobRunStatus, files: Int = 0, rows: Int = 0, error: String? = nil) {
        self.status = status
        self.files = files
        self.rows = rows
        self.error = error
    }
}

/// A page of the ingestion log, newest first.
public struct JobRunQuery: Sendable, Hashable {
    /// 1-based.
    public var page: Int
    public var pageSize: Int
    public var job: JobName?
    public var status: JobRunStatus?

    public init(page: Int = 1, pageSize: Int = 50, job: JobName? = nil, status: JobRunStatus? = nil) {
        self.page = page
        self.pageSize = pageSize
        self.job = job
        self.status = status
    }
}

public struct JobRunPage: Sendable, Hashable {
    public var runs: [JobRun]
    /// Runs matching the filters, on all pages.
    public var total: Int

    public init(runs: [JobRun], total: Int) {
        self.runs = runs
        self.total = total
    }
}

/// A job's persisted schedule: either every `intervalSeconds`, or weekly at `weekday` (0 = Sunday) and `minuteOfDay` UTC.
public struct StoredJobSchedule: Sendable, Hashable {
    public var job: JobName
    public var enabled: Bool
    public var intervalSeconds: Int?
    public var weekday: Int?
    public var minuteOfDay: Int?
    public var updatedAt: Int64

    public init(job: JobName, enabled: Bool, intervalSeconds: Int?, weekday: Int?, minuteOfDay: Int?, updatedAt: Int64) {
        self.job = job
        self.enabled = enabled
        self.intervalSeconds = intervalSeconds
        self.weekday = weekday
        self.minuteOfDay = minuteOfDay
        self.updatedAt = updatedAt
    }
}

/// The newest stored order-book snapshot of a symbol.
public struct StoredOrderBook: Sendable, Hashable {
    public var symbol: Symbol
    public var capturedAt: Int64
    public var lastUpdateId: Int64
    /// Best first.
    public var bids: [PriceLevel]
    /// Best first.
    public var asks: [PriceLevel]

    public init(symbol: Symbol, capturedAt: Int64, lastUpdateId: Int64, bids: [PriceLevel], asks: [PriceLevel]) {
        self.symbol = symbol
        self.capturedAt = capturedAt
        self.lastUpdateId = lastUpdateId
        self.bids = bids
        self.asks = asks
    }
}

/// Totals of the `processed_files` and `rejected_files` ledgers.
public struct LedgerSummary: Sendable, Hashable {
    public var processedFiles: Int
    /// Rows read from processed files.
    public var processedRows: Int
    /// Rows that were already stored with the same or newer data (re-fetched overlaps, re-runs).
    public var duplicatesSkipped: Int
    public var archivedFiles: Int
    public var rejectedFiles: Int
    public var lastProcessedAt: Int64?

    public init(
        processedFiles: Int = 0, processedRows: Int = 0, duplicatesSkipped: Int = 0, archivedFiles: Int = 0, rejectedFiles: Int = 0,
        lastProcessedAt: Int64? = nil
    ) {
        self.processedFiles = processedFiles
        self.processedRows = processedRows
        self.duplicatesSkipped = duplicatesSkipped
        self.archivedFiles = archivedFiles
        self.rejectedFiles = rejectedFiles
        self.lastProcessedAt = lastProcessedAt
    }
}
