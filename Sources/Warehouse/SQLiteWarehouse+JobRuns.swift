import GRDB
public import MarketData

/// ``JobRunStore``: `job_runs` and `job_schedules`.
extension SQLiteWarehouse {
    public func startJobRun(job: JobName, trigger: JobTrigger, at time: Int64, worker: String) async throws(WarehouseError) -> Int64 {
        try await write("record the start of job \(job)") { db in
            try db.execute(
                sql: "INSERT INTO job_runs (job, trigger, started_at, status, worker) VALUES (?, ?, ?, 'running', ?)",
                arguments: [job.rawValue, trigger.rawValue, time, worker])
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

    public func abandonRunningJobRuns(at time: Int64, reason: String, sparing: Set<String>) async throws(WarehouseError) -> Int {
        try await write("close interrupted job runs") { db in
            var arguments: StatementArguments = [time, reason]
            for worker in sparing.sorted() { arguments += [worker] }
            let spared =
                sparing.isEmpty ? "" : " AND worker NOT IN (\(Array(repeating: "?", count: sparing.count).joined(separator: ", ")))"
            try db.execute(
                sql: "UPDATE job_runs SET finished_at = ?, status = 'failed', error = ? WHERE status = 'running'\(spared)",
                arguments: arguments)
            return db.changesCount
        }
    }

    static let jobRunColumns = "id, job, trigger, started_at, finished_at, status, files, rows, error, worker"

    static func jobRun(_ row: Row) -> JobRun {
        JobRun(
            id: row[0], job: JobName(rawValue: row[1]), trigger: JobTrigger(rawValue: row[2]) ?? .schedule, startedAt: row[3],
            finishedAt: row[4],
            status: JobRunStatus(rawValue: row[5]) ?? .failed, files: row[6], rows: row[7], error: row[8], worker: row[9])
    }

    public func jobRuns(_ query: JobRunQuery) async throws(WarehouseError) -> JobRunPage {
        try await read("read the ingestion log") { db in
            var conditions: [String] = []
            var arguments: StatementArguments = []
            if let job = query.job {
                conditions.append("job = ?")
                arguments += [job.rawValue]
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

    public func latestJobRuns() async throws(WarehouseError) -> [JobName: JobRun] {
        try await read("read the latest job runs") { db in
            let rows = try Row.fetchAll(
                db, sql: "SELECT \(Self.jobRunColumns) FROM job_runs WHERE id IN (SELECT max(id) FROM job_runs GROUP BY job)")
            return Dictionary(
                rows.map {
                    let run = Self.jobRun($0); return (run.job, run)
                }, uniquingKeysWith: { $1 })
        }
    }

    // MARK: Schedules

    public func jobSchedules() async throws(WarehouseError) -> [StoredJobSchedule] {
        try await read("read job schedules") { db in
            try Row.fetchAll(
                db, sql: "SELECT job, enabled, interval_seconds, weekday, minute_of_day, updated_at FROM job_schedules ORDER BY job"
            ).map { row in
                StoredJobSchedule(
                    job: JobName(rawValue: row[0]), enabled: row[1], intervalSeconds: row[2], weekday: row[3], minuteOfDay: row[4],
                    updatedAt: row[5])
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
                    schedule.job.rawValue, schedule.enabled, schedule.intervalSeconds, schedule.weekday, schedule.minuteOfDay,
                    schedule.updatedAt,
                ])
        }
    }
}
