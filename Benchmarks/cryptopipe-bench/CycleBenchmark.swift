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

/// The cost of one incremental cycle (extract from the simulator over loopback, transform, roll up) with an empty
/// warehouse against one holding `days` of minute history for every symbol: a cycle must not grow with history.
struct CycleBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cycle")

    @Option(help: "Symbols.") var symbols = 20
    @Option(help: "Days of minute history in the full warehouse.") var days = 90
    @Option(help: "Measured cycles per warehouse (one minute apart on the virtual clock); the median is reported.") var cycles = 15
    @Option(help: "Folder to keep the prefilled warehouse in and reuse on later runs (default: a temporary folder).") var data: String?

    func run() async throws {
        LoggingSystem.bootstrap { _ in SwiftLogNoOpLogHandler() }
        let folder = data ?? NSTemporaryDirectory() + "cryptopipe-bench-\(UUID().uuidString)"
        defer { if data == nil { try? FileManager.default.removeItem(atPath: folder) } }
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let names = ["BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT", "XRPUSDT", "ADAUSDT", "DOGEUSDT", "LTCUSDT"]
        let chosen = try (0..<symbols).map { try Symbol(names[$0 % names.count] + ($0 < names.count ? "" : "\($0)")) }
        // "Now" is just after the history ends, so both warehouses fetch the same few new candles per cycle.
        let historyStart: Int64 = 1_735_689_600_000  // 2025-01-01
        let now = historyStart + Int64(days) * 86_400_000 + 30_000
        let clock = ManualClock(now)
        let exchange = SimulatedExchange(configuration: .init(seed: 3, symbols: chosen, historyMinutes: 10_000, clock: clock.reader))
        let market = SyntheticMarket(seed: 3, symbols: chosen)

        // The prefilled warehouse is kept as a template and copied, so every run starts from the same state.
        let template = folder + "/full-template.sqlite"
        try await prefill(template, symbols: chosen, market: market, from: historyStart, until: now - 30_000)
        let fullPath = folder + "/full-\(UUID().uuidString).sqlite"
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: fullPath + suffix) } }
        try FileManager.default.copyItem(atPath: template, toPath: fullPath)
        let full = try SQLiteWarehouse(path: fullPath)
        let emptyPath = folder + "/empty-\(UUID().uuidString).sqlite"
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: emptyPath + suffix) } }
        let empty = try SQLiteWarehouse(path: emptyPath)
        try await empty.migrate()
        let historyRows = try await full.tableCounts()["fact_klines"] ?? 0

        let (emptyMedian, fullMedian) = try await SimulatorServer.withRunning(exchange) { baseURL in
            let client = BinanceClient(
                configuration: .init(baseURL: baseURL, clock: clock.reader), httpClient: .shared, logger: Logger(label: "b"))
            var medians: [Double] = []
            for (label, warehouse) in [("empty", empty as any Warehouse), ("full", full as any Warehouse)] {
                let lake = LocalObjectStore(root: folder + "/lake-\(label)-\(UUID().uuidString)")
                defer { try? FileManager.default.removeItem(atPath: lake.root) }
                let pipelineClock = clock.reader
                let extractor = Extractor(
                    configuration: .init(symbols: chosen, initialCandles: 3, depthLimit: 20), source: client, lake: lake,
                    warehouse: warehouse,
                    clock: pipelineClock, logger: Logger(label: "b"))
                let transformer = Transformer(lake: lake, warehouse: warehouse, clock: pipelineClock, logger: Logger(label: "b"))
                var times: [Double] = []
                for cycle in 0..<(cycles + 1) {
                    let elapsed = try await ContinuousClock().measure {
                        let report = await extractor.extractAll()
                        precondition(report.failures.isEmpty, "\(report.failures.map(\.message))")
                        _ = try await transformer.transformPending()
                    }
                    if cycle > 0 { times.append(elapsed.seconds) }  // the first cycle warms caches and connections
                    clock.advance(milliseconds: 60_000)
                }
                medians.append(times.sorted()[times.count / 2])
            }
            return (medians[0], medians[1])
        }
        print(
            String(
                format: "one cycle for %d symbols (extract over loopback + transform + roll-ups), median of %d: empty warehouse %.1f ms, "
                    + "with %d days × %d symbols of minute history (%d rows) %.1f ms; ratio %.2f×",
                symbols, cycles, emptyMedian * 1_000, days, symbols, historyRows, fullMedian * 1_000, fullMedian / emptyMedian))
    }

    /// A warehouse file with `symbols` × minutes in `[from, until)`, loaded through the import path; kept when present.
    func prefill(_ path: String, symbols: [Symbol], market: SyntheticMarket, from: Int64, until: Int64) async throws {
        let warehouse = try SQLiteWarehouse(path: path)
        try await warehouse.migrate()
        let expected = symbols.count * Int((until - from) / 60_000)
        if try await warehouse.tableCounts()["fact_klines"] == expected { return }
        print("prefilling \(expected) minute candles …")
        for symbol in symbols {
            var day = from
            while day < until {
                let end = min(day + 86_400_000, until)
                let candles = stride(from: day, to: end, by: 60_000).compactMap { market.minuteCandle(symbol, minuteOpen: $0) }
                _ = try await warehouse.importKlines([
                    KlineImport(
                        batch: KlineBatch(candles), symbol: symbol, capturedAt: until + 10_000,
                        object: ProcessedObject(bucket: "import", key: "import/\(symbol)/\(day)", processedAt: 0))
                ])
                day = end
            }
            // The history stands in for earlier extractions: the next cycle continues after its last candle.
            try await warehouse.recordExtraction(
                ExtractionUpdate(symbol: symbol, type: .klines, fetchTime: until, lastOpenTime: until - 60_000, records: 0))
        }
        _ = try await warehouse.rollUpPending()
        // Empties the WAL into the database file, so the file alone can be copied.
        try await warehouse.optimize()
    }
}
