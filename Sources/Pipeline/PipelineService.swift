public import Logging
public import ServiceLifecycle

/// Runs extract + transform every `interval` until graceful shutdown (or `cycles` runs).
///
/// A shutdown request lets the running cycle finish, so no response is left fetched but unsaved.
public struct PipelineService: Service {
    public struct Configuration: Sendable {
        public var interval: Duration
        /// Stop after this many cycles; `nil` runs until shutdown.
        public var cycles: Int?

        public init(interval: Duration = .seconds(60), cycles: Int? = nil) {
            self.interval = interval
            self.cycles = cycles
        }
    }

    let configuration: Configuration
    let extractor: Extractor
    let transformer: Transformer
    let logger: Logger
    let onCycle: @Sendable (CycleReport) async -> Void

    public init(
        configuration: Configuration, extractor: Extractor, transformer: Transformer, logger: Logger,
        onCycle: @escaping @Sendable (CycleReport) async -> Void = { _ in }
    ) {
        self.configuration = configuration
        self.extractor = extractor
        self.transformer = transformer
        self.logger = logger
        self.onCycle = onCycle
    }

    public func run() async throws {
        var cycle = 0
        let clock = ContinuousClock()
        var next = clock.now
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            cycle += 1
            let report = await runCycle(number: cycle)
            await onCycle(report)
            if let cycles = configuration.cycles, cycle >= cycles { break }
            next = next.advanced(by: configuration.interval)
            if next < clock.now { next = clock.now }
            let wakeUp = next
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(until: wakeUp, clock: clock) }
            } catch {
                break
            }
        }
        logger.info("pipeline stopped", metadata: ["cycles": "\(cycle)"])
    }

    /// One extract + transform; errors are reported in the result, never thrown, so the loop survives them.
    public func runCycle(number: Int) async -> CycleReport {
        let extraction = await extractor.extractAll()
        var report = CycleReport(number: number, extraction: extraction)
        do {
            report.transform = try await transformer.transformPending()
        } catch {
            logger.error("transform failed", metadata: ["error": "\(error)"])
            report.transformError = "\(error)"
        }
        return report
    }
}

public struct CycleReport: Sendable {
    public var number: Int
    public var extraction: ExtractionReport
    public var transform = TransformReport()
    public var transformError: String?

    public init(number: Int, extraction: ExtractionReport) {
        self.number = number
        self.extraction = extraction
    }
}
