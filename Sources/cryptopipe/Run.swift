import ArgumentParser
import ExchangeSimulator
import Foundation
import Logging
import MarketData
import Pipeline
import ServiceLifecycle

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the scheduled jobs (extract-transform, gap-fill, maintenance) and serve the API, until SIGINT/SIGTERM.",
        discussion: """
            extract-transform runs every --every seconds, gap-fill hourly and maintenance on Sundays at 02:00 UTC; schedules, \
            enabled flags and tracked symbols are saved in the warehouse and changed through the API. A running job \
            finishes before the process exits. --cycles stops after that many extract-transform runs.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var options: ExtractOptionGroup
    @OptionGroup var loop: RunOptionGroup
    @OptionGroup var streams: StreamOptionGroup
    @OptionGroup var http: HTTPOptionGroup

    func run() async throws {
        try await guarded {
            let configuration = try global.resolve()
            let extractOptions = try options.resolve()
            let (every, cycles) = try loop.resolve()
            let worker = try loop.resolveWorker()
            let streamSettings = try streams.resolve(exchangeURL: configuration.exchangeURL, depthLimit: extractOptions.depthLimit)
            let httpSettings = try http.resolve()
            let backends = try await Backends.open(configuration)
            let assembly = ServerAssembly(backends: backends, http: httpSettings)
            try await assembly.run(
                runJobs: true, extractOptions: extractOptions, every: every, everyGiven: loop.given, cycles: cycles,
                streams: streamSettings,
                worker: worker)
        }
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the API (and pages) over the warehouse without running jobs, until SIGINT/SIGTERM.",
        discussion: "Schedules and symbols changed here are saved and used by 'cryptopipe run' when it next starts.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var http: HTTPOptionGroup

    func run() async throws {
        try await guarded {
            let configuration = try global.resolve()
            let httpSettings = try http.resolve()
            let backends = try await Backends.open(configuration)
            let assembly = ServerAssembly(backends: backends, http: httpSettings)
            try await assembly.run(
                runJobs: false, extractOptions: ExtractOptions(initialCandles: 100, depthLimit: 100), every: 60, everyGiven: false,
                cycles: nil)
        }
    }
}

struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start the simulated exchange on a free loopback port and run the jobs and the API against it, offline.",
        discussion: """
            The demo tracks every symbol its simulator lists (unless --symbols says otherwise) and backfills \
            --history-days of 1m history before the jobs start, so the hourly and daily charts and the indicators have \
            data on the first page load. Without CRYPTOPIPE_ADMIN_TOKEN it makes a token for this run and prints a \
            sign-in link once, so the Scheduler and Settings pages can be tried.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var options: ExtractOptionGroup
    @OptionGroup var loop: RunOptionGroup
    @OptionGroup var streams: StreamOptionGroup
    @OptionGroup var http: HTTPOptionGroup

    @Option(name: .long, help: "Seed of the simulated market (env CRYPTOPIPE_SEED, default 42).")
    var seed: String?

    @Option(
        name: .long,
        help: "Days of 1m history backfilled before the jobs start, 0 for none (env CRYPTOPIPE_DEMO_HISTORY_DAYS, default 3).")
    var historyDays: String?

    /// What the demo's simulator lists, and tracks unless `--symbols` says otherwise.
    static let listedSymbols: [Symbol] = ["BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT", "XRPUSDT", "ADAUSDT"].compactMap {
        try? Symbol($0)
    }

    func run() async throws {
        try await guarded {
            let settings = Settings()
            var resolved = try global.resolve(settings)
            let extractOptions = try options.resolve()
            let (every, cycles) = try loop.resolve(settings)
            let worker = try loop.resolveWorker(settings)
            // Checked now; the simulator's own address becomes the default stream URL once it listens.
            _ = try streams.resolve(exchangeURL: resolved.exchangeURL, depthLimit: extractOptions.depthLimit, settings)
            var resolvedHTTP = try http.resolve(settings)
            let seed = try settings.value(
                seed, option: "--seed", env: "CRYPTOPIPE_SEED", default: UInt64(42), expected: "a non-negative integer"
            ) { UInt64($0) }
            let days = try settings.integer(
                historyDays, option: "--history-days", env: "CRYPTOPIPE_DEMO_HISTORY_DAYS", default: 3, range: 0...365)
            if !resolved.symbolsGiven { resolved.seedSymbols(Self.listedSymbols, source: "demo simulator") }
            if resolvedHTTP.adminToken == nil {
                // Like Jupyter: a token for this run only, handed over once as a link that signs in.
                resolvedHTTP.adminToken = HTTPSettings.randomToken()
                resolvedHTTP.signInLinks = true
            }
            let (configuration, httpSettings) = (resolved, resolvedHTTP)
            let backends = try await Backends.open(configuration)
            let symbols = try await SymbolRegistry(warehouse: backends.warehouse, seed: configuration.symbols).symbols()
            // The simulator lists more than the tracked symbols, so symbols can be added from the API and the pages.
            let listed = symbols + Self.listedSymbols.filter { !symbols.contains($0) }
            // A day more than the backfill, so its first minute is listed whatever minute the backfill starts in.
            let exchange = SimulatedExchange(configuration: .init(seed: seed, symbols: listed, historyMinutes: (days + 1) * 1_440))
            try await SimulatorServer.withRunning(exchange, logger: Logger(label: "simulator")) { baseURL in
                Console.print(
                    "demo: simulated exchange (seed \(seed), \(listed.map(\.rawValue).joined(separator: ","))) listening on \(baseURL)")
                Console.print("demo: lake \(configuration.lake.description), warehouse \(configuration.warehouse.description)")
                let assembly = ServerAssembly(backends: backends, http: httpSettings, baseURL: baseURL)
                if days > 0 {
                    guard try await backfill(days: days, symbols: symbols, assembly: assembly) else {
                        Console.print("demo: stopped during the backfill; what was fetched is loaded")
                        return
                    }
                }
                let streamSettings = try streams.resolve(exchangeURL: baseURL, depthLimit: extractOptions.depthLimit, settings)
                if streamSettings.source == .rest {
                    Console.print(
                        "demo: extracting and transforming every \(every) s\(cycles.map { " for \($0) cycles" } ?? "; press Ctrl-C to stop")"
                    )
                } else {
                    Console.print(
                        "demo: streaming from \(streamSettings.streamURL)\(cycles.map { " for \($0) flushes" } ?? "; press Ctrl-C to stop")"
                    )
                }
                try await assembly.run(
                    runJobs: true, extractOptions: extractOptions, every: every, everyGiven: loop.given, cycles: cycles,
                    streams: streamSettings, worker: worker)
                Console.print("demo: stopped; run 'cryptopipe status' to see what was loaded")
            }
        }
    }

    /// Backfills the last `days` days of every tracked symbol through the normal backfill path; `false` when a signal
    /// stopped it.
    func backfill(days: Int, symbols: [Symbol], assembly: ServerAssembly) async throws -> Bool {
        let backends = assembly.backends
        let extractor = backends.extractor(ExtractOptions(initialCandles: 1, depthLimit: 5), source: assembly.source)
        let backfiller = Backfiller(extractor: extractor, transformer: backends.transformer(), checkpointPrefix: "demo-backfill")
        await extractor.synchronizeClock()
        let from = Interval.oneMinute.openTime(containing: backends.marketClock.now()) - Int64(days) * 86_400_000
        Console.print("demo: backfilling \(days) days of 1m history for \(symbols.count) symbols")
        let stop = InterruptFlag()
        defer { stop.stopListening() }
        let meter = ProgressMeter(label: "backfill", terminal: isatty(STDERR_FILENO) == 1)
        let report = try await backfiller.run(
            symbols: symbols, from: from, progress: { meter.update($0) }, isCancelled: { stop.isSet })
        meter.finish()
        Console.print(
            "demo: backfilled \(report.klines) k-lines in \(report.pages) pages (\(report.rowsWritten) rows written) in "
                + String(format: "%.1f s", report.elapsedSeconds))
        // A signal after the last page still stops the demo before its jobs start.
        return !report.interrupted && !stop.isSet
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

    @Option(
        name: .long,
        help:
            "Share of requests (0-1) answered with a fault: 5xx, hang, reset, malformed, truncated or 429; for stream connections, the chance of ws-drop, ws-stall, ws-gap or ws-late in each 10 s (env CRYPTOPIPE_FAULTS, default 0)."
    )
    var faults: String?

    @Option(name: .long, help: "Seed of the fault sequence (env CRYPTOPIPE_FAULT_SEED, default 1).")
    var faultSeed: String?

    @Option(
        name: .long,
        help:
            "Comma-separated fault kinds to draw from: 5xx,hang,reset,malformed,truncated,429,ws-drop,ws-stall,ws-gap,ws-late (default all)."
    )
    var faultKinds: String?

    @Option(name: .long, help: "Seconds a hung request waits before answering (env CRYPTOPIPE_FAULT_HANG_SECONDS, default 15).")
    var faultHangSeconds: String?

    @Option(
        name: .long,
        help:
            "Serve the 1m candles of data.binance.vision dumps (.zip/.csv, or a folder of them) instead of a synthetic market (env CRYPTOPIPE_REPLAY)."
    )
    var replay: String?

    @Option(
        name: .long,
        help: "With --replay: the simulator's time at start (default: a day after the first candle; env CRYPTOPIPE_REPLAY_NOW).")
    var now: String?

    @Option(
        name: .long, help: "With --replay: how many times faster than the wall clock time runs (env CRYPTOPIPE_REPLAY_SPEED, default 1).")
    var speed: String?

    @Option(
        name: .long, parsing: .unconditional,
        help:
            "Seconds the simulator's clock runs ahead of the wall clock (negative: behind), to rehearse a machine whose clock is off (env CRYPTOPIPE_SIMULATOR_CLOCK_OFFSET, default 0)."
    )
    var clockOffset: String?

    @Option(
        name: .long,
        help:
            "Seconds a WebSocket stream connection lives before the simulator closes it, to rehearse Binance's 24 h end sooner (env CRYPTOPIPE_WS_LIFETIME, default 86400)."
    )
    var wsLifetime: String?

    /// `--clock-offset` in milliseconds: up to a year either way.
    func resolveClockOffset(_ settings: Settings) throws(CLIError) -> Int64 {
        let seconds = try settings.value(
            clockOffset, option: "--clock-offset", env: "CRYPTOPIPE_SIMULATOR_CLOCK_OFFSET", default: 0.0,
            expected: "seconds from -31536000 to 31536000, e.g. 30 or -2.5"
        ) { Double($0).flatMap { $0.isFinite && $0.magnitude <= 31_536_000 ? $0 : nil } }
        return Int64((seconds * 1_000).rounded())
    }

    /// The replayed market and its clock, or `nil` for the synthetic market on the wall clock.
    func resolveReplay(_ settings: Settings) throws(CLIError) -> (market: ReplayMarket, clock: PipelineClock, history: Int)? {
        let startText = try settings.time(now, option: "--now", env: "CRYPTOPIPE_REPLAY_NOW")
        let speedValue = try settings.value(
            speed, option: "--speed", env: "CRYPTOPIPE_REPLAY_SPEED", default: 1.0, expected: "a number from 0.01 to 100000"
        ) { Double($0).flatMap { (0.01...100_000).contains($0) ? $0 : nil } }
        let path = settings.text(replay, env: "CRYPTOPIPE_REPLAY", default: "")
        guard !path.isEmpty else {
            if now != nil || speed != nil { throw .usage("--now and --speed apply to a replay: give --replay DIR as well") }
            return nil
        }
        let files: [DumpFile]
        do throws(ImportError) {
            files = try DumpImporter.plan(paths: [path], symbol: nil)
        } catch {
            throw .usage("--replay: \(error.description)")
        }
        guard !files.isEmpty else { throw .usage("--replay: no .zip or .csv dump files in '\(path)'") }
        var candles: [Symbol: [Kline]] = [:]
        for file in files {
            do throws(ImportError) {
                candles[file.symbol, default: []] += try DumpImporter.readKlines(file)
            } catch {
                throw .usage("--replay: \(error.description)")
            }
        }
        let market = ReplayMarket(candles: candles)
        guard let span = market.span else { throw .usage("--replay: the dump files in '\(path)' hold no candles") }
        let start = startText ?? min(span.lowerBound + 86_400_000, span.upperBound + 60_000)
        guard span.contains(Interval.oneMinute.openTime(containing: start)) || start == span.upperBound + 60_000 else {
            throw .usage(
                "--now \(UTCTime.iso8601(start)) is outside the replayed data (\(UTCTime.iso8601(span.lowerBound)) to \(UTCTime.iso8601(span.upperBound))): pick a time inside it"
            )
        }
        let history = Int((Interval.oneMinute.openTime(containing: start) - span.lowerBound) / 60_000)
        return (market, PipelineClock.system.scaled(startingAt: start, speed: speedValue), history)
    }

    /// The fault configuration, or `nil` for a well-behaved exchange.
    func resolveFaults(_ settings: Settings) throws(CLIError) -> FaultConfiguration? {
        let rate = try settings.value(faults, option: "--faults", env: "CRYPTOPIPE_FAULTS", default: 0.0, expected: "a number from 0 to 1")
        {
            Double($0).flatMap { (0...1).contains($0) ? $0 : nil }
        }
        let seed = try settings.value(
            faultSeed, option: "--fault-seed", env: "CRYPTOPIPE_FAULT_SEED", default: UInt64(1), expected: "a non-negative integer"
        ) { UInt64($0) }
        let hang = try settings.integer(
            faultHangSeconds, option: "--fault-hang-seconds", env: "CRYPTOPIPE_FAULT_HANG_SECONDS", default: 15, range: 1...3_600)
        var kinds = FaultKind.allCases
        if let faultKinds {
            kinds = []
            for name in faultKinds.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !name.isEmpty {
                guard let kind = FaultKind(rawValue: name) else {
                    throw .usage(
                        "--fault-kinds: unknown kind '\(name)'; use any of \(FaultKind.allCases.map(\.rawValue).joined(separator: ","))")
                }
                kinds.append(kind)
            }
            if kinds.isEmpty { throw .usage("--fault-kinds is empty; name at least one kind or leave it out for all") }
        }
        guard rate > 0 else { return nil }
        return FaultConfiguration(rate: rate, seed: seed, kinds: kinds, hang: .seconds(hang))
    }

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
            let faultConfiguration = try resolveFaults(settings)
            let replayed = try resolveReplay(settings)
            let offset = try resolveClockOffset(settings)
            let lifetime = try settings.integer(
                wsLifetime, option: "--ws-lifetime", env: "CRYPTOPIPE_WS_LIFETIME", default: 86_400, range: 1...86_400 * 7)
            LogSetup.bootstrapOnce(level: settings.text(nil, env: "CRYPTOPIPE_LOG_LEVEL", default: "info"))
            let logger = Logger(label: "simulator")
            let exchange: SimulatedExchange
            if let replayed {
                exchange = SimulatedExchange(
                    configuration: .init(
                        seed: seed, symbols: replayed.market.symbols, historyMinutes: replayed.history,
                        clock: replayed.clock.offset(by: offset), faults: faultConfiguration),
                    market: replayed.market)
                logger.notice(
                    "replaying dumps",
                    metadata: [
                        "symbols": "\(replayed.market.symbols.map(\.rawValue).joined(separator: ","))",
                        "now": "\(UTCTime.iso8601(exchange.now))",
                    ])
            } else {
                exchange = SimulatedExchange(
                    configuration: .init(
                        seed: seed, symbols: symbolList, historyMinutes: history, clock: PipelineClock.system.offset(by: offset),
                        faults: faultConfiguration))
            }
            exchange.webSocketLifetime = .seconds(lifetime)
            if offset != 0 {
                logger.notice("the simulator's clock is offset from the wall clock", metadata: ["offset_ms": "\(offset)"])
            }
            if let faultConfiguration {
                logger.notice(
                    "injecting faults",
                    metadata: [
                        "faults.rate": "\(faultConfiguration.rate)", "faults.seed": "\(faultConfiguration.seed)",
                        "faults.kinds": "\(faultConfiguration.kinds.map(\.rawValue).joined(separator: ","))",
                    ])
            }
            let app = SimulatorServer.application(exchange: exchange, host: host, port: port, logger: logger) { bound in
                // Printed on stdout so scripts can read the port when --port 0 is used.
                Console.print("listening on http://\(host):\(bound) (streams: ws://\(host):\(bound)/stream)")
            }
            let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            try await group.run()
        }
    }
}
