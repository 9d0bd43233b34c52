import ArgumentParser
import DataLake
import Exchange
import ExchangeSimulator
import Foundation
import Logging
import MarketData
import Pipeline
import PipelineTesting
import Warehouse

/// Hundreds of symbols at one-minute freshness on the wall clock: the simulator enforces Binance's 6000/min, the client
/// keeps to its budget, the plan stretches the order-book cadence. Reports the freshness lag of every closed candle
/// (from its close until it is in the warehouse), the weight used per minute, and 429/418 counts; the baseline, run in
/// the same process, is the same pipeline without a plan (every order book every cycle) and fetching one symbol at a time.
struct ScaleBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "scale")

    @Option(help: "Symbols.") var symbols = 500
    @Option(help: "Measured one-minute cycles per variant (after one warm-up cycle).") var minutes = 3
    @Option(help: "Order-book levels per side.") var depthLimit = 100
    @Option(help: "Share of the 6000/min weight, percent.") var weightBudget = 50
    @Flag(help: "Skip the baseline variant.") var noBaseline = false
    @Option(
        help: """
            Compare one worker with this many, each sending from an address of its own (127.0.0.1, .2, …, as \
            --source-address does) with its own weight budget, and the symbols shared out by leases in the warehouse as \
            `run` does (``WorkerCoordinator``); the simulator counts weight per address, as Binance does. 1: the \
            planned-vs-baseline comparison instead.
            """)
    var workers = 1
    @Option(
        help:
            "Second of the minute at which cycles start. The default, 1.5, is the worst case: a minute's candle is final 2 s after it closes, so each cycle just misses the newest one."
    )
    var phase = 1.5

    struct Outcome: Sendable {
        var lags: [Double] = []
        var cycleSeconds: [Double] = []
        var orderBooks = 0
        var weightPerMinute: [Int] = []
        var rateLimited = 0
        var banned = 0
        var failures = 0
        var plan: ExtractionPlan?
        /// Symbols each worker held by its leases.
        var shares: [Int] = []
    }

    func run() async throws {
        LoggingSystem.bootstrap { _ in SwiftLogNoOpLogHandler() }
        let chosen = try (0..<symbols).map { try Symbol(String(format: "S%04dUSDT", $0)) }
        if workers > 1 {
            let one = try await measure(chosen, planned: true, concurrency: 8)
            report("one process, one address", one)
            let many = try await measure(chosen, planned: true, concurrency: 8, workers: workers)
            report("\(workers) processes, \(workers) addresses", many)
            let perSymbol = { (outcome: Outcome) in Double(outcome.orderBooks) / Double(max(1, symbols * minutes)) }
            // A symbol is carried when its k-lines and an order book are fetched every minute: the order books a minute.
            let carried = { (outcome: Outcome) in min(Double(symbols), Double(outcome.orderBooks) / Double(max(1, minutes))) }
            print(
                String(
                    format:
                        "symbols carried (k-lines and a book every minute): %.0f vs %.0f (%.2f×); order books per symbol per minute: %.2f vs %.2f; p95 freshness %.1f s vs %.1f s; shares %@",
                    carried(many), carried(one), carried(many) / max(carried(one), 1), perSymbol(many), perSymbol(one),
                    Self.percentile(many.lags, 0.95), Self.percentile(one.lags, 0.95),
                    many.shares.map(String.init).joined(separator: "/")))
            return
        }
        let ours = try await measure(chosen, planned: true, concurrency: 8)
        report("planned, 8 in flight", ours)
        guard !noBaseline else { return }
        let baseline = try await measure(chosen, planned: false, concurrency: 1)
        report("baseline: no plan, 1 in flight", baseline)
        let p95 = Self.percentile(ours.lags, 0.95)
        let baseP95 = Self.percentile(baseline.lags, 0.95)
        print(String(format: "p95 freshness lag: %.1f s vs baseline %.1f s (%.2f× of the baseline)", p95, baseP95, p95 / baseP95))
    }

    /// One pipeline per worker, each with a client sending from `127.0.0.<worker + 1>` and a budget of its own, sharing
    /// the simulator, lake and warehouse; with several, each is a ``WorkerCoordinator`` that collects the share of the
    /// symbols its leases give it and transforms under the `transform` lease, as `run` does.
    func measure(_ chosen: [Symbol], planned: Bool, concurrency: Int, workers: Int = 1) async throws -> Outcome {
        let folder = NSTemporaryDirectory() + "cryptopipe-scale-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let exchange = SimulatedExchange(configuration: .init(seed: 5, symbols: chosen, historyMinutes: 60))
        let lake = LocalObjectStore(root: folder + "/lake")
        let warehouse = try SQLiteWarehouse(path: folder + "/warehouse.sqlite")
        try await warehouse.migrate()
        let logger = Logger(label: "bench")
        let registry = SymbolRegistry(warehouse: warehouse, seed: chosen)
        _ = try await registry.symbols()
        let coordinators =
            workers > 1
            ? (0..<workers).map { worker in
                WorkerCoordinator(
                    configuration: .init(workerID: "bench-\(worker)", host: "bench", processID: Int64(worker)), store: warehouse,
                    registry: SymbolRegistry(warehouse: warehouse, seed: []), logger: logger)
            } : []
        // Shares settle as they do when workers start together: a few renewal rounds.
        for _ in 0..<3 {
            for coordinator in coordinators { try await coordinator.balance() }
        }
        let balancing = Task {
            while !Task.isCancelled {
                for coordinator in coordinators { try? await coordinator.balance() }
                try? await Task.sleep(for: .seconds(3))
            }
        }
        defer { balancing.cancel() }
        var outcome = try await SimulatorServer.withRunning(exchange) { baseURL in
            var outcome = Outcome()
            var pipelines: [(extractor: Extractor, source: any SymbolSource, planning: PipelineJobs.Planning, transformer: Transformer)] =
                []
            for worker in 0..<workers {
                let budget = WeightBudget(configuration: .init(sharePercent: weightBudget), clock: .system)
                let planning = PipelineJobs.Planning(budgetPerMinute: budget.configuration.budgetPerMinute, cycleSeconds: 60)
                let client = BinanceClient(
                    configuration: .init(baseURL: baseURL, budget: budget, sourceAddress: workers > 1 ? "127.0.0.\(worker + 1)" : nil),
                    httpClient: .shared, logger: logger)
                let extractor = Extractor(
                    configuration: .init(symbols: [], initialCandles: 2, depthLimit: depthLimit, concurrency: concurrency),
                    source: client, lake: lake, warehouse: warehouse, logger: logger)
                let transformer = Transformer(lake: lake, warehouse: warehouse, logger: logger)
                if workers > 1 {
                    pipelines.append((extractor, coordinators[worker], planning, transformer.gated(by: coordinators[worker])))
                } else {
                    pipelines.append((extractor, registry, planning, transformer))
                }
            }
            for pipeline in pipelines { outcome.shares.append(try await pipeline.source.symbols().count) }
            outcome.plan = planned ? pipelines[0].planning.plan(symbols: outcome.shares[0], depthLimit: depthLimit) : nil
            var fetchedUpTo: [Symbol: Int64] = [:]
            // Like the scheduler, cycles run 60 s apart; where in the minute they fall is the phase.
            let wall = PipelineClock.system.now()
            let phaseMilliseconds = Int64(phase * 1_000) % 60_000
            var firstStart = Interval.oneMinute.openTime(containing: wall) + phaseMilliseconds
            if firstStart < wall { firstStart += 60_000 }
            try await Task.sleep(for: .milliseconds(firstStart - wall))
            let firstMinute = Interval.oneMinute.openTime(containing: PipelineClock.system.now())
            for cycle in 0...minutes {
                let start = ContinuousClock.now
                // Each worker extracts its share, then transforms (one at a time, under the lease, when several).
                let extractions = try await withThrowingTaskGroup(of: ExtractionReport.self) { group in
                    for pipeline in pipelines {
                        group.addTask {
                            let share = try await pipeline.source.symbols()
                            let plan = planned ? pipeline.planning.plan(symbols: share.count, depthLimit: depthLimit) : nil
                            let report = await pipeline.extractor.extractAll(share, cycle: cycle, plan: plan)
                            _ = try await pipeline.transformer.transformPending()
                            return report
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                let done = PipelineClock.system.now()
                outcome.failures += extractions.reduce(0) { $0 + $1.failures.count }
                for symbol in chosen {
                    guard let last = try await warehouse.extractionState(symbol: symbol, type: .klines)?.lastOpenTime else { continue }
                    if cycle > 0, let previous = fetchedUpTo[symbol] {
                        // Every candle newly final in the warehouse this cycle: its lag from close to now.
                        for open in stride(from: previous + 60_000, through: last, by: 60_000) {
                            outcome.lags.append(Double(done - (open + 60_000)) / 1_000)
                        }
                    }
                    fetchedUpTo[symbol] = last
                }
                if cycle > 0 {
                    outcome.cycleSeconds.append((ContinuousClock.now - start).seconds)
                    outcome.orderBooks += extractions.reduce(0) { $0 + $1.symbols.filter { $0.depthLevels > 0 }.count }
                }
                let next = start + .seconds(60)
                if cycle < minutes { try await Task.sleep(until: next, clock: .continuous) }
            }
            let lastMinute = Interval.oneMinute.openTime(containing: PipelineClock.system.now())
            // The busiest address's weight in each full minute: what Binance holds against its limit.
            var perMinute: [Int64: Int] = [:]
            for client in exchange.clients {
                for (minute, weight) in exchange.weightHistory(client: client) where minute > firstMinute && minute < lastMinute {
                    perMinute[minute] = max(perMinute[minute] ?? 0, weight)
                }
            }
            outcome.weightPerMinute = perMinute.sorted { $0.key < $1.key }.map(\.value)
            return outcome
        }
        outcome.rateLimited = exchange.limitStatistics.rateLimited
        outcome.banned = exchange.limitStatistics.banned
        return outcome
    }

    func report(_ label: String, _ outcome: Outcome) {
        print(String(format: "%@ (cycles start %.1f s into each minute):", label, phase))
        let books = Double(outcome.orderBooks) / Double(max(1, symbols * minutes))
        print(
            String(
                format:
                    "%@: %d symbols, %d cycles: kline freshness lag p50 %.1f s, p95 %.1f s, max %.1f s (%d candles); cycle work p50 %.1f s; "
                    + "order books per symbol per minute %.2f (effective cadence %.0f s); weight used per full minute %@; 429s %d, 418s %d, failed symbol extractions %d",
                label, symbols, minutes, Self.percentile(outcome.lags, 0.5), Self.percentile(outcome.lags, 0.95), outcome.lags.max() ?? 0,
                outcome.lags.count, Self.percentile(outcome.cycleSeconds, 0.5), books, books > 0 ? 60 / books : 0,
                outcome.weightPerMinute.map(String.init).joined(separator: ","), outcome.rateLimited, outcome.banned, outcome.failures))
        if let plan = outcome.plan { print("  plan: \(plan)") }
    }

    static func percentile(_ values: [Double], _ share: Double) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * share).rounded()))]
    }
}
