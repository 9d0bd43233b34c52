public import MarketData
public import Warehouse

/// Reads for `status` and the API, and the scheduler's bookkeeping: job runs, schedules and settings.
extension MySQLWarehouse {
    public func ping() async throws(WarehouseError) {
        try await run("ping") { connection throws(MySQLError) in _ = try connection.query("SELECT 1") }
    }

    public func dataVersion() async throws(WarehouseError) -> Int64 {
        try await run("read the data version") { connection throws(MySQLError) in
            try connection.query("SELECT version FROM warehouse_version WHERE id = 1").first?.int64(0) ?? 0
        }
    }

    public func dataSummary() async throws(WarehouseError) -> [DataSummary] {
        try await run("summarise data") { connection throws(MySQLError) in
            var summaries: [DataSummary] = []
            let metadata = try connection.query("SELECT symbol, data_type, last_fetch_time FROM extraction_metadata").all
            var lastFetch: [String: Int64] = [:]
            for row in metadata { lastFetch["\(row.string(0) ?? "")/\(row.string(1) ?? "")"] = row.int64(2) }
            let klineRows = try connection.query(
                """
                SELECT symbol, count(*), min(open_time), max(open_time), max(CASE WHEN is_final = 1 THEN open_time END)
                FROM fact_klines WHERE `interval` = '1m' GROUP BY symbol
                """)
            for row in klineRows.all {
                guard let symbol = try? Symbol(try row.requiredText(0)) else { continue }
                summaries.append(
                    DataSummary(
                        symbol: symbol, type: .klines, rows: Int(try row.requiredInt(1)), first: row.int64(2), last: row.int64(3),
                        lastFinal: row.int64(4), lastFetchTime: lastFetch["\(symbol)/klines"]))
            }
            let bookRows = try connection.query(
                "SELECT symbol, count(DISTINCT captured_at), min(captured_at), max(captured_at) FROM fact_orderbook GROUP BY symbol")
            for row in bookRows.all {
                guard let symbol = try? Symbol(try row.requiredText(0)) else { continue }
                summaries.append(
                    DataSummary(
                        symbol: symbol, type: .depth, rows: Int(try row.requiredInt(1)), first: row.int64(2), last: row.int64(3),
                        lastFetchTime: lastFetch["\(symbol)/depth"]))
            }
            // Symbols fetched but not yet transformed still deserve a line.
            for row in metadata {
                guard let symbol = try? Symbol(try row.requiredText(0)),
                    let type = ExtractionDataType(rawValue: try row.requiredText(1))
                else { continue }
                if !summaries.contains(where: { $0.symbol == symbol && $0.type == type }) {
                    summaries.append(DataSummary(symbol: symbol, type: type, rows: 0, first: nil, last: nil, lastFetchTime: row.int64(2)))
                }
            }
            return summaries.sorted { ($0.symbol.rawValue, $0.type.rawValue) < ($1.symbol.rawValue, $1.type.rawValue) }
        }
    }

    public func tableCounts() async throws(WarehouseError) -> [String: Int] {
        try await run("count rows") { connection throws(MySQLError) in
            var counts: [String: Int] = [:]
            for table in [
                "fact_klines", "fact_orderbook", "hourly_klines", "daily_klines", "extraction_metadata", "processed_files",
                "rejected_files", "kline_gaps", "job_runs",
            ] {
                counts[table] = Int(try connection.query("SELECT count(*) FROM \(table)").first?.int64(0) ?? 0)
            }
            return counts
        }
    }

