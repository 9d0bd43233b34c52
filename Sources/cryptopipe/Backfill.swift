import ArgumentParser
import Foundation
import MarketData
import Pipeline

struct Backfill: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fetch the 1m history of --symbols from --from to --to (default: now) through the lake into the warehouse.",
        discussion: """
            Pages of 1000 candles go to the lake first, as raw responses, and are loaded from there. The position is saved \
            after every page, so a backfill stopped by Ctrl-C or kill continues where it stopped when the same command \
            (same --from) runs again; nothing is fetched twice except at most the page in flight, and nothing is stored twice.
            """)

    @OptionGroup var global: GlobalOptions

    @Option(
        name: .long,
        help: "First minute (required), ISO-8601 (2024-01-01T00:00:00Z, or 2024-01-01) or epoch ms (env CRYPTOPIPE_BACKFILL_FROM).")
    var from: String?

    @Option(name: .long, help: "Last minute (inclusive), same formats (env CRYPTOPIPE_BACKFILL_TO, default: the last closed minute).")
    var to: String?

    func run() async throws {
        try await guarded {
            let settings = Settings()
            guard let start = try settings.time(from, option: "--from", env: "CRYPTOPIPE_BACKFILL_FROM") else {
                throw CLIError.usage("backfill needs --from: the first minute to fetch, e.g. --from 2024-01-01")
            }
            let end = try settings.time(to, option: "--to", env: "CRYPTOPIPE_BACKFILL_TO")
            if start >= PipelineClock.system.now() {
                throw CLIError.usage("--from \(UTCTime.iso8601(start)) is in the future: give a past time")
            }
            if let end, end < start {
                throw CLIError.usage(
                    "--to \(UTCTime.iso8601(end)) is before --from \(UTCTime.iso8601(start)): give a --to after --from, or leave it out")
            }
            let configuration = try global.resolve()
            let backends = try await Backends.open(configuration)
            let source = backends.exchange()
            try await backends.validateGivenSymbols(source: source)
            let extractor = backends.extractor(ExtractOptions(initialCandles: 1, depthLimit: 5), source: source)
            let backfiller = Backfiller(extractor: extractor, transformer: backends.transformer())
            // The default end is the exchange's last closed minute.
            await extractor.synchronizeClock()
            let symbols = configuration.symbols
            guard let range = backfiller.minutes(from: start, to: end) else {
                Console.print("nothing to backfill: the range has no closed minute yet")
                return
            }
            Console.print(
                "backfilling \(symbols.map(\.rawValue).joined(separator: ",")) from \(UTCTime.iso8601(range.from)) to \(UTCTime.iso8601(range.to))"
            )
            let stop = InterruptFlag()
            let meter = ProgressMeter(label: "backfill", terminal: isatty(STDERR_FILENO) == 1)
            let report = try await backfiller.run(
                symbols: symbols, from: start, to: end, progress: { meter.update($0) }, isCancelled: { stop.isSet })
            meter.finish()
            let resumed =
                report.resumed.isEmpty ? "" : " (continued \(report.resumed.map(\.rawValue).joined(separator: ",")) from a checkpoint)"
            Console.print(
                "fetched \(report.klines) k-lines in \(report.pages) pages for \(report.symbolsCompleted) of \(symbols.count) symbols\(resumed); "
                    + "\(report.rowsWritten) rows written; " + String(format: "%.1f s", report.elapsedSeconds))
            if report.interrupted {
                throw CLIError("interrupted; everything fetched so far is loaded — run the same command again to continue")
            }
        }
    }
}

extension BackfillProgress: ProgressSnapshot {
    var isComplete: Bool { symbolsDone == symbolsTotal }
    var summary: String {
        let eta = etaSeconds.map { ProgressMeter.clock(Int($0.rounded())) } ?? "--:--"
        let rate = elapsedSeconds > 0 ? Int(Double(klines) / elapsedSeconds) : 0
        return "\(symbolsDone)/\(symbolsTotal) symbols, \(klines) k-lines, \(rate) k-lines/s, ETA \(eta)"
    }
}
