import Foundation
import Logging
import Pipeline
import PipelineTesting
import Synchronization
import Testing
import Warehouse

/// The scheduler on a manual clock: schedules, one job at a time, persistence across restarts.
struct SchedulerTests {
    /// Wednesday 2026-11-25T09:00:00Z.
    static let wednesday: Int64 = 1_795_597_200_000
    static let day: Int64 = 86_400_000

    @Test func weeklyNextRunIsTheFirstMatchingTimeAfterTheAnchor() {
        let sunday0200 = JobSchedule.weekly(weekday: 0, minuteOfDay: 120)
        // From a Wednesday: the coming Sunday 2026-11-29T02:00Z.
        #expect(sunday0200.nextRun(lastRunStart: nil, anchor: Self.wednesday) == UTCTimeFixture.parse("2026-11-29T02:00:00Z"))
        // Exactly at the time: the next week's.
        let sunday = UTCTimeFixture.parse("2026-11-29T02:00:00Z")
        #expect(sunday0200.nextRun(lastRunStart: sunday, anchor: 0) == sunday + 7 * Self.day)
        // Same weekday, earlier in the day: later that day.
        #expect(sunday0200.nextRun(lastRunStart: nil, anchor: sunday - 3_600_000) == sunday)
        // A run missed while the process was down is due at once (its time is before now), once.
        let missed = sunday0200.nextRun(lastRunStart: sunday - 7 * Self.day, anchor: 0)
        #expect(missed == sunday)
        // Saturday 23:59 on a Friday anchor.
        #expect(
            JobSchedule.weekly(weekday: 6, minuteOfDay: 1_439).nextRun(lastRunStart: nil, anchor: Self.wednesday)
                == UTCTimeFixture.parse("2026-11-28T23:59:00Z"))
        #expect(JobSchedule.every(seconds: 60).nextRun(lastRunStart: 1_000, anchor: 5_000) == 61_000)
        #expect(JobSchedule.every(seconds: 60).nextRun(lastRunStart: nil, anchor: 5_000) == 5_000)
        #expect(JobSchedule.minuteOfDay(parsing: "02:00") == 120 && JobSchedule.minuteOfDay(parsing: "24:00") == nil)
        #expect(JobSchedule.minuteOfDay(parsing: "2:00") == nil && JobSchedule.weekday(parsing: "Sunday") == 0)
    }

    /// A job whose runs are counted and can be held open.
    final class Probe: Sendable {
        let runs = Mutex(0)
        let hold = Mutex(false)
        let fail = Mutex(false)
        /// Names of started jobs, in order, shared between probes.
        let order: RunOrder?

        init(order: RunOrder? = nil) {
            self.order = order
        }

        var count: Int { runs.withLock { $0 } }

        func job(_ name: JobName, _ schedule: JobSchedule) -> ScheduledJob {
            ScheduledJob(name: name, defaultSchedule: schedule) {
                self.runs.withLock { $0 += 1 }
                self.order?.names.withLock { $0.append(name.rawValue) }
                while self.hold.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(5)) }
                if self.fail.withLock({ $0 }) { throw ProbeError() }
                return JobRunOutcome(status: .succeeded, files: 2, rows: 10)
            }
        }
    }

    final class RunOrder: Sendable {
        let names = Mutex<[String]>([])
    }

    struct ProbeError: Error, CustomStringConvertible {
        var description: String { "probe failed" }
    }

    struct Fixture {
        let folder: TemporaryDirectory
        let warehouse: SQLiteWarehouse
        let clock = ManualClock(SchedulerTests.wednesday)

        init() async throws {
            folder = try TemporaryDirectory("scheduler")
            warehouse = try SQLiteWarehouse(path: folder.path + "/w.sqlite")
            try await warehouse.migrate()
        }

        func scheduler(_ jobs: [ScheduledJob], stopAfter: (job: JobName, runs: Int)? = nil) -> JobScheduler {
            JobScheduler(
                jobs: jobs, warehouse: warehouse, clock: clock.reader, configuration: .init(stopAfter: stopAfter),
                logger: Logger(label: "test"))
        }

        /// Advances once the scheduler's ticker sleeps, so the tick is not lost.
        func advance(seconds: Int64) async throws {
            try await eventually { clock.sleeperCount > 0 }
            clock.advance(milliseconds: seconds * 1_000)
        }

        /// Advances, then waits until the scheduler made a pass over its due jobs at the new time: afterwards, a job that
        /// has not started was not started by that pass (the chance was given), not merely not yet.
        func advance(seconds: Int64, thenAwaitPassOf scheduler: JobScheduler) async throws {
            try await advance(seconds: seconds)
            let now = clock.now
            try await eventually { (await scheduler.lastPassAt ?? .min) >= now }
        }
    }

    /// Runs `body` while the scheduler runs, then stops it.
    static func running(_ scheduler: JobScheduler, _ body: () async throws -> Void) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await scheduler.run() }
            try await eventually { await scheduler.isRunning }
            do {
                try await body()
            } catch {
                group.cancelAll()
                throw error
            }
            group.cancelAll()
        }
    }

    @Test func anIntervalJobRunsAtOnceThenEveryIntervalAndEveryRunIsLogged() async throws {
        let fixture = try await Fixture()
        defer { fixture.folder.remove() }
        let probe = Probe()
        let scheduler = fixture.scheduler([probe.job("extract-transform", .every(seconds: 60))])
        try await Self.running(scheduler) {
            try await eventually { probe.count == 1 }
            try await eventually { await scheduler.states()[0].running == false }
            try await fixture.advance(seconds: 30, thenAwaitPassOf: scheduler)
            let running = await scheduler.states()[0].running
            #expect(probe.count == 1 && !running, "ran before its interval")
            try await fixture.advance(seconds: 30)
            try await eventually { probe.count == 2 }
            try await eventually { await scheduler.states()[0].lastRun?.status == .succeeded }
        }
        let log = try await fixture.warehouse.jobRuns(JobRunQuery())
        #expect(
            log.total == 2 && log.runs.allSatisfy { $0.status == .succeeded && $0.files == 2 && $0.rows == 10 && $0.trigger == .schedule })
        #expect(log.runs[0].startedAt == Self.wednesday + 60_000)
    }

    @Test func jobsRunOneAtATimeAndATriggerOfARunningJobIsRefused() async throws {
        let fixture = try await Fixture()
        defer { fixture.folder.remove() }
        let order = RunOrder()
        let first = Probe(order: order)
        let second = Probe(order: order)
        first.hold.withLock { $0 = true }
        let scheduler = fixture.scheduler([first.job("a", .every(seconds: 60)), second.job("b", .every(seconds: 60))])
        try await Self.running(scheduler) {
            try await eventually { first.count == 1 }
            // "b" is due too, but waits while "a" runs: a pass after the next tick leaves it waiting.
            try await fixture.advance(seconds: 1, thenAwaitPassOf: scheduler)
            let running = await scheduler.states()[1].running
            #expect(second.count == 0 && !running)
            await #expect(throws: SchedulerError(.alreadyRunning, job: "a")) { try await scheduler.trigger("a") }
            // Still running after its next due time: it is not started a second time.
            try await fixture.advance(seconds: 120, thenAwaitPassOf: scheduler)
            #expect(first.count == 1 && second.count == 0)
            first.hold.withLock { $0 = false }
            try await eventually { second.count == 1 }
            // "b" has waited longest, so it goes before "a" runs again: an overrunning job cannot starve the others.
            #expect(order.names.withLock { Array($0.prefix(2)) } == ["a", "b"])
        }
    }

    @Test func aDisabledJobDoesNotRunWhenDueAndRunsAgainOnceEnabled() async throws {
        let fixture = try await Fixture()
        defer { fixture.folder.remove() }
        let probe = Probe()
        let scheduler = fixture.scheduler([probe.job("gap-fill", .every(seconds: 60))])
        try await Self.running(scheduler) {
            try await eventually { probe.count == 1 }
            try await eventually { await scheduler.states()[0].running == false }
            _ = try await scheduler.setEnabled("gap-fill", false)
            // Due twice over: a pass at that time must leave it alone.
            try await fixture.advance(seconds: 120, thenAwaitPassOf: scheduler)
            let state = try await scheduler.state("gap-fill")
            #expect(probe.count == 1 && !state.running && state.nextRunAt == nil, "a disabled job ran")
            #expect(state.lastRun?.startedAt == Self.wednesday)
            // Enabling it makes it due at once (it is overdue).
            _ = try await scheduler.setEnabled("gap-fill", true)
            try await eventually { probe.count == 2 }
        }
        let log = try await fixture.warehouse.jobRuns(JobRunQuery())
        #expect(log.runs.map(\.startedAt) == [Self.wednesday + 120_000, Self.wednesday])
    }

    @Test func enableDisableScheduleAndTriggeredRunsSurviveARestart() async throws {
        let fixture = try await Fixture()
        defer { fixture.folder.remove() }
        let probe = Probe()
        let jobs = [probe.job("gap-fill", .every(seconds: 3_600)), probe.job("maintenance", .weekly(weekday: 0, minuteOfDay: 120))]
        let first = fixture.scheduler(jobs)
        try await Self.running(first) {
            try await eventually { probe.count == 1 }  // gap-fill, never run before
            try await eventually { await first.states()[0].running == false }
            _ = try await first.setEnabled("gap-fill", false)
            _ = try await first.setSchedule("maintenance", .weekly(weekday: 3, minuteOfDay: 600))
            try await first.trigger("maintenance")
            try await eventually { probe.count == 2 }
            try await eventually { await first.states()[1].running == false }
            await #expect(throws: SchedulerError(.wrongScheduleKind(expected: .weekly), job: "maintenance")) {
                _ = try await first.setSchedule("maintenance", .every(seconds: 60))
            }
            await #expect(throws: SchedulerError(.unknownJob, job: "nope")) { _ = try await first.setEnabled("nope", true) }
            await #expect(throws: SchedulerError.self) { _ = try await first.setSchedule("gap-fill", .every(seconds: 5)) }
        }
        // A new process on the same warehouse.
        fixture.clock.advance(milliseconds: 1_000)
        let second = fixture.scheduler(jobs)
        try await second.prepare()
        let states = await second.states()
        #expect(states[0].enabled == false && states[0].nextRunAt == nil)
        #expect(states[1].schedule == .weekly(weekday: 3, minuteOfDay: 600) && states[1].enabled)
        #expect(states[1].lastRun?.trigger == .manual && states[1].lastRun?.status == .succeeded)
        // Changed on Wednesday 09:00, so next Wednesday 10:00 is … today at 10:00.
        #expect(states[1].nextRunAt == Self.wednesday + 3_600_000)
        await #expect(throws: SchedulerError(.notRunning, job: "maintenance")) { try await second.trigger("maintenance") }
    }

    @Test func aWeeklyJobRunsWhenItsTimeComesAndFailuresAreLogged() async throws {
        let fixture = try await Fixture()
        defer { fixture.folder.remove() }
        let probe = Probe()
        probe.fail.withLock { $0 = true }
        let scheduler = fixture.scheduler([probe.job("maintenance", .weekly(weekday: 0, minuteOfDay: 120))])
        try await Self.running(scheduler) {
            try await fixture.advance(seconds: 3 * 86_400, thenAwaitPassOf: scheduler)  // Saturday 09:00
            let running = await scheduler.states()[0].running
            #expect(probe.count == 0 && !running, "ran before its time")
            try await fixture.advance(seconds: 17 * 3_600)  // Sunday 02:00
            try await eventually { probe.count == 1 }
            try await eventually { await scheduler.states()[0].lastRun?.status == .failed }
            try await fixture.advance(seconds: 3_600, thenAwaitPassOf: scheduler)
            let stillRunning = await scheduler.states()[0].running
            #expect(probe.count == 1 && !stillRunning, "ran twice in one week")
        }
        let runs = try await fixture.warehouse.jobRuns(JobRunQuery(status: .failed))
        #expect(runs.total == 1 && runs.runs[0].error == "probe failed")
    }

    @Test func stopsAfterTheRequestedRunsAndClosesRunsLeftByACrash() async throws {
        let fixture = try await Fixture()
        defer { fixture.folder.remove() }
        let crashed = try await fixture.warehouse.startJobRun(job: "extract-transform", trigger: .schedule, at: 1)
        let probe = Probe()
        let scheduler = fixture.scheduler([probe.job("extract-transform", .every(seconds: 10))], stopAfter: ("extract-transform", 2))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await scheduler.run() }
            try await eventually { probe.count == 1 }
            try await fixture.advance(seconds: 10)
            try await group.waitForAll()
        }
        #expect(probe.count == 2)
        let log = try await fixture.warehouse.jobRuns(JobRunQuery())
        #expect(log.runs.first { $0.id == crashed }?.status == .failed)
        #expect(log.runs.first { $0.id == crashed }?.error?.contains("interrupted") == true)
    }
}

enum UTCTimeFixture {
    static func parse(_ text: String) -> Int64 {
        let formatter = ISO8601DateFormatter()
        return Int64((formatter.date(from: text)?.timeIntervalSince1970 ?? 0) * 1_000)
    }
}

/// Polls `condition` until it holds (30 s at most: the full suite keeps both cores busy).
/// Waits for `condition` (an event), polling; the limit only bounds a hung test, so it is generous: a 2-core machine
/// running a build beside the suite once took over 30 s to start a scheduler.
func eventually(_ condition: () async throws -> Bool, sourceLocation: SourceLocation = #_sourceLocation) async throws {
    let deadline = ContinuousClock.now + .seconds(180)
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(5))
    }
    Issue.record("condition not met within 180 s", sourceLocation: sourceLocation)
    throw CancellationError()
}
