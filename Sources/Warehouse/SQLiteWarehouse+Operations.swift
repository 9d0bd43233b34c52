import GRDB
public import MarketData

/// Reads for the API and the bookkeeping of the scheduler: job runs, schedules and settings.
extension SQLiteWarehouse {
    public func ping() async throws(WarehouseError) {
        try await read("ping") { db in _ = try Int.fetchOne(db, sql: "SELECT 1") }
    }

    public func dataVersion() async throws(WarehouseError) -> Int64 {
        do {
            return try await versionConnection.read { db in try Int64.fetchOne(db, sql: "PRAGMA data_version") ?? 0 }
        } catch {
            throw WarehouseError(operation: "read the data version", detail: Self.describe(error))
        }
    }

    public func recentKlines(
        symbol: Symbol, interval: Interval, endingAt: Int64, includeOpen: Bool, limit: Int
    ) async throws(WarehouseError) -> [StoredKline] {
        try await read("read recent k-lines") { db in
            try Self.fetchKlines(
                db, symbol: symbol, interval: interval, from: .min, to: endingAt, finalOnly: !includeOpen, limit: limit,
                newestFirst: true
            ).reversed()
        }
    }

    public func latestOrderBook(symbol: Symbol, levels: Int) async throws(WarehouseError) -> StoredOrderBook? {
        try await read("read the latest order book") { db in
            guard
                let capturedAt = try Int64.fetchOne(
                    db, sql: "SELECT max(captured_at) FROM fact_orderbook WHERE symbol = ?", arguments: [symbol.rawValue])
            else { return nil }
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT side, price, quantity, last_update_id FROM fact_orderbook
                    WHERE symbol = ? AND captured_at = ? AND level < ? ORDER BY side, level
                    """,
                arguments: [symbol.rawValue, capturedAt, levels])
            var book = StoredOrderBook(symbol: symbol, capturedAt: capturedAt, lastUpdateId: 0, bids: [], asks: [])
            for row in rows {
                let level = PriceLevel(
                    price: try ExactDecimal(parsing: row[1] as String), quantity: try ExactDecimal(parsing: row[2] as String))
                book.lastUpdateId = row[3]
                if (row[0] as String) == BookSide.bid.rawValue { book.bids.append(level) } else { book.asks.append(level) }
            }
            return book
        }
    }

    public func ledgerSummary() async throws(WarehouseError) -> LedgerSummary {
        try await read("summarise the file ledgers") { db in
            let row = try Row.fetchOne(
                db,
                sql: """
                    SELECT count(*), coalesce(sum(rows), 0), coalesce(sum(rows_unchanged), 0), coalesce(sum(archived), 0),
                        max(processed_at)
                    FROM processed_files
                    """)
            let rejected = try Int.fetchOne(db, sql: "SELECT count(*) FROM rejected_files") ?? 0
            guard let row else { return LedgerSummary(rejectedFiles: rejected) }
            return LedgerSummary(
                processedFiles: row[0], processedRows: row[1], duplicatesSkipped: row[2], archivedFiles: row[3], rejectedFiles: rejected,
                lastProcessedAt: row[4])
        }
    }

    // MARK: Job runs

    public func startJobRun(job: String, trigger: String, at time: Int64) async throws(WarehouseError) -> Int64 {
        try await write("record the start of job \(job)") { db in
            try db.execute(
                sql: "INSERT INTO job_runs (job, trigger, started_at, status) VALUES (?, ?, ?, 'running')", arguments: [job, trigger, time])
            return db.lastInsertedRowID
        }
    }

    public func finishJobRun(id: Int64, at time: Int64, outcome: JobRunOutcome) async throws(WarehouseError) {
        try await write("record the end of job run \(id)") { db in
            try db.execute(
                sql: "UPDATE job_runs SET finished_at = ?, status = ?, files = ?, rows = ?, error = ? WHERE id = ?",
                arguments: [time, outcome.status.rawValue, outcome.files, outcome.rows, outcome.error, id])
        }
    }

    public func abandonRunningJobRuns(at time: Int64, reason: String) async throws(WarehouseError) -> Int {
        try await write("close interrupted job runs") { db in
            try db.execute(
                sql: "UPDATE job_runs SET finished_at = ?, status = 'failed', error = ? WHERE status = 'running'",
                arguments: [time, reason])
            return db.changesCount
        }
    }

    static let jobRunColumns = "id, job, trigger, started_at, finished_at, status, files, rows, error"

    static func jobRun(_ row: Row) -> JobRun {
        JobRun(
            id: row[0], job: row[1], trigger: row[2], startedAt: row[3], finishedAt: row[4],
            status: JobRunStatus(rawValue: row[5]) ?? .failed, files: row[6], rows: row[7], error: row[8])
    }

    public func jobRuns(_ query: JobRunQuery) async throws(WarehouseError) -> JobRunPage {
        try await read("read the ingestion log") { db in
            var conditions: [String] = []
            var arguments: StatementArguments = []
            if let job = query.job {
                conditions.append("job = ?")
                arguments += [job]
            }
            if let status = query.status {
                conditions.append("status = ?")
                arguments += [status.rawValue]
            }
            let filter = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
            let total = try Int.fetchOne(db, sql: "SELECT count(*) FROM job_runs\(filter)", arguments: arguments) ?? 0
            let pageSize = max(query.pageSize, 1)
            let offset = (max(query.page, 1) - 1) * pageSize
            arguments += [pageSize, offset]
            let runs = try Row.fetchAll(
                db, sql: "SELECT \(Self.jobRunColumns) FROM job_runs\(filter) ORDER BY id DESC LIMIT ? OFFSET ?", arguments: arguments
            ).map(Self.jobRun)
            return JobRunPage(runs: runs, total: total)
        }
    }

    public func latestJobRuns() async throws(WarehouseError) -> [String: JobRun] {
        try await read("read the latest job runs") { db in
            let rows = try Row.fetchAll(
                db, sql: "SELECT \(Self.jobRunColumns) FROM job_runs WHERE id IN (SELECT max(id) FROM job_runs GROUP BY job)")
            return Dictionary(
                rows.map {
                    let run = Self.jobRun($0); return (run.job, run)
                }, uniquingKeysWith: { $1 })
        }
    }

    // MARK: Schedules and settings

    public func jobSchedules() async throws(WarehouseError) -> [StoredJobSchedule] {
        try await read("read job schedules") { db in
            try Row.fetchAll(
                db, sql: "SELECT job, enabled, interval_seconds, weekday, minute_of_day, updated_at FROM job_schedules ORDER BY job"
            ).map { row in
                StoredJobSchedule(
                    job: row[0], enabled: row[1], intervalSeconds: row[2], weekday: row[3], minuteOfDay: row[4], updatedAt: row[5])
            }
        }
    }

    public func saveJobSchedule(_ schedule: StoredJobSchedule) async throws(WarehouseError) {
        try await write("save the schedule of job \(schedule.job)") { db in
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO job_schedules (job, enabled, interval_seconds, weekday, minute_of_day, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    schedule.job, schedule.enabled, schedule.intervalSeconds, schedule.weekday, schedule.minuteOfDay, schedule.updatedAt,
                ])
        }
    }

    public func setting(_ key: String) async throws(WarehouseError) -> String? {
        try await read("read setting \(key)") { db in
            try String.fetchOne(db, sql: "SELECT value FROM settings WHERE key = ?", arguments: [key])
        }
    }

    public func saveSetting(_ key: String, value: String, at time: Int64) async throws(WarehouseError) {
        try await write("save setting \(key)") { db in
            try db.execute(
                sql: "INSERT OR REPLACE INTO settings (key, value, updated_at) VALUES (?, ?, ?)", arguments: [key, value, time])
        }
    }
}
