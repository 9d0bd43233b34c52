import ArgumentParser
import Foundation
import MarketData
import Pipeline
import Synchronization

struct Import: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Import data.binance.vision spot 1m k-line dumps (.zip or .csv, or folders of them) into the warehouse.",
        discussion: """
            Each file's .CHECKSUM is verified when it sits next to it. Files are loaded whole, one transaction each, and \
            recorded, so an interrupted import (Ctrl-C) is completed by running the same command again. Hourly and \
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

extension ImportProgress: ProgressSnapshot {
    var isComplete: Bool { filesDone == filesTotal }
    var fraction: Double { bytesTotal > 0 ? Double(bytesDone) / Double(bytesTotal) : 1 }
    var summary: String {
        let eta = etaSeconds.map { ProgressMeter.clock(Int($0.rounded())) } ?? "--:--"
        return "\(filesDone)/\(filesTotal) files, \(klines) k-lines, \(Int(klinesPerSecond)) k-lines/s, ETA \(eta)"
    }
}
