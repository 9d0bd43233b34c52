import ArgumentParser
import Foundation
import MarketData
import Pipeline
import Warehouse

struct Gaps: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Find missing minutes between each symbol's first and last stored candle; with --fill, fetch them.",
        discussion: """
            Gaps are recorded with a status: open (not fetched yet), filled, or exchange-empty (the exchange had nothing \
            for that range, e.g. during its maintenance; it is not asked again). Filling goes through the lake like any \
            extraction.
            """)

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: "Only this symbol (default: every symbol with k-lines in the warehouse).")
    var symbol: String?

    @Flag(name: .long, help: "Fetch open gaps from the exchange (paginated), then transform.")
    var fill = false

    func run() async throws {
        try await guarded {
            let only = try Settings.symbolOption(symbol)
            let backends = try await Backends.open(try global.resolve())
            let symbols: [Symbol]
            if let only {
                symbols = [only]
            } else {
                symbols = try await backends.warehouse.dataSummary().filter { $0.type == .klines && $0.rows > 0 }.map(\.symbol)
            }
            let filler = GapFiller(
                extractor: backends.extractor(ExtractOptions(initialCandles: 100, depthLimit: 100), source: backends.exchange()),
                transformer: backends.transformer(), warehouse: backends.warehouse, logger: backends.logger)
            var fillFailures = 0
            if fill {
                let report = try await filler.fill(symbols)
                fillFailures = report.failures.count
                Console.print(
                    "fetched \(report.candlesFetched) candles in \(report.requested) requests; \(report.filled) gaps filled, "
                        + "\(report.exchangeEmpty) ranges the exchange has no data for")
                for failure in report.failures { Console.error(failure) }
            }
            let gaps = try await filler.detect(symbols)
            if gaps.isEmpty {
                Console.print("no gaps in \(symbols.isEmpty ? "an empty warehouse" : symbols.map(\.rawValue).joined(separator: ", "))")
            } else {
                var table = [["SYMBOL", "FROM", "TO", "MINUTES", "STATUS"]]
                for gap in gaps {
                    table.append([
                        gap.symbol.rawValue, UTCTime.iso8601(gap.range.from), UTCTime.iso8601(gap.range.to), String(gap.range.minutes),
                        gap.status.rawValue,
                    ])
                }
                Console.printTable(table)
            }
            if fillFailures > 0 {
                throw CLIError("\(fillFailures) gaps could not be fetched (see above); they stay open for the next --fill")
            }
        }
    }
}
