public import Logging
public import Warehouse

/// The scheduler's three jobs, built from the pipeline's parts: `extract-transform`, `gap-fill` and `maintenance`.
public enum PipelineJobs {
    public static let extractTransform: JobName = "extract-transform"
    public static let gapFill: JobName = "gap-fill"
    public static let maintenance: JobName = "maintenance"

    public struct Defaults: Sendable {
        public var extractTransformSeconds: Int
        public var gapFillSeconds: Int
        /// Sunday 02:00 UTC.
        public var maintenance: JobSchedule

        public init(
            extractTransformSeconds: Int = 60, gapFillSeconds: Int = 3_600, maintenance: JobSchedule = .weekly(weekday: 0, minuteOfDay: 120)
        ) {
            self.extractTransformSeconds = extractTransformSeconds
            self.gapFillSeconds = gapFillSeconds
            self.maintenance = maintenance
        }
    }

    /// What the extraction plan is computed from; `nil` extracts every order book every cycle.
    public struct Planning: Sendable {
        /// The weight budget per minute.
        public var budgetPerMinute: Int
        /// Seconds between extract-transform runs.
        public var cycleSeconds: Int

        public init(budgetPerMinute: Int, cycleSeconds: Int) {
            self.budgetPerMinute = budgetPerMinute
            self.cycleSeconds = cycleSeconds
        }

        public func plan(symbols: Int, depthLimit: Int) -> ExtractionPlan {
            ExtractionPlan(symbols: symbols, cycleSeconds: cycleSeconds, depthLimit: depthLimit, budgetPerMinute: budgetPerMinute)
        }
    }

    /// The jobs. `collecting` says which symbols extract-transform fetches (default: every tracked one; a worker among
    /// several: its share); with a `gate` (given to the scheduler as well), gap-fill and maintenance are shared jobs:
    /// one worker at a time runs them, under their leases, and their schedules follow the last run of any worker.
    public static func make(
        extractor: Extractor, transformer: Transformer, gapFiller: GapFiller, maintenance: Maintenance, symbols: SymbolRegistry,
        collecting: (any SymbolSource)? = nil, gate: (any SingletonGate)? = nil,
        defaults: Defaults = Defaults(), planning: Planning? = nil, logger: Logger,
        onCycle: @escaping @Sendable (CycleReport) async -> Void = { _ in }
    ) -> [ScheduledJob] {
        let cycles = CycleCounter()
        let collected: any SymbolSource = collecting ?? symbols
        @Sendable func fillGaps() async throws -> JobRunOutcome {
            let report = try await gapFiller.fill(try await symbols.symbols())
            var outcome = JobRunOutcome(
                status: report.failures.isEmpty ? .succeeded : .partial, files: report.requested, rows: report.candlesFetched)
            if !report.failures.isEmpty { outcome.error = report.failures.joined(separator: "; ") }
            logger.info(
                "gap fill finished",
                metadata: [
                    "gaps.requested": "\(report.requested)", "gaps.filled": "\(report.filled)",
                    "gaps.exchange_empty": "\(report.exchangeEmpty)",
                ])
            return outcome
        }
        return [
            ScheduledJob(name: extractTransform, defaultSchedule: .every(seconds: defaults.extractTransformSeconds)) {
                let tracked = try await collected.symbols()
                let plan = planning?.plan(symbols: tracked.count, depthLimit: extractor.configuration.depthLimit)
                let (number, planChanged) = await cycles.next(plan: plan)
                if let plan, planChanged {
                    // Symbols were added or removed: the order-book cadence may have to change.
                    if plan.depthStretched || plan.klinesOverBudget {
                        logger.warning("extraction plan", metadata: ["plan": "\(plan)"])
                    } else {
                        logger.info("extraction plan", metadata: ["plan": "\(plan)"])
                    }
                }
                let extraction = await extractor.extractAll(tracked, cycle: number, plan: plan)
                var report = CycleReport(number: number, extraction: extraction)
                report.plan = plan
                var outcome = JobRunOutcome(status: extraction.failures.isEmpty ? .succeeded : .partial)
                outcome.files = extraction.symbols.reduce(0) { $0 + $1.objects.count }
                var errors = extraction.failures.map { "\($0.symbol): \($0.message)" }
                do {
                    report.transform = try await transformer.transformPending()
                    outcome.rows = report.transform.rowsWritten
                    if report.transform.rejected > 0 {
                        errors.append("\(report.transform.rejected) lake objects rejected")
                        outcome.status = .partial
                    }
                } catch {
                    report.transformError = "\(error)"
                    errors.append("transform: \(error)")
                    outcome.status = .failed
                }
                if !tracked.isEmpty, extraction.symbols.isEmpty, outcome.status == .partial { outcome.status = .failed }
                outcome.error = errors.isEmpty ? nil : errors.joined(separator: "; ")
                await onCycle(report)
                return outcome
            },
            ScheduledJob(name: gapFill, defaultSchedule: .every(seconds: defaults.gapFillSeconds), shared: gate != nil) {
                try await fillGaps()
            },
            ScheduledJob(name: Self.maintenance, defaultSchedule: defaults.maintenance, shared: gate != nil) {
                let report = try await maintenance.run()
                return JobRunOutcome(status: .succeeded, rows: report.retention.klineRows + report.retention.orderBookRows)
            },
        ]

    }
}

/// What one extract-transform run did, for progress lines.
public struct CycleReport: Sendable {
    public var number: Int
    public var extraction: ExtractionReport
    public var transform = TransformReport()
    public var transformError: String?
    /// The plan the cycle followed, when the weight budget is planned.
    public var plan: ExtractionPlan?

    public init(number: Int, extraction: ExtractionReport) {
        self.number = number
        self.extraction = extraction
    }
}

/// Numbers extract-transform cycles for their reports and notices when the plan changes.
actor CycleCounter {
    private var count = 0
    private var lastPlan: ExtractionPlan?

    func next(plan: ExtractionPlan?) -> (number: Int, planChanged: Bool) {
        count += 1
        defer { lastPlan = plan }
        return (count, plan != lastPlan)
    }
}
