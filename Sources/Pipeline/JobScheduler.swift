public import CoreMetrics
public import Logging
public import MarketData
public import ServiceLifecycle
public import Warehouse

/// A job the scheduler runs: its name, default schedule, and the work (which reports what it did).
public struct ScheduledJob: Sendable {
    public var name: JobName
    public var defaultSchedule: JobSchedule
    public var enabledByDefault: Bool
    /// Run by one of several workers for all of them: before a scheduled run, the last run any worker recorded is read,
    /// and one that started since makes this run wait for the next due time.
    public var shared: Bool
    /// Does the work; throwing marks the run failed with the error's description.
    public var work: @Sendable () async throws -> JobRunOutcome

    public init(
        name: JobName, defaultSchedule: JobSchedule, enabledByDefault: Bool = true, shared: Bool = false,
        work: @escaping @Sendable () async throws -> JobRunOutcome
    ) {
        self.shared = shared
        self.name = name
        self.defaultSchedule = defaultSchedule
        self.enabledByDefault = enabledByDefault
        self.work = work
    }
}

/// A job as the API shows it.
public struct JobState: Sendable, Hashable {
    public var name: JobName
    public var schedule: JobSchedule
    public var enabled: Bool
    public var running: Bool
    public var lastRun: JobRun?
    /// When it is next due; `nil` while disabled.
    public var nextRunAt: Int64?
    public var updatedAt: Int64
}

public struct SchedulerError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        case unknownJob
        /// An interval given to a weekly job or the reverse.
        case wrongScheduleKind(expected: JobSchedule.Kind)
        case invalidSchedule(String)
        case alreadyRunning
        /// This process only serves (`cryptopipe serve`); `cryptopipe run` runs the jobs.
        case notRunning
        case storage(String)
    }

    public var kind: Kind
    public var job: JobName

    public init(_ kind: Kind, job: JobName) {
        self.kind = kind
        self.job = job
    }

    public var description: String {
        switch kind {
        case .unknownJob: "unknown job '\(job)'"
        case .wrongScheduleKind(let expected):
            expected == .interval
                ? "job '\(job)' runs at an interval: give interval_seconds, not a weekday and time"
                : "job '\(job)' runs weekly: give weekday and time, not interval_seconds"
        case .invalidSchedule(let detail): "invalid schedule for job '\(job)': \(detail)"
        case .alreadyRunning: "job '\(job)' is already running; wait for it to finish"
        case .notRunning: "no jobs run in this process (cryptopipe serve); start 'cryptopipe run' to run job '\(job)'"
        case .storage(let detail): "cannot save the schedule of job '\(job)': \(detail)"
        }
    }
}

