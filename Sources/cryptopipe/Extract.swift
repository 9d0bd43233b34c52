import ArgumentParser
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
            let report = await backends.extractor(extractOptions, source: backends.exchange()).extractAll()
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
        abstract: "Load every unprocessed raw object from the lake into the warehouse (one pass).")

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await guarded {
            let backends = try await Backends.open(try global.resolve())
            let report = try await backends.transformer().transformPending()
            Console.print(
                "transformed \(report.objects) objects: \(report.rowsWritten) rows written, \(report.rowsUnchanged) unchanged, \(report.rejected) rejected"
            )
        }
    }
}
