import ArgumentParser
import MarketData
import Pipeline

struct Extract: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fetch new candles and one order-book snapshot per symbol into the lake (one cycle).")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var options: ExtractOptionGroup

    func run() async throws {
        try await guarded {
            let configuration = try global.resolve()
            let extractOptions = try options.resolve()
            let backends = try await Backends.open(configuration)
            let source = backends.exchange()
            try await backends.validateGivenSymbols(source: source)
            let report = await backends.extractor(extractOptions, source: source).extractAll()
            for symbol in report.symbols {
                Console.print(
                    "\(symbol.symbol): \(symbol.klines) k-lines, \(symbol.depthLevels) depth levels, \(symbol.objects.count) lake objects")
            }
            for failure in report.failures { Console.error("\(failure.symbol): \(failure.message)") }
            if !report.failures.isEmpty { throw ExitCode(1) }
        }
    }
}

struct Transform: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Load every unprocessed raw object from the lake into the warehouse (one pass).",
        discussion: """
            Lists day folders from the last processed position on (kept in the warehouse), so a pass costs the recent \
            days, not the whole lake; --rescan lists every day folder, e.g. after copying objects into old days.
            """)

    @OptionGroup var global: GlobalOptions

    @Flag(name: .long, help: "List every day folder of the raw bucket, not only those since the last processed position.")
    var rescan = false

    func run() async throws {
        try await guarded {
            let backends = try await Backends.open(try global.resolve())
            let report = try await backends.transformer(rescan: rescan).transformPending()
            Console.print(
                "transformed \(report.objects) objects: \(report.rowsWritten) rows written, \(report.rowsUnchanged) unchanged, \(report.rejected) rejected"
            )
        }
    }
}

struct Aggregate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Recompute hourly and daily candles: the pending ones, or all of them with --rebuild.")

    @OptionGroup var global: GlobalOptions

    @Flag(name: .long, help: "Recompute every hour and day that has final minutes.")
    var rebuild = false

    @Option(name: .long, help: "Only this symbol (with --rebuild).")
    var symbol: String?

    func run() async throws {
        try await guarded {
            let only = try Settings.symbolOption(symbol)
            let backends = try await Backends.open(try global.resolve())
            if rebuild { try await backends.warehouse.markAllForRollup(symbol: only) }
            let report = try await backends.warehouse.rollUpPending()
            Console.print("recomputed \(report.hours) hourly and \(report.days) daily candles")
        }
    }
}
