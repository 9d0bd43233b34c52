import ArgumentParser
import CoreMetrics
import Exchange
import Foundation
import Logging
import MarketData
import MarketStreams
import Pipeline
import Prometheus
import ServiceLifecycle
import Synchronization
import WebApp

/// Options of the commands that serve the API.
struct HTTPOptionGroup: ParsableArguments {
    @Option(name: .long, help: "Address the HTTP server binds (env CRYPTOPIPE_HTTP_HOST, default 127.0.0.1).")
    var httpHost: String?

    @Option(name: .long, help: "HTTP port, 0 for a free one (env CRYPTOPIPE_HTTP_PORT, default 8080).")
    var httpPort: String?

    @Option(
        name: .long,
        help:
            "The URL people reach the pages at, e.g. https://pipe.example.com behind a TLS proxy; https:// marks the sign-in cookie Secure (env CRYPTOPIPE_PUBLIC_URL)."
    )
    var publicURL: String?

    func resolve(_ settings: Settings = Settings()) throws(CLIError) -> HTTPSettings {
        let host = settings.text(httpHost, env: "CRYPTOPIPE_HTTP_HOST", default: "127.0.0.1")
        guard !host.isEmpty, !host.contains(where: { $0 == " " || $0 == "/" }) else {
            throw .usage("--http-host '\(host)' is not valid: expected an address such as 127.0.0.1 or 0.0.0.0")
        }
        let port = try settings.integer(httpPort, option: "--http-port", env: "CRYPTOPIPE_HTTP_PORT", default: 8_080, range: 0...65_535)
        let token = settings.environment["CRYPTOPIPE_ADMIN_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        if let token, token.count < 16 {
            throw .usage("CRYPTOPIPE_ADMIN_TOKEN is too short: use at least 16 characters, e.g. from 'openssl rand -hex 24'")
        }
        let publicURL = settings.text(publicURL, env: "CRYPTOPIPE_PUBLIC_URL", default: "")
        if !publicURL.isEmpty, !Self.isPublicURL(publicURL) {
            throw .usage(
                "--public-url '\(GlobalOptions.redactingAnyCredentials(publicURL))' is not valid: expected http(s)://host[:port][/path] without user or password, e.g. https://pipe.example.com"
            )
        }
        return HTTPSettings(host: host, port: port, adminToken: token, publicURL: publicURL.isEmpty ? nil : publicURL)
    }

    /// `http://` or `https://`, a host, nothing that cannot stand in a URL.
    static func isPublicURL(_ text: String) -> Bool {
        let lowered = text.lowercased()
        guard let rest = ["https://", "http://"].first(where: lowered.hasPrefix).map({ text.dropFirst($0.count) }),
            let host = rest.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).first, !host.isEmpty,
            !host.contains("@"), text.utf8.count <= 2_048
        else { return false }
        return text.unicodeScalars.allSatisfy { $0.isASCII && $0.value > 32 && $0.value < 127 }
    }
}

struct HTTPSettings {
    var host: String
    var port: Int
    var adminToken: String?
    var publicURL: String?
    /// `demo` made `adminToken` for its own run: the pages accept it in a sign-in link, printed once.
    var signInLinks = false

    /// 192 random bits in hex, from the system's secure generator.
    static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<24).map { _ in
            let byte = UInt8.random(in: 0...255, using: &generator)
            return String(byte >> 4, radix: 16) + String(byte & 0x0f, radix: 16)
        }.joined()
    }

    /// Where the printed links point: the bound address, or loopback when every address is bound.
    func localURL(port: Int) -> String {
        let shown = ["0.0.0.0", "::", "[::]"].contains(host) ? "127.0.0.1" : host
        return "http://\(shown.contains(":") && !shown.hasPrefix("[") ? "[\(shown)]" : shown):\(port)"
    }

    var entries: [ConfigurationEntry] {
        [
            ConfigurationEntry(name: "public_url", value: publicURL ?? "", source: "effective"),
            ConfigurationEntry(name: "http_host", value: host, source: "effective"),
            ConfigurationEntry(name: "http_port", value: String(port), source: "effective"),
            ConfigurationEntry(
                name: "admin_token", value: adminToken ?? "",
                source: signInLinks ? "demo (made for this run)" : adminToken == nil ? "default" : "environment", secret: true),
        ]
    }
}

