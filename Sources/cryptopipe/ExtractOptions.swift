import ArgumentParser
import Foundation
import MarketStreams
import WebApp

/// Options of the commands that extract.
struct ExtractOptionGroup: ParsableArguments {
    @Option(name: .long, help: "Candles fetched the first time a symbol is extracted (env CRYPTOPIPE_INITIAL_CANDLES, default 100).")
    var initialCandles: String?

    @Option(name: .long, help: "Order-book levels per side, 1-5000 (env CRYPTOPIPE_DEPTH_LIMIT, default 100).")
    var depthLimit: String?

    func resolve(_ settings: Settings = Settings()) throws(CLIError) -> ExtractOptions {
        ExtractOptions(
            initialCandles: try settings.integer(
                initialCandles, option: "--initial-candles", env: "CRYPTOPIPE_INITIAL_CANDLES", default: 100, range: 1...100_000),
            depthLimit: try settings.integer(
                depthLimit, option: "--depth-limit", env: "CRYPTOPIPE_DEPTH_LIMIT", default: 100, range: 1...5_000))
    }
}

struct ExtractOptions {
    var initialCandles: Int
    var depthLimit: Int
}

/// Options of the commands that loop.
struct RunOptionGroup: ParsableArguments {
    @Option(
        name: .long,
        help:
            "Seconds between extract-transform runs for a new warehouse; afterwards the saved schedule (env CRYPTOPIPE_EVERY, default 60).")
    var every: String?

    @Option(name: .long, help: "Stop after this many cycles (env CRYPTOPIPE_CYCLES, default: run until SIGINT/SIGTERM).")
    var cycles: String?

    @Option(
        name: .long,
        help:
            "This process's name among the workers sharing the warehouse: letters, digits and . _ - : @, up to 128 (env CRYPTOPIPE_WORKER_ID, default host name-process id)."
    )
    var workerID: String?

    @Option(
        name: .long,
        help:
            "Seconds a worker's leases on symbols and singleton jobs last without renewal; a dead worker's symbols move after this (env CRYPTOPIPE_LEASE_SECONDS, default 15)."
    )
    var leaseSeconds: String?

    /// The worker's id and lease duration in seconds.
    func resolveWorker(_ settings: Settings = Settings()) throws(CLIError) -> WorkerSettings {
        let host = ProcessInfo.processInfo.hostName
        let pid = Int64(ProcessInfo.processInfo.processIdentifier)
        let shownHost = host.isEmpty ? "localhost" : host
        let fallback = String(String(shownHost.unicodeScalars.filter(WorkerSettings.isAllowed)).prefix(100)) + "-\(pid)"
        let id = settings.text(workerID, env: "CRYPTOPIPE_WORKER_ID", default: fallback)
        guard (1...128).contains(id.utf8.count), id.unicodeScalars.allSatisfy(WorkerSettings.isAllowed) else {
            throw .usage(
                "--worker-id '\(Console.oneLine(String(id.prefix(40))))' is not valid: use 1 to 128 letters, digits and . _ - : @, e.g. collector-1"
            )
        }
        let lease = try settings.integer(
            leaseSeconds, option: "--lease-seconds", env: "CRYPTOPIPE_LEASE_SECONDS", default: 15, range: 3...600)
        return WorkerSettings(id: id, host: shownHost, processID: pid, leaseSeconds: lease)
    }

    /// Whether `--every` or `CRYPTOPIPE_EVERY` was given.
    var given: Bool { every != nil || !(Settings().environment["CRYPTOPIPE_EVERY"] ?? "").isEmpty }

    func resolve(_ settings: Settings = Settings()) throws(CLIError) -> (every: Int, cycles: Int?) {
        (
            try settings.integer(every, option: "--every", env: "CRYPTOPIPE_EVERY", default: 60, range: 1...86_400),
            try settings.optionalInteger(cycles, option: "--cycles", env: "CRYPTOPIPE_CYCLES", range: 1...Int.max)
        )
    }
}

/// How `run` and `demo` collect: WebSocket streams (the default) or REST polling.
struct StreamOptionGroup: ParsableArguments {
    @Option(
        name: .long,
        help:
            "How run collects: stream (WebSocket k-lines and order books, REST only to repair) or rest (polling every --every seconds) (env CRYPTOPIPE_SOURCE, default stream)."
    )
    var source: String?

    @Option(
        name: .long,
        help:
            "WebSocket market-data endpoint (env CRYPTOPIPE_STREAM_URL, default wss://data-stream.binance.vision, or the simulator's ws:// address when --exchange-url is not Binance's)."
    )
    var streamURL: String?

    @Option(
        name: .long,
        help:
            "Seconds between lake writes of streamed candles, a multiple of 60: 60 writes each minute as it closes, longer batches minutes into fewer objects (env CRYPTOPIPE_FLUSH_INTERVAL, default 60)."
    )
    var flushInterval: String?

    @Option(
        name: .long,
        help: "Seconds between order-book snapshots written from the streamed books (env CRYPTOPIPE_DEPTH_INTERVAL, default 60).")
    var depthInterval: String?

    @Option(
        name: .long,
        help:
            "Seconds after which a stream connection is replaced by a new one, opened before the old one closes (env CRYPTOPIPE_STREAM_ROTATE_AFTER, default 85800: Binance ends connections at 24 h). Lower it behind a proxy that cuts long connections, or to rehearse with the simulator's --ws-lifetime."
    )
    var streamRotateAfter: String?

    /// A streamed book stays exact only a few snapshot depths deep (see `StreamCollector.Configuration.snapshotLimit`).
    static let maximumStreamDepth = 1_000

