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
    }

    func run() async throws {
        LoggingSystem.bootstrap { _ in SwiftLogNoOpLogHandler() }
        let chosen = try (0..<symbols).map { try Symbol(String(format: "S%04dUSDT", $0)) }
        let ours = try await measure(chosen, planned: true, concurrency: 8)
        report("planned, 8 in flight", ours)
        guard !noBaseline else { return }
        let baseline = try await measure(chosen, planned: false, concurrency: 1)
        report("baseline: no plan, 1 in flight", baseline)
        let p95 = Self.percentile(ours.lags, 0.95)
        let baseP95 = Self.percentile(baseline.lags, 0.95)
        print(String(format: "p95 freshness lag: %.1f s vs baseline %.1f s (%.2f× of the baseline)", p95, baseP95, p95 / baseP95))
    }

    func measure(_ chosen: [Symbol], planned: Bool, concurrency: Int) async throws -> Outcome {
        let folder = NSTemporaryDirectory() + "cryptopipe-scale-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let exchange = SimulatedExchange(configuration: .init(seed: 5, symbols: chosen, historyMinutes: 60))
        let lake = LocalObjectStore(root: folder + "/lake")
        let warehouse = try SQLiteWarehouse(path: folder + "/warehouse.sqlite")
        try await warehouse.migrate()
        let logger = Logger(label: "bench")
        let budget = WeightBudget(configuration: .init(sharePercent: weightBudget), clock: .system)
        let planning = PipelineJobs.Planning(budgetPerMinute: budget.configuration.budgetPerMinute, cycleSeconds: 60)
        var outcome = try await SimulatorServer.withRunning(exchange) { baseURL in
            var outcome = Outcome()
            let client = BinanceClient(configuration: .init(baseURL: baseURL, budget: budget), httpClient: .shared, logger: logger)
            let extractor = Extractor(
                configuration: .init(symbols: chosen, initialCandles: 2, depthLimit: depthLimit, concurrency: concurrency), source: client,
                lake: lake, warehouse: warehouse, logger: logger)
            let transformer = Transformer(lake: lake, warehouse: warehouse, logger: logger)
            let plan = planned ? planning.plan(symbols: chosen.count, depthLimit: depthLimit) : nil
            outcome.plan = plan
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
                let extraction = await extractor.extractAll(chosen, cycle: cycle, plan: plan)
                _ = try await transformer.transformPending()
                let done = PipelineClock.system.now()
                outcome.failures += extraction.failures.count
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
                    outcome.orderBooks += extraction.symbols.filter { $0.depthLevels > 0 }.count
                }
                let next = start + .seconds(60)
                if cycle < minutes { try await Task.sleep(until: next, clock: .continuous) }
            }
            let lastMinute = Interval.oneMinute.openTime(containing: PipelineClock.system.now())
            outcome.weightPerMinute = exchange.weightHistory.filter { $0.key > firstMinute && $0.key < lastMinute }.sorted {
                $0.key < $1.key
            }
            .map(\.value)
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