/// What `run`, `serve` and `demo` start: the scheduler (unless only serving) and the HTTP server, in one ServiceGroup
/// that shuts down gracefully on SIGINT/SIGTERM.
struct ServerAssembly {
    let backends: Backends
    let source: any MarketDataSource
    let usage: ExchangeUsageMonitor
    let http: HTTPSettings
    let configurationEntries: [ConfigurationEntry]

    /// The exchange at `baseURL` (default: the configured one), watched by a usage monitor the API reports from.
    init(backends: Backends, http: HTTPSettings, baseURL: String? = nil) {
        let usage = ExchangeUsageMonitor()
        self.backends = backends
        self.source = backends.exchange(baseURL: baseURL, usage: usage)
        self.usage = usage
        self.http = http
        var entries = backends.configuration.entries + http.entries
        if let baseURL, let index = entries.firstIndex(where: { $0.name == "exchange_url" }) {
            entries[index] = ConfigurationEntry(name: "exchange_url", value: baseURL, source: "demo simulator")
        }
        self.configurationEntries = entries
    }

    /// Runs until a signal (or, with `runJobs`, until `cycles` extract-transform runs or stream flushes finished).
    /// `streams` collects over WebSockets instead of the extract-transform job's REST polling.
    func run(
        runJobs: Bool, extractOptions: ExtractOptions, every: Int, everyGiven: Bool, cycles: Int?, streams: StreamSettings? = nil,
        worker: WorkerSettings? = nil
    ) async throws {
        // The warehouse is closed however the run ends, start-up failures included.
        do {
            try await serve(
                runJobs: runJobs, extractOptions: extractOptions, every: every, everyGiven: everyGiven, cycles: cycles, streams: streams,
                worker: worker)
        } catch {
            await backends.closeWarehouse()
            throw error
        }
        await backends.closeWarehouse()
    }

