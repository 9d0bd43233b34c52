import ArgumentParser
import Foundation
import MarketData
import Pipeline
import WarehouseMySQL

struct Adopt: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy the original Python pipeline's MySQL database into the warehouse (--from mysql://user@host/db).",
        discussion: """
            Copies fact_klines (1m), fact_orderbook and extraction_metadata exactly (their DATETIMEs are read as UTC), then \
            computes hourly and daily candles from the minutes taken. Its hourly_klines and daily_klines are not taken: \
            where minutes exist ours are computed from them, and periods it holds without minutes are listed as not \
            adopted. The source is only read. Stopped (Ctrl-C), it continues where it stopped when run again; run again \
            after it finished, it writes nothing new. The source's password comes from the URL or \
            CRYPTOPIPE_ADOPT_PASSWORD.
            """)

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: "The original system's database: mysql://user[:password]@host[:port]/database.")
    var from: String

    /// Page sizes (minutes, snapshots), for tests that make the paging visible.
    @Option(name: .long, help: .hidden)
    var pageRows: Int?

    func run() async throws {
        try await guarded {
            let settings = Settings()
            var source: MySQLConfiguration
            do {
                source = try MySQLConfiguration(url: from)
            } catch {
                throw CLIError.usage("--from: \(error)")
            }
            if source.password == nil, let password = settings.environment["CRYPTOPIPE_ADOPT_PASSWORD"], !password.isEmpty {
                source.password = password
            }
            source.poolSize = 1
            source.reconnectWindow = .seconds(10)
            let configuration = try global.resolve(settings)
            if case .mysql(let target) = configuration.warehouse, target.host == source.host, target.port == source.port,
                target.database == source.database
            {
                throw CLIError.usage("--from names the warehouse itself (\(source)); give the original system's database")
            }
            let backends = try await Backends.open(configuration)
            let reader = MySQLReader(configuration: source, logger: backends.logger)
            defer { Task { await reader.shutdown() } }
            Console.print("adopting \(source) into \(configuration.warehouse.description)")
            let adopter = Adopter(
                source: OriginalMySQLDatabase(reader: reader), warehouse: backends.warehouse, clock: .system, logger: backends.logger,
                minutesPerPage: pageRows ?? 5_000, snapshotsPerPage: pageRows ?? 200)
            let stop = InterruptFlag()
            let meter = ProgressMeter(label: "adopt", terminal: isatty(STDERR_FILENO) == 1)
            let started = ContinuousClock.now
            let report: AdoptionReport
            do {
                defer { meter.finish() }
                report = try await adopter.run(
                    progress: { meter.update(AdoptionMeter(progress: $0, started: started)) }, isCancelled: { stop.isSet })
            } catch let error as AdoptionError {
                throw CLIError("\(error.description) (check --from and CRYPTOPIPE_ADOPT_PASSWORD)")
            }
            Self.print(report)
            if report.interrupted {
                throw CLIError("interrupted; every page adopted so far is complete — run the same command again to continue")
            }
        }
    }

    static func print(_ report: AdoptionReport) {
        let symbols = report.symbols.sorted().map(\.rawValue)
        Console.print(
            "adopted \(report.minutesRead) minutes (\(report.minutesWritten) rows written) and \(report.snapshotsRead) order-book "
                + "snapshots (\(report.snapshotsWritten) new) of \(symbols.count) symbols\(report.resumed ? ", continuing an earlier run" : "")"
        )
        Console.print(
            "extraction state: \(report.metadataAdopted) taken, \(report.metadataKept) kept (the warehouse had its own); "
                + "rolled up \(report.hoursRolledUp) hourly and \(report.daysRolledUp) daily candles from the minutes")
        if report.minutesOpen > 0 {
            Console.print(
                "\(report.minutesOpen) minutes adopted as open (caught open by the original and never fetched again, or with "
                    + "nothing to tell): `cryptopipe gaps --fill` fetches them whole, 1,000 a request")
        }
        if !report.symbolsWithoutFetchTimes.isEmpty {
            Console.print(
                "the original's processed_files names no k-line fetches of "
                    + report.symbolsWithoutFetchTimes.sorted().map(\.rawValue).joined(separator: ",")
                    + ": nothing tells their minutes caught open from closed ones, so all were adopted as open")
        }
        if report.minutesBeforeFetchTimes > 0 {
            Console.print(
                "\(report.minutesBeforeFetchTimes) minutes are older than the first fetch its processed_files names: adopted as open "
                    + "for the same reason")
        }
        for periods in report.notAdopted where periods.partly {
            Console.print(
                "partly adopted: \(periods.count) \(periods.table) rows of \(periods.symbol) from \(periods.first) to \(periods.last) "
                    + "cover more minutes than it still holds (retention cut through them); ours are computed from those left")
        }
        for periods in report.notAdopted where !periods.partly {
            Console.print(
                "not adopted: \(periods.count) \(periods.table) rows of \(periods.symbol) from \(periods.first) to \(periods.last) "
                    + "(no minutes to compute ours from; its trade_count counts minutes, and it has no quote or taker volumes)")
        }
        if report.otherIntervals > 0 {
            Console.print("not adopted: \(report.otherIntervals) fact_klines rows of intervals other than 1m")
        }
        if report.rowsRefused > 0 {
            Console.error(
                "refused \(report.rowsRefused) rows that are not valid candles or levels; first: "
                    + report.refusals.joined(separator: "; "))
        }
        if !symbols.isEmpty {
            Console.print(
                "tracked symbols are unchanged; to follow the adopted ones: cryptopipe run --symbols \(symbols.joined(separator: ","))")
        }
    }
}

/// The progress bar's view of an adoption.
struct AdoptionMeter: ProgressSnapshot {
    var progress: AdoptionProgress
    var started: ContinuousClock.Instant

    var isComplete: Bool { progress.done >= progress.total }
    var fraction: Double { progress.total > 0 ? min(1, Double(progress.done) / Double(progress.total)) : 1 }
    var summary: String {
        let elapsed = Double((ContinuousClock.now - started).components.seconds) + 0.001
        let rate = Double(progress.done) / elapsed
        let eta = rate > 0 ? ProgressMeter.clock(Int(Double(max(0, progress.total - progress.done)) / rate)) : "--:--"
        return "\(progress.done)/\(progress.total) rows, \(Int(rate)) rows/s, ETA \(eta)"
    }
}
