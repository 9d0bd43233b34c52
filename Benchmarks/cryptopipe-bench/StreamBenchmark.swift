import ArgumentParser
import DataLake
import ExchangeSimulator
import Foundation
import Logging
import MarketData
import Pipeline
import Synchronization
import Warehouse

/// `run --source stream` for many symbols on the wall clock against the simulator's streams: the lag from a candle's
/// close to its warehouse row (per flush, as the collector measures it), the CPU time and peak memory of the `run`
/// process, the request weight it used per minute, the stream events it received and the lake objects and bytes a day
/// it writes; then, in the same run, the REST plan's lag for the same symbols (`cryptopipe-bench scale`'s measurement)
/// as the baseline.
struct StreamBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stream")

    @Option(help: "Symbols.") var symbols = 1_000
    @Option(help: "Flushes measured after the first (one a minute).") var minutes = 4
    @Option(help: "Order-book levels per side.") var depthLimit = 20
    @Option(help: "Share of the 6000/min weight, percent.") var weightBudget = 50
    @Option(help: "The cryptopipe binary (default: beside this one).") var binary: String?
    @Flag(help: "Skip the REST baseline.") var noBaseline = false

    func run() async throws {
        LoggingSystem.bootstrap { _ in SwiftLogNoOpLogHandler() }
        let chosen = try (0..<symbols).map { try Symbol(String(format: "S%04dUSDT", $0)) }
        let executable =
            binary ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("cryptopipe").path
        let folder = NSTemporaryDirectory() + "cryptopipe-stream-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let exchange = SimulatedExchange(configuration: .init(seed: 5, symbols: chosen, historyMinutes: 60))
        let measured = try await SimulatorServer.withRunning(exchange) { baseURL in
            try await Self.runCollector(
                executable, baseURL: baseURL, symbols: chosen, folder: folder, flushes: minutes + 1, depthLimit: depthLimit,
                weightBudget: weightBudget)
        }
        let wallSeconds = measured.seconds
        let statistics = exchange.streamStatistics
        let warehouse = try SQLiteWarehouse(path: folder + "/warehouse.sqlite")
        let status = try await StreamStatus.load(from: warehouse)
        // Whole minutes after the start-up fill, by the capture times in the objects' names.
        let since = Interval.oneMinute.openTime(containing: measured.steadyFrom) + 60_000
        let until = Interval.oneMinute.openTime(containing: measured.end)
        let lake = try Self.lakeFigures(folder + "/lake/crypto-raw", from: since, to: until)
        let steadyMinutes = max(1, Double(until - since) / 60_000)
        let weights = exchange.weightHistory.sorted { $0.key < $1.key }.map(\.value)
        print(
            String(
                format:
                    "stream: %d symbols, %d flushes in %.0f s: lag from close to warehouse row p50 %.1f s, p95 %.1f s; run used %.1f s CPU (%.0f%% of a core), peak RSS %.0f MB; events %d (%.0f/s, %.1f MB/s); connections opened %d",
                symbols, status?.flushes ?? 0, wallSeconds, Double(status?.lagP50Milliseconds ?? 0) / 1_000,
                Double(status?.lagP95Milliseconds ?? 0) / 1_000, measured.cpuSeconds, measured.cpuSeconds / wallSeconds * 100,
                Double(measured.peakKilobytes) / 1_024, statistics.events, Double(statistics.events) / wallSeconds,
                Double(statistics.bytes) / wallSeconds / 1_048_576, statistics.connectionsOpened))
        print("  weight used per minute (start-up fill and snapshots first): \(weights.map(String.init).joined(separator: ","))")
        let perDay = 1_440 / steadyMinutes / Double(symbols)
        print(
            String(
                format:
                    "  lake per symbol and day (steady state, %.1f min): %.0f k-lines objects (%.2f MB), %.0f depth objects (%.2f MB); 429s %d, 418s %d",
                steadyMinutes, Double(lake.klineObjects) * perDay, Double(lake.klineBytes) * perDay / 1_048_576,
                Double(lake.depthObjects) * perDay, Double(lake.depthBytes) * perDay / 1_048_576, exchange.limitStatistics.rateLimited,
                exchange.limitStatistics.banned))
        if let status {
            let rebuilds = status.symbols.reduce(0) { $0 + $1.rebuilds }
            let repairs = status.symbols.reduce(0) { $0 + $1.repairs }
            print(
                "  books synced \(status.symbols.count { $0.bookSynced }) of \(status.symbols.count); rebuilds \(rebuilds); REST repairs \(repairs) (the first fill included)"
            )
        }
        guard !noBaseline else { return }
        let scale = try ScaleBenchmark.parse([
            "--symbols", String(symbols), "--minutes", "2", "--depth-limit", String(depthLimit), "--weight-budget", String(weightBudget),
            "--no-baseline", "--phase", "1.5",
        ])
        let rest = try await scale.measure(chosen, planned: true, concurrency: 8)
        scale.report("REST plan (baseline)", rest)
        let restP95 = ScaleBenchmark.percentile(rest.lags, 0.95)
        let streamP95 = Double(status?.lagP95Milliseconds ?? 0) / 1_000
        print(
            String(format: "p95 lag: streams %.1f s vs REST plan %.1f s (%.2f× of the baseline)", streamP95, restP95, streamP95 / restP95))
    }

    struct Measured {
        var seconds: Double
        var cpuSeconds: Double
        var peakKilobytes: Int
        /// When the first flush (the REST fill) was done and when the run ended, on the wall clock.
        var steadyFrom: Int64
        var end: Int64
    }

    /// Runs `cryptopipe run --source stream` for `flushes` flushes, sampling its CPU time and peak memory from /proc.
    static func runCollector(
        _ executable: String, baseURL: String, symbols: [Symbol], folder: String, flushes: Int, depthLimit: Int, weightBudget: Int
    ) async throws -> Measured {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = [
            "run", "--source", "stream", "--cycles", String(flushes), "--http-port", "0", "--initial-candles", "2",
            "--depth-limit", String(depthLimit), "--weight-budget", String(weightBudget), "--log-level", "error",
        ]
        process.environment = [
            "CRYPTOPIPE_EXCHANGE_URL": baseURL, "CRYPTOPIPE_DATA_DIR": folder,
            "CRYPTOPIPE_SYMBOLS": symbols.map(\.rawValue).joined(separator: ","), "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "",
        ]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.standardError
        let started = Date()
        try process.run()
        let pid = process.processIdentifier
        var cpu = 0.0
        var peak = 0
        var steadyFrom: Int64?
        // Each flush prints a "cycle N:" line; the first one ends the start-up fill. The read blocks: a GCD thread.
        let firstFlush = FirstFlush()
        let handle = output.fileHandleForReading
        DispatchQueue.global().async {
            var text = ""
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                text += String(decoding: chunk, as: UTF8.self)
                if text.contains("cycle 1:") { firstFlush.mark() }
                if text.count > 100_000 { text = String(text.suffix(1_000)) }
            }
        }
        while process.isRunning {
            if let sample = procSample(pid) {
                cpu = max(cpu, sample.cpu)
                peak = max(peak, sample.peakKilobytes)
            }
            try await Task.sleep(for: .seconds(1))
        }
        steadyFrom = firstFlush.time
        guard process.terminationStatus == 0 else { throw ValidationError("cryptopipe run exited with \(process.terminationStatus)") }
        let end = PipelineClock.system.now()
        return Measured(
            seconds: Date().timeIntervalSince(started), cpuSeconds: cpu, peakKilobytes: peak, steadyFrom: steadyFrom ?? end, end: end)
    }

    final class FirstFlush: Sendable {
        private let state = Mutex<Int64?>(nil)
        func mark() { state.withLock { $0 = $0 ?? PipelineClock.system.now() } }
        var time: Int64? { state.withLock { $0 } }
    }

    /// User + system CPU seconds and peak resident size (VmHWM) of a running process.
    static func procSample(_ pid: Int32) -> (cpu: Double, peakKilobytes: Int)? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // After the command: state is field 3, utime 14 and stime 15 (1-based over the whole line).
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let peak = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") }.flatMap {
            Int($0.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
        }
        return ((user + system) / ticks, peak ?? 0)
    }

    /// Objects and bytes captured in `[from, to)` (by the capture time in their names), by type.
    static func lakeFigures(
        _ bucket: String, from: Int64, to: Int64
    ) throws -> (klineObjects: Int, klineBytes: Int, depthObjects: Int, depthBytes: Int) {
        var figures = (0, 0, 0, 0)
        let manager = FileManager.default
        for day in try manager.contentsOfDirectory(atPath: bucket) {
            for name in try manager.contentsOfDirectory(atPath: bucket + "/" + day) {
                guard let time = name.split(separator: "_").last.flatMap({ Int64($0.dropLast(5)) }), time >= from, time < to else {
                    continue
                }
                let size = (try manager.attributesOfItem(atPath: bucket + "/" + day + "/" + name)[.size] as? Int) ?? 0
                if name.contains("_klines_") {
                    figures.0 += 1
                    figures.1 += size
                } else if name.contains("_depth_") {
                    figures.2 += 1
                    figures.3 += size
                }
            }
        }
        return figures
    }
}