    public func latestOrderBook(symbol: Symbol, levels: Int) async throws(WarehouseError) -> StoredOrderBook? {
        try await run("read the latest order book") { connection throws(MySQLError) in
            var parameters = MySQLParameters(symbol.rawValue)
            guard
                let capturedAt = try connection.query("SELECT max(captured_at) FROM fact_orderbook WHERE symbol = ?", parameters).first?
                    .int64(0)
            else { return nil }
            parameters.append(capturedAt)
            parameters.append(levels)
            let rows = try connection.query(
                """
                SELECT side, price, quantity, last_update_id FROM fact_orderbook
                WHERE symbol = ? AND captured_at = ? AND level < ? ORDER BY side, level
                """, parameters)
            var book = StoredOrderBook(symbol: symbol, capturedAt: capturedAt, lastUpdateId: 0, bids: [], asks: [])
            for row in rows.all {
                let level = PriceLevel(price: try row.requiredDecimal(1), quantity: try row.requiredDecimal(2))
                book.lastUpdateId = try row.requiredInt(3)
                if try row.requiredText(0) == BookSide.bid.rawValue { book.bids.append(level) } else { book.asks.append(level) }
            }
            return book
        }
    }

    public func ledgerSummary() async throws(WarehouseError) -> LedgerSummary {
        try await run("summarise the file ledgers") { connection throws(MySQLError) in
            let rejected = Int(try connection.query("SELECT count(*) FROM rejected_files").first?.int64(0) ?? 0)
            guard
                let row = try connection.query(
                    """
                    SELECT count(*), coalesce(sum(`rows`), 0), coalesce(sum(rows_unchanged), 0), coalesce(sum(archived), 0),
                        max(processed_at)
                    FROM processed_files
                    """
                ).first
            else { return LedgerSummary(rejectedFiles: rejected) }
            return LedgerSummary(
                processedFiles: Int(try row.requiredInt(0)), processedRows: Int(try row.requiredInt(1)),
                duplicatesSkipped: Int(try row.requiredInt(2)), archivedFiles: Int(try row.requiredInt(3)), rejectedFiles: rejected,
                lastProcessedAt: row.int64(4))
        }
    }

    // MARK: Job runs

    static let startJobRunSQL = "INSERT INTO job_runs (job, `trigger`, started_at, status) VALUES (?, ?, ?, 'running')"

    public func startJobRun(job: String, trigger: String, at time: Int64) async throws(WarehouseError) -> Int64 {
        try await write("record the start of job \(job)") { connection throws(MySQLError) in
            let parameters = MySQLParameters(job, trigger, time)
            try connection.run(Self.startJobRunSQL, parameters)
            return try connection.lastInsertID(of: Self.startJobRunSQL)
        }
    }

    public func finishJobRun(id: Int64, at time: Int64, outcome: JobRunOutcome) async throws(WarehouseError) {
        try await write("record the end of job run \(id)") { connection throws(MySQLError) in
            let parameters = MySQLParameters(time, outcome.status.rawValue, outcome.files, outcome.rows, outcome.error, id)
            try connection.run("UPDATE job_runs SET finished_at = ?, status = ?, files = ?, `rows` = ?, error = ? WHERE id = ?", parameters)
        }
    }

    public func abandonRunningJobRuns(at time: Int64, reason: String) async throws(WarehouseError) -> Int {
        try await write("close interrupted job runs") { connection throws(MySQLError) in
            let parameters = MySQLParameters(time, reason)
            return try connection.run(
                "UPDATE job_runs SET finished_at = ?, status = 'failed', error = ? WHERE status = 'running'", parameters)
        }
    }

    static let jobRunColumns = "id, job, `trigger`, started_at, finished_at, status, files, `rows`, error"

    static func jobRun(_ row: MySQLRow) throws(MySQLError) -> JobRun {
        JobRun(
            id: try row.requiredInt(0), job: try row.requiredText(1), trigger: try row.requiredText(2),
            startedAt: try row.requiredInt(3), finishedAt: row.int64(4),
            status: JobRunStatus(rawValue: try row.requiredText(5)) ?? .failed, files: Int(try row.requiredInt(6)),
            rows: Int(try row.requiredInt(7)), error: row.string(8))
    }

