import ArgumentParser
import ExchangeSimulator
import Foundation
import Logging
import MarketData
import Pipeline
import PipelineTesting
import Warehouse

/// Import throughput: k-lines per second from zipped daily data.binance.vision files (with `.CHECKSUM`) into SQLite,
/// roll-ups included, against a plain-Python zipfile + csv + executemany loader without roll-ups, in the same run.
struct ImportBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "import")

    @Option(help: "Symbols (each gets its own daily files).") var symbols = 4
    @Option(help: "Days per symbol.") var days = 90
    @Option(help: "Timed repetitions; the best is reported.") var repetitions = 3
    @Option(help: "Python interpreter for the baseline; empty to skip it.") var python = "python3"
    @Option(help: "Folder to keep the generated dumps in and reuse on later runs (default: a temporary folder).") var data: String?

    func run() async throws {
        LoggingSystem.bootstrap { _ in SwiftLogNoOpLogHandler() }
        let folder = data ?? NSTemporaryDirectory() + "cryptopipe-bench-\(UUID().uuidString)"
        defer { if data == nil { try? FileManager.default.removeItem(atPath: folder) } }
        let dumps = folder + "/dumps"
        try FileManager.default.createDirectory(atPath: dumps, withIntermediateDirectories: true)
        let names = ["BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT", "XRPUSDT", "ADAUSDT", "DOGEUSDT", "LTCUSDT"]
        let chosen = try (0..<symbols).map { try Symbol(names[$0 % names.count] + ($0 < names.count ? "" : "\($0)")) }
        try generate(into: dumps, symbols: chosen)
        let files = try DumpImporter.plan(paths: [dumps], symbol: nil)
        let total = symbols * days * 1_440
        let megabytes = Double(files.reduce(0) { $0 + $1.size }) / 1_048_576

        var best = Double.infinity
        for _ in 1...repetitions {
            let path = folder + "/warehouse-\(UUID().uuidString).sqlite"
            defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
            let warehouse = try SQLiteWarehouse(path: path)
            try await warehouse.migrate()
            // The previous repetition's writes go to disk first, so that no run pays for another's writeback.
            sync()
            let importer = DumpImporter(warehouse: warehouse, logger: Logger(label: "bench"))
            let elapsed = try await ContinuousClock().measure {
                let report = try await importer.importFiles(files)
                precondition(report.failures.isEmpty && report.rowsWritten == total, "imported \(report.rowsWritten) of \(total)")
            }
            let counts = try await warehouse.tableCounts()
            precondition(counts["hourly_klines"] == symbols * days * 24 && counts["daily_klines"] == symbols * days)
            best = min(best, elapsed.seconds)
        }
        let ours = Double(total) / best
        print(
            String(
                format: "cryptopipe import: %d k-lines (%d zipped daily files, %.1f MB) in %.3f s = %.0f k-lines/s, roll-ups included",
                total, files.count, megabytes, best, ours))

        guard !python.isEmpty else { return }
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("baseline_import.py").path
        var baselineBest = Double.infinity
        for _ in 1...repetitions {
            let baselinePath = folder + "/baseline-\(UUID().uuidString).sqlite"
            defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: baselinePath + suffix) } }
            sync()
            guard let seconds = try Self.runPython(python, script, [dumps, baselinePath]) else { return }
            baselineBest = min(baselineBest, seconds)
        }
        let baseline = Double(total) / baselineBest
        print(String(format: "python zipfile+csv+sqlite3 baseline (no roll-ups): %.3f s = %.0f k-lines/s", baselineBest, baseline))
        print(String(format: "ratio: %.2f× the baseline", ours / baseline))
    }

    /// Writes `SYMBOL-1m-DATE.zip` + `.CHECKSUM` per symbol and day, unless the folder already has them all.
    func generate(into folder: String, symbols: [Symbol]) throws {
        let existing = (try? FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".zip") }.count) ?? 0
        guard existing != symbols.count * days else { return }
        print("generating \(symbols.count) symbols × \(days) daily zips …")
        let market = SyntheticMarket(seed: 7, symbols: symbols)
        let firstDay: Int64 = 1_704_067_200_000  // 2024-01-01
        for symbol in symbols {
            for day in 0..<days {
                let open = firstDay + Int64(day) * 86_400_000
                let candles = (0..<1_440).compactMap { market.minuteCandle(symbol, minuteOpen: open + Int64($0) * 60_000) }
                try DumpWriter.writeZip(candles, symbol: symbol, name: String(UTCTime.iso8601(open).prefix(10)), into: folder)
            }
        }
    }

    /// Runs a baseline script that prints its elapsed seconds.
    static func runPython(_ python: String, _ script: String, _ arguments: [String]) throws -> Double? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [python, script] + arguments
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0,
            let seconds = Double(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        else {
            print("baseline failed (exit \(process.terminationStatus))")
            return nil
        }
        return seconds
    }
}