    /// `depthLimit` is the resolved `--depth-limit`, checked against what streamed books can give.
    func resolve(exchangeURL: String, depthLimit: Int? = nil, _ settings: Settings = Settings()) throws(CLIError) -> StreamSettings {
        let source = try settings.value(source, option: "--source", env: "CRYPTOPIPE_SOURCE", default: .stream, expected: "stream or rest")
        {
            StreamSettings.Source(rawValue: $0.lowercased())
        }
        let url = settings.text(streamURL, env: "CRYPTOPIPE_STREAM_URL", default: StreamSettings.defaultStreamURL(exchangeURL: exchangeURL))
        guard WebSocketTarget.isStreamBaseURL(url) else {
            throw .usage(
                "--stream-url '\(GlobalOptions.redactingAnyCredentials(url))' is not valid: expected ws:// or wss:// and a host, e.g. wss://data-stream.binance.vision"
            )
        }
        let flush = try settings.value(
            flushInterval, option: "--flush-interval", env: "CRYPTOPIPE_FLUSH_INTERVAL", default: 60,
            expected: "seconds, a multiple of 60 from 60 to 86400"
        ) { Int($0).flatMap { (60...86_400).contains($0) && $0 % 60 == 0 ? $0 : nil } }
        let depth = try settings.integer(
            depthInterval, option: "--depth-interval", env: "CRYPTOPIPE_DEPTH_INTERVAL", default: 60, range: 1...86_400)
        let rotate = try settings.integer(
            streamRotateAfter, option: "--stream-rotate-after", env: "CRYPTOPIPE_STREAM_ROTATE_AFTER",
            default: StreamSettings.defaultRotateAfterSeconds, range: 5...86_400)
        if source == .stream, let depthLimit, depthLimit > Self.maximumStreamDepth {
            throw .usage(
                "--depth-limit \(depthLimit) is too deep for --source stream: at most \(Self.maximumStreamDepth) (books start from REST snapshots of at most 5000 levels), or use --source rest"
            )
        }
        func origin(_ flag: String?, _ env: String) -> String {
            flag != nil ? "flag" : (settings.environment[env].map { !$0.isEmpty } == true ? "environment" : "default")
        }
        return StreamSettings(
            source: source, streamURL: url, flushIntervalSeconds: flush, depthIntervalSeconds: depth, rotateAfterSeconds: rotate,
            entries: [
                ConfigurationEntry(name: "source", value: source.rawValue, source: origin(self.source, "CRYPTOPIPE_SOURCE")),
                ConfigurationEntry(
                    name: "stream_url", value: GlobalOptions.redactingAnyCredentials(url),
                    source: origin(streamURL, "CRYPTOPIPE_STREAM_URL")),
                ConfigurationEntry(
                    name: "flush_interval", value: "\(flush) s", source: origin(flushInterval, "CRYPTOPIPE_FLUSH_INTERVAL")),
                ConfigurationEntry(
                    name: "depth_interval", value: "\(depth) s", source: origin(depthInterval, "CRYPTOPIPE_DEPTH_INTERVAL")),
                ConfigurationEntry(
                    name: "stream_rotate_after", value: "\(rotate) s",
                    source: origin(streamRotateAfter, "CRYPTOPIPE_STREAM_ROTATE_AFTER")),
            ])
    }
}

struct StreamSettings {
    enum Source: String {
        case stream
        case rest
    }

    var source: Source
    var streamURL: String
    var flushIntervalSeconds: Int
    var depthIntervalSeconds: Int
    var rotateAfterSeconds: Int

    /// 23 h 50 min: ten minutes before Binance closes a connection.
    static let defaultRotateAfterSeconds = 85_800

    static let binanceStreamURL = "wss://data-stream.binance.vision"

    /// Binance's market-data stream for Binance's REST API; for anything else (a simulator, a proxy) the same host with
    /// `ws://` for `http://` and `wss://` for `https://`: the simulator serves both on one port.
    static func defaultStreamURL(exchangeURL: String) -> String {
        let lowered = exchangeURL.lowercased()
        guard let scheme = ["https://", "http://"].first(where: lowered.hasPrefix) else { return binanceStreamURL }
        let rest = exchangeURL.dropFirst(scheme.count)
        let host = rest.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        let hostName = (host.split(separator: ":").first.map(String.init) ?? "").lowercased()
        // Each Binance exchange has its own streams: Binance.US's and the spot test network's are not Binance's.
        if hostName == "binance.us" || hostName.hasSuffix(".binance.us") { return "wss://stream.binance.us:9443" }
        if hostName == "testnet.binance.vision" { return "wss://stream.testnet.binance.vision" }
        if hostName.hasSuffix("binance.com") || hostName.hasSuffix("binance.vision") { return binanceStreamURL }
        return (scheme == "https://" ? "wss://" : "ws://") + host
    }

    /// For the Settings page.
    var entries: [ConfigurationEntry]
}

/// Who this `run` is among the workers sharing a warehouse.
struct WorkerSettings {
    var id: String
    var host: String
    var processID: Int64
    var leaseSeconds: Int

    static func isAllowed(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "a"..."z", "A"..."Z", "0"..."9", ".", "_", "-", ":", "@": true
        default: false
        }
    }

    var entries: [ConfigurationEntry] {
        [
            ConfigurationEntry(name: "worker_id", value: id, source: "effective"),
            ConfigurationEntry(name: "lease_seconds", value: String(leaseSeconds), source: "effective"),
        ]
    }
}