    public func jobRuns(_ query: JobRunQuery) async throws(WarehouseError) -> JobRunPage {
        try await run("read the ingestion log") { connection throws(MySQLError) in
            var conditions: [String] = []
            var parameters = MySQLParameters()
            if let job = query.job {
                conditions.append("job = ?")
                parameters.append(job)
            }
            if let status = query.status {
                conditions.append("status = ?")
                parameters.append(status.rawValue)
            }
            let filter = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
            let total = Int(try connection.query("SELECT count(*) FROM job_runs\(filter)", parameters).first?.int64(0) ?? 0)
            let pageSize = max(query.pageSize, 1)
            parameters.append(pageSize)
            parameters.append((max(query.page, 1) - 1) * pageSize)
            var runs: [JobRun] = []
            for row in try connection.query(
                "SELECT \(Self.jobRunColumns) FROM job_runs\(filter) ORDER BY id DESC LIMIT ? OFFSET ?", parameters
            ).all {
                runs.append(try Self.jobRun(row))
            }
            return JobRunPage(runs: runs, total: total)
        }
    }

    public func latestJobRuns() async throws(WarehouseError) -> [String: JobRun] {
        try await run("read the latest job runs") { connection throws(MySQLError) in
            var latest: [String: JobRun] = [:]
            for row in try connection.query(
                "SELECT \(Self.jobRunColumns) FROM job_runs WHERE id IN (SELECT max(id) FROM job_runs GROUP BY job)"
            ).all {
                let run = try Self.jobRun(row)
                latest[run.job] = run
            }
            return latest
        }
    }

    // MARK: Schedules and settings

    public func jobSchedules() async throws(WarehouseError) -> [StoredJobSchedule] {
        try await run("read job schedules") { connection throws(MySQLError) in
            var schedules: [StoredJobSchedule] = []
            for row in try connection.query(
                "SELECT job, enabled, interval_seconds, weekday, minute_of_day, updated_at FROM job_schedules ORDER BY job"
            ).all {
                schedules.append(
                    StoredJobSchedule(
                        job: try row.requiredText(0), enabled: try row.requiredInt(1) == 1,
                        intervalSeconds: row.int64(2).map(Int.init), weekday: row.int64(3).map(Int.init),
                        minuteOfDay: row.int64(4).map(Int.init), updatedAt: try row.requiredInt(5)))
            }
            return schedules
        }
    }

    public func saveJobSchedule(_ schedule: StoredJobSchedule) async throws(WarehouseError) {
        try await write("save the schedule of job \(schedule.job)") { connection throws(MySQLError) in
            let parameters = MySQLParameters(
                schedule.job, schedule.enabled, schedule.intervalSeconds, schedule.weekday, schedule.minuteOfDay, schedule.updatedAt)
            try connection.run(
                """
                INSERT INTO job_schedules (job, enabled, interval_seconds, weekday, minute_of_day, updated_at) VALUES (?, ?, ?, ?, ?, ?)
                ON DUPLICATE KEY UPDATE enabled = VALUES(enabled), interval_seconds = VALUES(interval_seconds),
                    weekday = VALUES(weekday), minute_of_day = VALUES(minute_of_day), updated_at = VALUES(updated_at)
                """, parameters)
        }
    }

    public func setting(_ key: String) async throws(WarehouseError) -> String? {
        try await run("read setting \(key)") { connection throws(MySQLError) in
            let parameters = MySQLParameters(key)
            return try connection.query("SELECT value FROM settings WHERE `key` = ?", parameters).first?.string(0)
        }
    }

    public func saveSetting(_ key: String, value: String, at time: Int64) async throws(WarehouseError) {
        try await write("save setting \(key)") { connection throws(MySQLError) in
            let parameters = MySQLParameters(key, value, time)
            try connection.run(
                """
                INSERT INTO settings (`key`, value, updated_at) VALUES (?, ?, ?)
                ON DUPLICATE KEY UPDATE value = VALUES(value), updated_at = VALUES(updated_at)
                """, parameters)
        }
    }
}
