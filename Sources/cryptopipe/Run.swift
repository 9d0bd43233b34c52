import ArgumentParser
import Exchange
import ExchangeSimulator
import Foundation
import Logging
import MarketData
import Pipeline
import ServiceLifecycle

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Extract and transform every --every seconds until SIGINT/SIGTERM (or --cycles runs), shutting down gracefully.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var options: ExtractOptionGroup
    @OptionGroup var loop: RunOptionGroup

    func run() async throws {
        try await guarded {
            let configuration = try global.resolve()
            let extractOptions = try options.resolve()
            let (every, cycles) = try loop.resolve()
            let backends = try await Backends.open(configuration)
            try await runPipeline(
                backends: backends, source: backends.exchange(), extractOptions: extractOptions, every: every, cycles: cycles)
        }
    }
}

/// Runs the pipeline loop as a service in a group that shuts down gracefully on SIGINT/SIGTERM.
func runPipeline(backends: Backends, source: any MarketDataSource, extractOptions: ExtractOptions, every: Int, cycles: Int?) async throws {
    let service = PipelineService(
        configuration: .init(interval: .seconds(every), cycles: cycles), extractor: backends.extractor(extractOptions, source: source),
        transformer: backends.transformer(), logger: backends.logger,
        onCycle: { report in
            let klines = report.extraction.symbols.reduce(0) { $0 + $1.klines }
            let depth = report.extraction.symbols.reduce(0) { $0 + $1.depthLevels }
            var line =
                "cycle \(report.number): fetched \(klines) k-lines and \(depth) depth levels for \(report.extraction.symbols.count) symbols; "
            line +=
                "loaded \(report.transform.objects) lake objects (\(report.transform.rowsWritten) rows written, \(report.transform.rowsUnchanged) unchanged)"
            if report.transform.rejected > 0 { line += ", \(report.transform.rejected) rejected" }
            line += "; rolled up \(report.transform.hoursRolledUp) hours, \(report.transform.daysRolledUp) days"
            Console.print(line)
            for failure in report.extraction.failures { Console.error("\(failure.symbol): \(failure.message)") }
            if let error = report.transformError { Console.error("transform: \(error)") }
        })
    let group = ServiceGroup(
        configuration: .init(
            services: [.init(service: service, successTerminationBehavior: .gracefullyShutdownGroup)],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: backends.logger))
    try await group.run()
}

struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start the simulated exchange on a free loopback port and run the pipeline against it, offline, on the embedded defaults."
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var options: ExtractOptionGroup
    @OptionGroup var loop: RunOptionGroup

    @Option(name: .long, help: "Seed of the simulated market (env CRYPTOPIPE_SEED, default 42).")
    var seed: String?

    func run() async throws {
        try await guarded {
            let configuration = try global.resolve()
            let settings = Settings()
            let extractOptions = try options.resolve()
            let (every, cycles) = try loop.resolve(settings)
            let seed = try settings.value(
                seed, option: "--seed", env: "CRYPTOPIPE_SEED", default: UInt64(42), expected: "a non-negative integer"
            ) { UInt64($0) }
            let backends = try await Backends.open(configuration)
            let exchange = SimulatedExchange(configuration: .init(seed: seed, symbols: configuration.symbols, historyMinutes: 1_440))
            try await SimulatorServer.withRunning(exchange, logger: Logger(label: "simulator")) { baseURL in
                Console.print(
                    "demo: simulated exchange (seed \(seed), \(configuration.symbols.map(\.rawValue).joined(separator: ","))) listening on \(baseURL)"
                )
                Console.print("demo: lake \(configuration.lake.description), warehouse \(configuration.warehouse.description)")
                Console.print(
                    "demo: extracting and transforming every \(every) s\(cycles.map { " for \($0) cycles" } ?? "; press Ctrl-C to stop")")
                try await runPipeline(
                    backends: backends, source: backends.exchange(baseURL: baseURL), extractOptions: extractOptions, every: every,
                    cycles: cycles)
                Console.print("demo: stopped; run 'cryptopipe status' to see what was loaded")
            }
        }
    }
}

struct SimulateExchange: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate-exchange", abstract: "Serve a Binance-compatible simulated exchange on loopback until SIGINT/SIGTERM.")

    @Option(name: .long, help: "Port to listen on, 0 for a free one (env CRYPTOPIPE_SIMULATOR_PORT, default 0).")
    var port: String?

    @Option(name: .long, help: "Host to bind (env CRYPTOPIPE_SIMULATOR_HOST, default 127.0.0.1).")
    var host: String?

    @Option(name: .long, help: "Comma-separated listed symbols (env CRYPTOPIPE_SYMBOLS, default BTCUSDT,ETHUSDT).")
    var symbols: String?

    @Option(name: .long, help: "Seed of the synthetic market (env CRYPTOPIPE_SEED, default 42).")
    var seed: String?

    @Option(name: .long, help: "Minutes of 1m history before now (env CRYPTOPIPE_HISTORY_MINUTES, default 1440).")
    var historyMinutes: String?

    func run() async throws {
        try await guarded {
            let settings = Settings()
            let port = try settings.integer(port, option: "--port", env: "CRYPTOPIPE_SIMULATOR_PORT", default: 0, range: 0...65_535)
            let host = settings.text(host, env: "CRYPTOPIPE_SIMULATOR_HOST", default: "127.0.0.1")
            let seed = try settings.value(
                seed, option: "--seed", env: "CRYPTOPIPE_SEED", default: UInt64(42), expected: "a non-negative integer"
            ) { UInt64($0) }
            let history = try settings.integer(
                historyMinutes, option: "--history-minutes", env: "CRYPTOPIPE_HISTORY_MINUTES", default: 1_440, range: 0...5_256_000)
            let symbolList: [Symbol]
            do {
                symbolList = try Symbol.parseList(settings.text(symbols, env: "CRYPTOPIPE_SYMBOLS", default: "BTCUSDT,ETHUSDT"))
            } catch {
                throw CLIError.usage("\(error)")
            }
            LogSetup.bootstrapOnce(level: settings.text(nil, env: "CRYPTOPIPE_LOG_LEVEL", default: "info"))
            let logger = Logger(label: "simulator")
            let exchange = SimulatedExchange(configuration: .init(seed: seed, symbols: symbolList, historyMinutes: history))
            let app = SimulatorServer.application(exchange: exchange, host: host, port: port, logger: logger) { bound in
                // Printed on stdout so scripts can read the port when --port 0 is used.
                Console.print("listening on http://\(host):\(bound)")
            }
            let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            try await group.run()
        }
    }
}
