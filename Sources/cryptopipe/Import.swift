import ArgumentParser
import Foundation
import MarketData
import Pipeline
import Synchronization

struct Import: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Import data.binance.vision spot 1m k-line dumps (.zip or .csv, or folders of them) into the warehouse.",
        discussion: """
            Each file's .CHECKSUM is verified when it sits next to it. Files are loaded whole, one transaction each, and
            recorded, so an interrupted import (Ctrl-C) is completed by running the same command again. Hourly and
            daily candles are updated as part of the import.
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Dump files or folders (searched recursively for .zip and .csv).")
    var paths: [String]

    @Option(name: .long, help: "Symbol of files whose names do not carry one (BTCUSDT-1m-2024-01-01.zip does).")
    var symbol: String?

    func run() async throws {
        try await guarded {
            let override = try Settings.symbolOption(symbol)
            let files: [DumpFile]
            do throws(ImportError) {
                files = try DumpImporter.plan(paths: paths, symbol: override)
            } catch {
                throw CLIError.usage(error.description)
            }
            guard !files.isEmpty else { throw CLIError.usage("no .zip or .csv files found in \(paths.joined(separator: ", "))") }
            let backends = try await Backends.open(try global.resolve())
            let stop = InterruptFlag()
            let meter = ProgressMeter(label: "import", terminal: isatty(STDERR_FILENO) == 1)
            let importer = DumpImporter(warehouse: backends.warehouse, logger: backends.logger)
            let report = try await importer.importFiles(
                files, progress: { meter.update($0) }, isCancelled: { stop.isSet })
            meter.finish()
            for failure in report.failures { Console.error(failure.description) }
            let rate = report.elapsedSeconds > 0 ? Int(Double(report.klines) / report.elapsedSeconds) : 0
            Console.print(
                "imported \(report.filesImported) files (\(report.klines) k-lines, \(report.rowsWritten) new rows) in "
                    + String(format: "%.1f s (%d k-lines/s)", report.elapsedSeconds, rate)
                    + "; skipped \(report.filesSkipped) already imported; recomputed \(report.hoursRolledUp) hourly and "
                    + "\(report.daysRolledUp) daily candles")
            if report.interrupted {
                throw CLIError("interrupted; every file imported so far is complete — run the same command again to finish")
            }
            if !report.failures.isEmpty {
                throw CLIError("\(report.failures.count) of \(files.count) files could not be imported (see above)")
            }
        }
    }
}

/// Set by SIGINT/SIGTERM so long commands stop between units of work instead of mid-write; a second signal exits at once.
/// `@unchecked`: `sources` is written once in `init` and only kept alive afterwards; the flag is atomic.
final class InterruptFlag: @unchecked Sendable {
    private let flag = Atomic(false)
    private var sources: [any DispatchSourceSignal] = []

    init() {
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { [self] in
                // A second signal means "now": the open transaction is rolled back by SQLite, nothing half-written.
                if flag.exchange(true, ordering: .relaxed) {
                    FileHandle.standardError.write(Data("\ncryptopipe: stopped\n".utf8))
                    exit(130)
                }
            }
            source.resume()
            sources.append(source)
        }
    }

    var isSet: Bool { flag.load(ordering: .relaxed) }
}

/// A progress bar with rate and ETA on a terminal; a log line every few seconds otherwise.
final class ProgressMeter: Sendable {
    private struct State {
        var lastDraw: ContinuousClock.Instant
        var drewBar = false
    }

    private let label: String
    private let terminal: Bool
    private let state: Mutex<State>

    init(label: String, terminal: Bool) {
        self.label = label
        self.terminal = terminal
        // A terminal gets the bar at once; a log gets its first line after one interval.
        state = Mutex(State(lastDraw: terminal ? .now - .seconds(60) : .now))
    }

    func update(_ progress: ImportProgress) {
        let now = ContinuousClock.now
        let line: String? = state.withLock { state in
            let interval: Duration = terminal ? .milliseconds(200) : .seconds(10)
            let isLast = progress.filesDone == progress.filesTotal
            guard now - state.lastDraw >= interval || (terminal && isLast) else { return nil }
            state.lastDraw = now
            state.drewBar = terminal
            return Self.render(progress, label: label, bar: terminal)
        }
        guard let line else { return }
        let output = terminal ? "\r\(line)\u{1B}[K" : "\(label): \(line)\n"
        FileHandle.standardError.write(Data(output.utf8))
    }

    func finish() {
        if state.withLock({ $0.drewBar }) { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    static func render(_ progress: ImportProgress, label: String, bar: Bool) -> String {
        let fraction = progress.bytesTotal > 0 ? Double(progress.bytesDone) / Double(progress.bytesTotal) : 1
        let eta = progress.etaSeconds.map { Self.clock(Int($0.rounded())) } ?? "--:--"
        let counts =
            "\(progress.filesDone)/\(progress.filesTotal) files, \(progress.klines) k-lines, "
            + "\(Int(progress.klinesPerSecond)) k-lines/s, ETA \(eta)"
        guard bar else { return String(format: "%3.0f%% ", fraction * 100) + counts }
        let width = 30
        let filled = min(width, Int(fraction * Double(width)))
        return "\(label) [" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] "
            + String(format: "%3.0f%% ", fraction * 100) + counts
    }

    static func clock(_ seconds: Int) -> String {
        seconds >= 3600
            ? String(format: "%d:%02d:%02d", seconds / 3600, seconds / 60 % 60, seconds % 60)
            : String(format: "%d:%02d", seconds / 60, seconds % 60)
    }
}