/// Runs jobs on their schedules, persisted in the warehouse, as one service.
///
/// Jobs run one at a time, so a job never runs twice at once; a due job waits for the running one. Every run is recorded in
/// `job_runs` (the ingestion log). On graceful shutdown no new run starts and running ones finish.
public actor JobScheduler: Service {
    public struct Configuration: Sendable {
        /// How often due jobs are checked.
        public var tick: Duration
        /// Stop after this job finished this many runs (for `run --cycles`).
        public var stopAfter: (job: JobName, runs: Int)?
        /// The worker whose runs these are (recorded in `job_runs.worker`); empty when only one process runs jobs.
        public var workerID: String
        /// With several workers: the ids of the live ones, whose running runs are not closed.
        public var liveWorkers: (@Sendable () async throws -> Set<String>)?
        /// With several workers: the leases shared jobs run under; a shared job another worker is running is not run
        /// (and no run is recorded).
        public var gate: (any SingletonGate)?

        public init(
            tick: Duration = .seconds(1), stopAfter: (job: JobName, runs: Int)? = nil, workerID: String = "",
            liveWorkers: (@Sendable () async throws -> Set<String>)? = nil, gate: (any SingletonGate)? = nil
        ) {
            self.gate = gate
            self.tick = tick
            self.stopAfter = stopAfter
            self.workerID = workerID
            self.liveWorkers = liveWorkers
        }
    }

    private struct Entry {
        var job: ScheduledJob
        var schedule: JobSchedule
        var enabled: Bool
        var updatedAt: Int64
        var lastRun: JobRun?
        var running = false
        var manualRequested = false
        /// A shared job another worker was running is not taken again before this time.
        var notBefore: Int64?
        var duration: CoreMetrics.Timer
        var failures: Counter
        var rows: Counter
    }

    private let configuration: Configuration
    private let warehouse: any JobRunStore
    private let clock: PipelineClock
    private let logger: Logger
    private var entries: [JobName: Entry] = [:]
    private let order: [JobName]
    private var prepared = false
    /// Schedule changes one at a time (see ``update(_:_:)``).
    private let changes = ChangeLock()
    private var wakeUp: AsyncStream<Void>.Continuation?
    private var completedRuns: [JobName: Int] = [:]
    /// The clock time of the latest pass over due jobs, recorded once that pass decided what to start (`nil` before the
    /// first pass). A test hook: after moving a manual clock, a test waits for a pass at or after the new time before
    /// checking that a job did *not* start, so the scheduler provably had the chance.
    public private(set) var lastPassAt: Int64?

    public init(
        jobs: [ScheduledJob], warehouse: any JobRunStore, clock: PipelineClock = .system,
        configuration: Configuration = Configuration(), metrics: any MetricsFactory = MetricsSystem.factory, logger: Logger
    ) {
        self.configuration = configuration
        self.warehouse = warehouse
        self.clock = clock
        self.logger = logger
        self.order = jobs.map(\.name)
        for job in jobs {
            let dimensions = [("job", job.name.rawValue)]
            entries[job.name] = Entry(
                job: job, schedule: job.defaultSchedule, enabled: job.enabledByDefault, updatedAt: 0,
                duration: CoreMetrics.Timer(label: "cryptopipe_job_duration_seconds", dimensions: dimensions, factory: metrics),
                failures: Counter(label: "cryptopipe_job_failures_total", dimensions: dimensions, factory: metrics),
                rows: Counter(label: "cryptopipe_rows_loaded_total", dimensions: dimensions, factory: metrics))
        }
    }

    /// Reads the persisted schedules (saving the defaults of jobs never seen) and the last run of each job.
    public func prepare() async throws(SchedulerError) {
        guard !prepared else { return }
        do {
            let stored = Dictionary(
                try await warehouse.jobSchedules().map { ($0.job, $0) }, uniquingKeysWith: { $1 })
            let latest = try await warehouse.latestJobRuns()
            let now = clock.now()
            for name in order {
                guard var entry = entries[name] else { continue }
                // A worker's own job (its extraction) follows its own runs; a shared one, anyone's.
                let last = latest[name]
                let own = configuration.workerID.isEmpty || entry.job.shared || last?.worker == configuration.workerID
                entry.lastRun = own ? last : entry.lastRun
                if let saved = stored[name], let schedule = Self.schedule(saved), schedule.kind == entry.job.defaultSchedule.kind {
                    entry.schedule = schedule
                    entry.enabled = saved.enabled
                    entry.updatedAt = saved.updatedAt
                } else {
                    entry.updatedAt = now
                    try await warehouse.saveJobSchedule(Self.stored(name, entry.schedule, enabled: entry.enabled, at: now))
                }
                entries[name] = entry
            }
        } catch {
            throw SchedulerError(.storage(error.description), job: JobName(rawValue: "*"))
        }
        prepared = true
    }

    /// Applies a schedule change made by another process (e.g. `cryptopipe serve` beside `cryptopipe run`).
    public func reload() async throws(SchedulerError) {
        // Under the change lock: a reload reading the stored schedules while a change is being saved would put the
        // older schedule back in memory.
        await changes.acquire()
        defer { changes.release() }
        prepared = false
        try await prepare()
        wakeUp?.yield()
    }

    public func run() async throws {
        try await prepare()
        var sparing = try await configuration.liveWorkers?() ?? []
        sparing.remove(configuration.workerID)
        let abandoned = try await warehouse.abandonRunningJobRuns(
            at: clock.now(), reason: "interrupted: the process stopped during the run", sparing: sparing)
        if abandoned > 0 { logger.notice("closed job runs left running by a stopped process", metadata: ["job_runs": "\(abandoned)"]) }
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        wakeUp = continuation
        defer { wakeUp = nil }
        logger.info("scheduler started", metadata: ["jobs": "\(order.map(\.rawValue).joined(separator: ","))"])
        let clock = self.clock
        let tick = configuration.tick
        let follow = !configuration.workerID.isEmpty
        await withTaskGroup(of: Void.self) { ticker in
            ticker.addTask {
                var ticks = 0
                while !Task.isCancelled {
                    do { try await clock.sleep(for: tick) } catch { return }
                    ticks += 1
                    if follow, ticks % 10 == 0 {
                        await self.followSavedSchedules()
                        await self.closeRunsOfGoneWorkers()
                    }
                    continuation.yield()
                }
            }
            await withDiscardingTaskGroup { runs in
                await withGracefulShutdownHandler {
                    continuation.yield()
                    for await _ in stream {
                        for (name, trigger) in self.takeDueJobs() {
                            runs.addTask { await self.execute(name, trigger: trigger) }
                        }
                    }
                } onGracefulShutdown: {
                    continuation.finish()
                }
            }
            ticker.cancelAll()
        }
        logger.info("scheduler stopped")
    }

    /// Runs the job now (even when disabled), or as soon as the running job finishes; refused while it runs or waits.
    /// Returns whether it had to wait for another job.
    @discardableResult
    public func trigger(_ name: JobName) throws(SchedulerError) -> TriggerResult {
        guard var entry = entries[name] else { throw SchedulerError(.unknownJob, job: name) }
        guard let wakeUp else { throw SchedulerError(.notRunning, job: name) }
        guard !entry.running, !entry.manualRequested else { throw SchedulerError(.alreadyRunning, job: name) }
        entry.manualRequested = true
        entries[name] = entry
        wakeUp.yield()
        return entries.values.contains(where: \.running) ? .queued : .started
    }

    public enum TriggerResult: String, Sendable {
        case started
        /// Another job is running; this one starts when it finishes.
        case queued
    }

    public func setEnabled(_ name: JobName, _ enabled: Bool) async throws(SchedulerError) -> JobState {
        guard entries[name] != nil else { throw SchedulerError(.unknownJob, job: name) }
        return try await update(name) { entry in (entry.schedule, enabled) }
    }

    public func setSchedule(_ name: JobName, _ schedule: JobSchedule) async throws(SchedulerError) -> JobState {
        guard let entry = entries[name] else { throw SchedulerError(.unknownJob, job: name) }
        guard schedule.kind == entry.job.defaultSchedule.kind else {
            throw SchedulerError(.wrongScheduleKind(expected: entry.job.defaultSchedule.kind), job: name)
        }
        switch schedule {
        case .every(let seconds):
            guard (JobSchedule.minimumIntervalSeconds...JobSchedule.maximumIntervalSeconds).contains(seconds) else {
                throw SchedulerError(
                    .invalidSchedule(
                        "interval_seconds must be from \(JobSchedule.minimumIntervalSeconds) to \(JobSchedule.maximumIntervalSeconds)"),
                    job: name)
            }
        case .weekly(let weekday, let minute):
            guard (0...6).contains(weekday), (0..<1_440).contains(minute) else {
                throw SchedulerError(.invalidSchedule("weekday 0-6 and a time 00:00-23:59 expected"), job: name)
            }
        }
        return try await update(name) { entry in (schedule, entry.enabled) }
    }

    /// Every job in definition order.
    public func states() -> [JobState] {
        order.compactMap { name in entries[name].map { state(of: $0) } }
    }

    public func state(_ name: JobName) throws(SchedulerError) -> JobState {
        guard let entry = entries[name] else { throw SchedulerError(.unknownJob, job: name) }
        return state(of: entry)
    }

    public var jobNames: [JobName] { order }

    /// Whether this scheduler runs jobs (as opposed to only showing and editing their schedules).
    public var isRunning: Bool { wakeUp != nil }

    // MARK: Internals

    /// Applies `change` to the job's current schedule and enabled flag and saves the result. Changes run one at a time
    /// and each reads the entry only after the previous one was saved, so concurrent changes to different fields of
    /// one job all take effect.
    private func update(
        _ name: JobName, _ change: (Entry) -> (schedule: JobSchedule, enabled: Bool)
    ) async throws(SchedulerError) -> JobState {
        await changes.acquire()
        defer { changes.release() }
        try await prepare()
        guard let current = entries[name] else { throw SchedulerError(.unknownJob, job: name) }
        let (schedule, enabled) = change(current)
        let now = clock.now()
        do {
            try await warehouse.saveJobSchedule(Self.stored(name, schedule, enabled: enabled, at: now))
        } catch {
            throw SchedulerError(.storage(error.description), job: name)
        }
        guard var entry = entries[name] else { throw SchedulerError(.unknownJob, job: name) }
        entry.schedule = schedule
        entry.enabled = enabled
        entry.updatedAt = now
        entries[name] = entry
        logger.info("job schedule changed", metadata: ["job": "\(name)", "schedule": "\(schedule.description)", "enabled": "\(enabled)"])
        wakeUp?.yield()
        return state(of: entry)
    }

    private func state(of entry: Entry) -> JobState {
        JobState(
            name: entry.job.name, schedule: entry.schedule, enabled: entry.enabled, running: entry.running, lastRun: entry.lastRun,
            nextRunAt: entry.enabled ? entry.schedule.nextRun(lastRunStart: entry.lastRun?.startedAt, anchor: entry.updatedAt) : nil,
            updatedAt: entry.updatedAt)
    }

    /// Picks the next job to run, if none is running: manual requests first, then the due job that has waited longest
    /// (ties in definition order), so a job that overruns its own interval cannot starve the others.
    ///
    /// Jobs run one at a time: they share the lake and the warehouse (two transforms at once would race for the same
    /// objects), and none is so long that the others cannot wait for it.
    private func takeDueJobs() -> [(JobName, JobTrigger)] {
        let now = clock.now()
        defer { lastPassAt = now }
        guard !entries.values.contains(where: \.running) else { return [] }
        let manual = order.first { entries[$0]?.manualRequested == true }
        let due = order.enumerated().compactMap { index, name -> (dueAt: Int64, index: Int, name: JobName)? in
            guard let entry = entries[name], entry.enabled, (entry.notBefore ?? .min) <= now else { return nil }
            let dueAt = entry.schedule.nextRun(lastRunStart: entry.lastRun?.startedAt, anchor: entry.updatedAt)
            return dueAt <= now ? (dueAt, index, name) : nil
        }
        let scheduled = due.min { ($0.dueAt, $0.index) < ($1.dueAt, $1.index) }?.name
        guard let name = manual ?? scheduled, var entry = entries[name] else { return [] }
        entry.running = true
        entry.manualRequested = false
        entries[name] = entry
        return [(name, manual != nil ? JobTrigger.manual : .schedule)]
    }

    private func execute(_ name: JobName, trigger: JobTrigger) async {
        guard let entry = entries[name] else { return }
        if entry.job.shared, trigger == .schedule, await ranElsewhere(name) {
            entries[name]?.running = false
            wakeUp?.yield()
            return
        }
        guard entry.job.shared, let gate = configuration.gate else {
            await perform(name, trigger: trigger)
            return
        }
        let ran: Void?
        do {
            ran = try await gate.exclusively(name.rawValue, waitingUpTo: .zero) { await self.perform(name, trigger: trigger) }
        } catch {
            logger.warning("cannot take the lease of a shared job; it stays due", metadata: ["job": "\(name)", "error": "\(error)"])
            ran = nil
        }
        if ran == nil {
            // Looked at again in a few seconds, when the other worker's run is recorded (and then followed).
            logger.info("job not run here: another worker is running it", metadata: ["job": "\(name)"])
            entries[name]?.running = false
            entries[name]?.notBefore = clock.now() + 5_000
        }
    }

    /// Runs the job and records the run.
    private func perform(_ name: JobName, trigger: JobTrigger) async {
        guard let entry = entries[name] else { return }
        let started = clock.now()
        let startInstant = ContinuousClock.now
        var run = JobRun(
            id: 0, job: name, trigger: trigger, startedAt: started, finishedAt: nil, status: .running, files: 0, rows: 0, error: nil)
        do {
            run.id = try await warehouse.startJobRun(job: name, trigger: trigger, at: started, worker: configuration.workerID)
        } catch {
            // The run still happens: losing its log line is better than losing the data it fetches.
            logger.error("cannot record the start of a job run", metadata: ["job": "\(name)", "error": "\(error)"])
        }
        entries[name]?.lastRun = run
        logger.info("job started", metadata: ["job": "\(name)", "trigger": "\(trigger)"])
        let outcome: JobRunOutcome
        do {
            outcome = try await entry.job.work()
        } catch {
            outcome = JobRunOutcome(status: .failed, error: "\(error)")
        }
        let finished = clock.now()
        entry.duration.recordNanoseconds((ContinuousClock.now - startInstant).nanosecondsClamped)
        entry.rows.increment(by: Int64(outcome.rows))
        if outcome.status != .succeeded { entry.failures.increment() }
        if run.id != 0 {
            do {
                try await warehouse.finishJobRun(id: run.id, at: finished, outcome: outcome)
            } catch {
                logger.error("cannot record the end of a job run", metadata: ["job": "\(name)", "error": "\(error)"])
            }
        }
        run.finishedAt = finished
        run.status = outcome.status
        run.files = outcome.files
        run.rows = outcome.rows
        run.error = outcome.error
        entries[name]?.lastRun = run
        entries[name]?.running = false
        var metadata: Logger.Metadata = [
            "job": "\(name)", "status": "\(outcome.status.rawValue)", "files": "\(outcome.files)", "rows": "\(outcome.rows)",
        ]
        if let error = outcome.error { metadata["error"] = "\(error)" }
        logger.log(level: outcome.status == .succeeded ? .info : .warning, "job finished", metadata: metadata)
        completedRuns[name, default: 0] += 1
        if let stop = configuration.stopAfter, stop.job == name, completedRuns[name, default: 0] >= stop.runs {
            wakeUp?.finish()
        } else {
            wakeUp?.yield()
        }
    }

    /// Takes the schedules and enabled flags saved since this scheduler read them (changed through another worker's API
    /// or a `serve`), every ten ticks when several workers share the warehouse; the last runs are left alone.
    public func followSavedSchedules() async {
        await changes.acquire()
        defer { changes.release() }
        let stored: [StoredJobSchedule]
        do {
            stored = try await warehouse.jobSchedules()
        } catch {
            logger.warning("cannot read the saved job schedules", metadata: ["error": "\(error)"])
            return
        }
        var changed = false
        for saved in stored {
            guard var entry = entries[saved.job], saved.updatedAt > entry.updatedAt, let schedule = Self.schedule(saved),
                schedule.kind == entry.job.defaultSchedule.kind
            else { continue }
            entry.schedule = schedule
            entry.enabled = saved.enabled
            entry.updatedAt = saved.updatedAt
            entries[saved.job] = entry
            changed = true
            logger.info(
                "job schedule changed by another process",
                metadata: ["job": "\(saved.job)", "schedule": "\(schedule.description)", "enabled": "\(saved.enabled)"])
        }
        if changed { wakeUp?.yield() }
    }

    /// Closes the runs left `running` by workers that are gone (killed, or their machine lost), so the ingestion log does
    /// not show them running for ever; this worker's and the live ones' are left alone.
    func closeRunsOfGoneWorkers() async {
        guard let liveWorkers = configuration.liveWorkers else { return }
        do {
            var live = try await liveWorkers()
            live.insert(configuration.workerID)
            let closed = try await warehouse.abandonRunningJobRuns(
                at: clock.now(), reason: "interrupted: the worker that ran it stopped", sparing: live)
            if closed > 0 { logger.notice("closed job runs of workers that are gone", metadata: ["job_runs": "\(closed)"]) }
        } catch {
            logger.warning("cannot close the job runs of workers that are gone", metadata: ["error": "\(error)"])
        }
    }

    /// Whether another worker ran (or runs) a shared job since this scheduler's last run of it, so it is not due here;
    /// its run becomes the last run. A failed read lets the run go ahead: the job's lease still keeps it single.
    private func ranElsewhere(_ name: JobName) async -> Bool {
        let latest: JobRun?
        do {
            latest = try await warehouse.latestJobRuns()[name]
        } catch {
            logger.warning("cannot read the last runs of the other workers", metadata: ["job": "\(name)", "error": "\(error)"])
            return false
        }
        guard let latest, latest.worker != configuration.workerID, latest.startedAt > (entries[name]?.lastRun?.startedAt ?? .min),
            var entry = entries[name]
        else { return false }
        entry.lastRun = latest
        entries[name] = entry
        let due = entry.schedule.nextRun(lastRunStart: latest.startedAt, anchor: entry.updatedAt)
        guard due > clock.now() else { return false }
        logger.info("job ran on another worker", metadata: ["job": "\(name)", "worker": "\(latest.worker)"])
        return true
    }

    /// The stored schedule, or `nil` when it is none `setSchedule` would have saved (values outside its ranges, from
    /// another version or edited by hand), so the job keeps the schedule it has.
    static func schedule(_ stored: StoredJobSchedule) -> JobSchedule? {
        if let seconds = stored.intervalSeconds {
            guard (JobSchedule.minimumIntervalSeconds...JobSchedule.maximumIntervalSeconds).contains(seconds) else { return nil }
            return .every(seconds: seconds)
        }
        if let weekday = stored.weekday, let minute = stored.minuteOfDay, (0...6).contains(weekday), (0..<1_440).contains(minute) {
            return .weekly(weekday: weekday, minuteOfDay: minute)
        }
        return nil
    }

    static func stored(_ job: JobName, _ schedule: JobSchedule, enabled: Bool, at time: Int64) -> StoredJobSchedule {
        switch schedule {
        case .every(let seconds):
            StoredJobSchedule(job: job, enabled: enabled, intervalSeconds: seconds, weekday: nil, minuteOfDay: nil, updatedAt: time)
        case .weekly(let weekday, let minute):
            StoredJobSchedule(job: job, enabled: enabled, intervalSeconds: nil, weekday: weekday, minuteOfDay: minute, updatedAt: time)
        }
    }
}

extension Duration {
    var nanosecondsClamped: Int64 {
        let (seconds, attoseconds) = components
        let (product, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? .max : product + attoseconds / 1_000_000_000
    }
}