    private func serve(
        runJobs: Bool, extractOptions: ExtractOptions, every: Int, everyGiven: Bool, cycles: Int?, streams: StreamSettings?,
        worker: WorkerSettings?
    ) async throws {
        let streaming = runJobs && streams?.source == .stream
        let registry = PrometheusCollectorRegistry()
        MetricsBootstrap.once(registry)
        let factory = PrometheusMetricsFactory(registry: registry)
        let logger = backends.logger
        if runJobs { try await backends.validateGivenSymbols(source: source) }
        let symbols = SymbolRegistry(warehouse: backends.warehouse, seed: backends.configuration.symbols)
        let extractor = backends.extractor(extractOptions, source: source)
        // A process that runs jobs is a worker: it shares the symbols and the singleton jobs with any other `run` on
        // this warehouse through leases (alone, it holds them all).
        let coordinator = worker.flatMap { worker in
            runJobs
                ? WorkerCoordinator(
                    configuration: .init(
                        workerID: worker.id, host: worker.host, processID: worker.processID,
                        leaseMilliseconds: Int64(worker.leaseSeconds) * 1_000),
                    store: backends.warehouse, registry: symbols, logger: logger) : nil
        }
        let transformer = coordinator.map { backends.transformer().gated(by: $0) } ?? backends.transformer()
        // The plan follows the saved extract-transform interval (a new warehouse takes --every).
        let savedSeconds = try await backends.warehouse.jobSchedules().first { $0.job == PipelineJobs.extractTransform }?.intervalSeconds
        let planning = PipelineJobs.Planning(
            budgetPerMinute: backends.budget.configuration.budgetPerMinute, cycleSeconds: savedSeconds ?? every)
        var jobs = PipelineJobs.make(
            extractor: extractor, transformer: transformer,
            gapFiller: GapFiller(extractor: extractor, transformer: transformer, warehouse: backends.warehouse, logger: logger),
            maintenance: backends.maintenance(),
            symbols: symbols, collecting: coordinator, gate: coordinator, defaults: .init(extractTransformSeconds: every),
            planning: planning,
            logger: logger,
            onCycle: Self.printCycle)
        // Streams collect continuously and load after each flush: the REST polling job is not scheduled.
        if streaming { jobs.removeAll { $0.name == PipelineJobs.extractTransform } }
        let scheduler = JobScheduler(
            jobs: jobs, warehouse: backends.warehouse,
            configuration: .init(
                stopAfter: streaming ? nil : cycles.map { (job: PipelineJobs.extractTransform, runs: $0) }, workerID: worker?.id ?? "",
                liveWorkers: { [warehouse = backends.warehouse] in
                    let now = PipelineClock.system.now()
                    return Set(try await warehouse.workers().filter { $0.isLive(at: now) }.map(\.id))
                }, gate: coordinator),
            metrics: factory,
            logger: logger
        )
        var collector: StreamCollector?
        let live = streaming ? LiveCandles() : nil
        if streaming, let streams {
            var configuration = StreamCollector.Configuration(
                streamURL: streams.streamURL, flushIntervalSeconds: streams.flushIntervalSeconds,
                depthIntervalSeconds: streams.depthIntervalSeconds, depthLimit: extractOptions.depthLimit)
            configuration.stopAfterFlushes = cycles
            configuration.rotateAfterMilliseconds = Int64(streams.rotateAfterSeconds) * 1_000
            configuration.workerID = worker?.id ?? ""
            configuration.sourceAddress = backends.configuration.sourceAddress
            collector = StreamCollector(
                configuration: configuration, extractor: extractor, transformer: transformer, symbols: coordinator ?? symbols,
                runLog: backends.warehouse,
                statusStore: backends.warehouse, live: live,
                clock: backends.marketClock, logger: logger, onFlush: Self.printFlush)
        }
        try await scheduler.prepare()
        let tracked = try await symbols.symbols()
        if backends.configuration.symbolsGiven, tracked != backends.configuration.symbols {
            Console.print(
                "note: tracking the \(tracked.count) symbols saved in the warehouse (\(tracked.map(\.rawValue).joined(separator: ","))); "
                    + "--symbols/CRYPTOPIPE_SYMBOLS only seed a new warehouse; change them with /api/config/symbols")
        }
        if everyGiven, case .every(let seconds) = try await scheduler.state(PipelineJobs.extractTransform).schedule, seconds != every {
            Console.print(
                "note: extract-transform runs every \(seconds) s as saved in the warehouse; --every only seeds a new warehouse; "
                    + "change it with PATCH /api/scheduler/extract-transform")
        }
        if let worker, runJobs {
            Console.print(
                "worker: \(worker.id) shares the \(tracked.count) tracked symbols and the singleton jobs with the other live workers on this "
                    + "warehouse (leases of \(worker.leaseSeconds) s)")
        }
        if let streams, streaming {
            Console.print(
                "source: streams from \(streams.streamURL) for \(tracked.count) symbols; candles written every \(streams.flushIntervalSeconds) s, "
                    + "order books every \(streams.depthIntervalSeconds) s; REST only to repair")
        } else if runJobs {
            let plan = planning.plan(symbols: tracked.count, depthLimit: extractOptions.depthLimit)
            Console.print("plan: \(plan)")
        }
        let services = WebAppServices(
            warehouse: backends.warehouse, lake: backends.lake, layout: backends.layout, scheduler: scheduler, symbols: symbols,
            exchange: source, exchangeUsage: usage,
            configuration: configurationEntries + (runJobs ? (streams?.entries ?? []) + (worker?.entries ?? []) : []),
            adminToken: http.adminToken,
            sessions: backends.sessions, publicURL: http.publicURL, signInLinks: http.signInLinks,
            exchangeClock: backends.exchangeClock, metrics: registry, logger: logger, liveCandles: live)
        if try await services.endSessionsOfAnotherAdminToken() {
            logger.notice("page sessions opened with another admin token were ended")
        }
        let http = http
        let app = WebApp.application(services: services, host: http.host, port: http.port) { port in
            // On stdout so scripts can read the port when --http-port 0 is used.
            Console.print("serving the API on http://\(http.host):\(port)/api/health (OpenAPI: /api/openapi.json, metrics: /metrics)")
            if http.signInLinks, let token = http.adminToken {
                Console.print("demo: open \(http.localURL(port: port))/signin?token=\(token) to sign in and change schedules and symbols")
            }
        }
        var groupServices: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: app)]
        // Before the jobs, so shut down after them: the leases are freed once the running job has finished.
        if let coordinator { groupServices.append(.init(service: coordinator)) }
        if let collector {
            groupServices.append(.init(service: scheduler))
            groupServices.append(.init(service: collector, successTerminationBehavior: .gracefullyShutdownGroup))
        } else if runJobs {
            groupServices.append(.init(service: scheduler, successTerminationBehavior: .gracefullyShutdownGroup))
        }
        // Last, so shut down first: retries through a warehouse outage end before the scheduler waits for its job.
        groupServices += backends.warehouseServices.map { .init(service: $0) }
        let group = ServiceGroup(
            configuration: .init(services: groupServices, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }

    @Sendable static func printFlush(_ report: StreamCollector.FlushReport) async {
        var line =
            "cycle \(report.number): streamed \(report.candles) k-lines for \(report.symbols) symbols up to \(UTCTime.iso8601(report.lastMinute)) "
            + "in \(report.objects) objects"
        if report.repairs > 0 { line += ", \(report.repairs) symbols repaired over REST" }
        if report.books > 0 { line += ", \(report.books) order books" }
        if let transform = report.transform {
            line +=
                "; loaded \(transform.objects) lake objects (\(transform.rowsWritten) rows written, \(transform.rowsUnchanged) unchanged)"
            if transform.rejected > 0 { line += ", \(transform.rejected) rejected" }
        }
        Console.print(line)
        for failure in report.failures { Console.error(failure) }
        if let error = report.transformError { Console.error("transform: \(error)") }
    }

    @Sendable static func printCycle(_ report: CycleReport) async {
        let klines = report.extraction.symbols.reduce(0) { $0 + $1.klines }
        let depth = report.extraction.symbols.reduce(0) { $0 + $1.depthLevels }
        var line =
            "cycle \(report.number): fetched \(klines) k-lines and \(depth) depth levels for \(report.extraction.symbols.count) symbols; "
        line +=
            "loaded \(report.transform.objects) lake objects (\(report.transform.rowsWritten) rows written, \(report.transform.rowsUnchanged) unchanged)"
        if report.transform.rejected > 0 { line += ", \(report.transform.rejected) rejected" }
        line += "; rolled up \(report.transform.hoursRolledUp) hours, \(report.transform.daysRolledUp) days"
        if let plan = report.plan, plan.depthStretched { line += "; order books every \(plan.effectiveDepthCadenceSeconds) s" }
        Console.print(line)
        for failure in report.extraction.failures { Console.error("\(failure.symbol): \(failure.message)") }
        if let error = report.transformError { Console.error("transform: \(error)") }
    }
}

enum MetricsBootstrap {
    private static let done = Mutex(false)

    /// swift-metrics may be bootstrapped once per process: everything that records through it lands in `registry`.
    static func once(_ registry: PrometheusCollectorRegistry) {
        let first = done.withLock { done in
            defer { done = true }
            return !done
        }
        if first { MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry)) }
    }
}
