import ArgumentParser
import DataLake
import ExchangeSimulator
import Foundation
import Logging
import MarketData
import Pipeline
import Warehouse

@main
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cryptopipe-bench", abstract: "Benchmarks of CryptoPipe (run with -c release).",
        subcommands: [
            TransformBenchmark.self, MySQLTransformBenchmark.self, ImportBenchmark.self, CycleBenchmark.self, ScaleBenchmark.self,
            RollupCheck.self, IntervalAPIBenchmark.self, S3ReadBenchmark.self, LiveBenchmark.self, MySQLBookStorageBenchmark.self,
            StreamBenchmark.self,
        ]
    )
}

/// Transform throughput: k-lines per second from lake JSON (raw envelopes of 1000-candle pages) into SQLite,
/// one transaction per object, against a plain-Python loader of the same files measured in the same run.
struct TransformBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "transform")

    @Option(help: "Lake objects to generate.") var files = 200
    @Option(help: "K-lines per object (Binance's page size is 1000).") var klinesPerFile = 1_000
    @Option(help: "Timed repetitions; the best is reported.") var repetitions = 3
    @Option(help: "Python interpreter for the baseline; empty to skip it.") var python = "python3"
    @Option(help: "Folder to keep the generated lake in and reuse on later runs (default: a temporary folder).") var data: String?

    func run() async throws {
        LoggingSystem.bootstrap { _ in SwiftLogNoOpLogHandler() }
        let folder = data ?? NSTemporaryDirectory() + "cryptopipe-bench-\(UUID().uuidString)"
        defer { if data == nil { try? FileManager.default.removeItem(atPath: folder) } }
        let lake = LocalObjectStore(root: folder + "/lake")
        try await Self.generateLake(lake, files: files, klinesPerFile: klinesPerFile)
        let total = files * klinesPerFile
        let megabytes = Double(try await lake.list(bucket: "crypto-raw", prefix: "").reduce(0) { $0 + $1.size }) / 1_048_576

        var best = Double.infinity
        var rollupBest = Double.infinity
        var rolled = RollupReport()
        for _ in 1...repetitions {
            let path = folder + "/warehouse-\(UUID().uuidString).sqlite"
            defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
            let warehouse = try SQLiteWarehouse(path: path)
            try await warehouse.migrate()
            let transformer = Transformer(lake: lake, warehouse: warehouse, logger: Logger(label: "bench"))
            let clock = ContinuousClock()
            let elapsed = try await clock.measure {
                let report = try await transformer.transformPending()
                precondition(report.rowsWritten == total, "loaded \(report.rowsWritten) of \(total)")
            }
            best = min(best, elapsed.seconds)
            // Roll-ups on their own: recompute every hour and day again, as `aggregate --rebuild` does.
            let rebuild = try await clock.measure {
                try await warehouse.markAllForRollup(symbol: nil)
                rolled = try await warehouse.rollUpPending()
            }
            rollupBest = min(rollupBest, rebuild.seconds)
        }
        let ours = Double(total) / best
        print(
            String(
                format: "cryptopipe transform: %d k-lines (%.1f MB JSON) in %.3f s = %.0f k-lines/s, hourly and daily roll-ups included",
                total, megabytes, best, ours))
        // Not a part of the time above: the transform rolls up a page's complete hours from the page itself, and only
        // its edge hours and the days from stored rows.
        print(
            String(
                format: "  a rebuild of every roll-up from the stored minutes (%d hours, %d days), as `aggregate --rebuild` does: %.3f s",
                rolled.hours, rolled.days, rollupBest))

        guard !python.isEmpty else { return }
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("baseline_transform.py").path
        var baselineBest = Double.infinity
        for _ in 1...repetitions {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            let baselinePath = folder + "/baseline-\(UUID().uuidString).sqlite"
            defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: baselinePath + suffix) } }
            process.arguments = [python, script, folder + "/lake/crypto-raw", baselinePath]
            let output = Pipe()
            process.standardOutput = output
            try process.run()
            let data = output.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            guard process.terminationStatus == 0,
                let seconds = Double(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
            else {
                print("baseline failed (exit \(process.terminationStatus))")
                return
            }
            baselineBest = min(baselineBest, seconds)
        }
        let baseline = Double(total) / baselineBest
        print(String(format: "python json+sqlite3 baseline: %.3f s = %.0f k-lines/s", baselineBest, baseline))
        print(String(format: "ratio: %.2f× the baseline, roll-ups included on our side (the baseline does none)", ours / baseline))
    }
}

extension TransformBenchmark {
    /// `files` raw k-line objects of `klinesPerFile` candles each, over four symbols, unless the lake has them already.
    static func generateLake(_ lake: LocalObjectStore, files: Int, klinesPerFile: Int) async throws {
        let existing = try await lake.list(bucket: "crypto-raw", prefix: "").count
        guard existing != files else { return }
        let symbols = try ["BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT"].map { try Symbol($0) }
        let market = SyntheticMarket(seed: 1, symbols: symbols)
        let start: Int64 = 1_700_000_000_000 / 60_000 * 60_000
        print("generating \(files) objects × \(klinesPerFile) k-lines …")
        for index in 0..<files {
            let symbol = symbols[index % symbols.count]
            let first = start + Int64(index / symbols.count) * Int64(klinesPerFile) * 60_000
            let candles = (0..<klinesPerFile).compactMap { market.minuteCandle(symbol, minuteOpen: first + Int64($0) * 60_000) }
            let capturedAt = first + Int64(klinesPerFile) * 60_000 + 5_000 + Int64(index)
            let body = RawEnvelope.encode(
                symbol: symbol, capturedAt: capturedAt, type: .klines, interval: .oneMinute, data: BinanceCodec.encodeKlines(candles))
            try await lake.put(
                bucket: "crypto-raw", key: LakeLayout.objectKey(symbol: symbol, type: .klines, capturedAt: capturedAt), bytes: body)
        }
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
