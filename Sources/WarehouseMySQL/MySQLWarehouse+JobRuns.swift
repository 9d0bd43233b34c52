public import MarketData
public import Warehouse

/// ``JobRunStore``: `job_runs` and `job_schedules`.
extension MySQLWarehouse {
    static let startJobRunSQL = "INSERT INTO job_runs (job, `trigger`, started_at, status, worker) VALUES (?, ?, ?, 'running', ?)"

    public func startJobRun(job: JobName, trigger: JobTrigger, at time: Int64, worker: String) async throws(WarehouseError) -> Int64 {
        try await write("record the start of job \(job)") { connection throws(MySQLError) in
            let parameters = MySQLParameters(job.rawValue, trigger.rawValue, time, worker)
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

    public func abandonRunningJobRuns(at time: Int64, reason: String, sparing: Set<String>) async throws(WarehouseError) -> Int {
        try await write("close interrupted job runs") { connection throws(MySQLError) in
            var parameters = MySQLParameters(time, reason)
            for worker in sparing.sorted() { parameters.append(worker) }
            let spared =
                sparing.isEmpty ? "" : " AND worker NOT IN (\(Array(repeating: "?", count: sparing.count).joined(separator: ", ")))"
            return try connection.run(
                "UPDATE job_runs SET finished_at = ?, status = 'failed', error = ? WHERE status = 'running'\(spared)", parameters)
        }
    }

    static let jobRunColumns = "id, job, `trigger`, started_at, finished_at, status, files, `rows`, error, worker"

    static func jobRun(_ row: MySQLRow) throws(MySQLError) -> JobRun {
        JobRun(
            id: try row.requiredInt(0), job: JobName(rawValue: try row.requiredText(1)),
            trigger: JobTrigger(rawValue: try row.requiredText(2)) ?? .schedule,
            startedAt: try row.requiredInt(3), finishedAt: row.int64(4),
            status: JobRunStatus(rawValue: try row.requiredText(5)) ?? .failed, files: Int(try row.requiredInt(6)),
            rows: Int(try row.requiredInt(7)), error: row.string(8), worker: row.string(9) ?? "")
    }

    public func jobRuns(_ query: JobRunQuery) async throws(WarehouseError) -> JobRunPage {
        try await run("read the ingestion log") { connection throws(MySQLError) in
            var conditions: [String] = []
            var parameters = MySQLParameters()
            if let job = query.job {
                conditions.append("job = ?")
                parameters.append(job.rawValue)
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

    public func latestJobRuns() async throws(WarehouseError) -> [JobName: JobRun] {
        try await run("read the latest job runs") { connection throws(MySQLError) in
            var latest: [JobName: JobRun] = [:]
            for row in try connection.query(
                "SELECT \(Self.jobRunColumns) FROM job_runs WHERE id IN (SELECT max(id) FROM job_runs GROUP BY job)"
            ).all {
                let run = try Self.jobRun(row)
                latest[run.job] = run
            }
            return latest
        }
    }

    // MARK: Schedules

    public func jobSchedules() async throws(WarehouseError) -> [StoredJobSchedule] {
        try await run("read job schedules") { connection throws(MySQLError) in
            var schedules: [StoredJobSchedule] = []
            for row in try connection.query(
                "SELECT job, enabled, interval_seconds, weekday, minute_of_day, updated_at FROM job_schedules ORDER BY job"
            ).all {
                schedules.append(
                    StoredJobSchedule(
                        job: JobName(rawValue: try row.requiredText(0)), enabled: try row.requiredInt(1) == 1,
                        intervalSeconds: row.int64(2).map(Int.init), weekday: row.int64(3).map(Int.init),
                        minuteOfDay: row.int64(4).map(Int.init), updatedAt: try row.requiredInt(5)))
            }
            return schedules
        }
    }

    public func saveJobSchedule(_ schedule: StoredJobSchedule) async throws(WarehouseError) {
        try await write("save the schedule of job \(schedule.job)") { connection throws(MySQLError) in
            let parameters = MySQLParameters(
                schedule.job.rawValue, schedule.enabled, schedule.intervalSeconds, schedule.weekday, schedule.minuteOfDay,
                schedule.updatedAt)
            try connection.run(
                """
                INSERT INTO job_schedules (job, enabled, interval_seconds, weekday, minute_of_day, updated_at) VALUES (?, ?, ?, ?, ?, ?)
                ON DUPLICATE KEY UPDATE enabled = VALUES(enabled), interval_seconds = VALUES(interval_seconds),
                    weekday = VALUES(weekday), minute_of_day = VALUES(minute_of_day), updated_at = VALUES(updated_at)
                """, parameters)
        }
    }
}
