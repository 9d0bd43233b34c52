import ArgumentParser
import DataLake
import ExchangeSimulator
import Foundation
import Logging
import MarketData
import Pipeline
import PipelineTesting
import Warehouse

/// Transform throughput from an S3 lake whose every request pays `--latency` ms (`scripts/s3-delay-proxy` in front of
/// the test S3 server): objects per second with reads one at a time (read-ahead 1, the transformer before) and with the
/// read-ahead, in the same run. Needs `eval "$(scripts/s3-test-server)"` first; with
/// `S3_TEST_SERVER_REPLICAS=N` there, the objects are written to every replica and the proxy spreads its connections
/// over them (one moto answers one request at a time, about 200 a second here, far below an S3 service).
struct S3ReadBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "s3-read")

    @Option(help: "Lake objects (live k-lines objects of two candles, over ten symbols).") var objects = 1_000
    @Option(help: "Milliseconds the proxy adds to every request.") var latency = 20
    @Option(help: "Read-ahead depths to compare, comma-separated.") var depths = "1,16"
    @Option(help: "Timed repetitions per depth; the best is reported.") var repetitions = 3

    func run() async throws {
        LoggingSystem.bootstrap { _ in SwiftLogNoOpLogHandler() }
        guard let direct = S3TestServer.configuration, let endpoint = direct.endpoint else {
            throw ValidationError("no S3 test server: run eval \"$(scripts/s3-test-server)\" first (\(S3TestServer.skipReason))")
        }
        let depthList = depths.split(separator: ",").compactMap { Int($0) }.filter { $0 >= 1 }
        let replicas = try (ProcessInfo.processInfo.environment["CRYPTOPIPE_TEST_S3_REPLICAS"] ?? "").split(separator: ",").map {
            try S3Endpoint(parsing: String($0))
        }
        let (proxy, proxyEndpoint) = try Self.startProxy(upstream: endpoint, replicas: replicas, latency: latency)
        defer { proxy.terminate() }
        let prefix = S3TestServer.uniqueBucketPrefix()
        let layout = LakeLayout(rawBucket: prefix + "crypto-raw", archiveBucket: prefix + "crypto-archive")
        var bytes = 0
        for server in [endpoint] + replicas {
            var configuration = direct
            configuration.endpoint = server
            bytes = try await Self.upload(objects, to: S3ObjectStore(configuration: configuration), layout: layout)
        }
        print(
            "\(objects) objects (\(bytes / 1_024) KiB) in \(layout.rawBucket) on \(1 + replicas.count) S3 server(s); every request through the proxy pays \(latency) ms"
        )
        var proxied = direct
        proxied.endpoint = proxyEndpoint
        let lake = S3ObjectStore(configuration: proxied)
        let folder = NSTemporaryDirectory() + "cryptopipe-s3-bench-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var rates: [Int: Double] = [:]
        for depth in depthList {
            var best = Double.infinity
            for _ in 1...repetitions {
                let warehouse = try SQLiteWarehouse(path: folder + "/warehouse-\(UUID().uuidString).sqlite")
                try await warehouse.migrate()
                let transformer = Transformer(
                    lake: lake, layout: layout, warehouse: warehouse, readAhead: depth, logger: Logger(label: "b"))
                let elapsed = try await ContinuousClock().measure {
                    let report = try await transformer.transformPending()
                    precondition(report.objects == objects, "loaded \(report.objects) of \(objects)")
                }
                best = min(best, elapsed.seconds)
            }
            rates[depth] = Double(objects) / best
            print(
                String(
                    format: "read-ahead %2d: %d objects in %.2f s = %.0f objects/s (best of %d)", depth, objects, best,
                    Double(objects) / best, repetitions))
        }
        if let one = rates[1], let deepest = depthList.max(), deepest > 1, let rate = rates[deepest] {
            print(String(format: "ratio: %.1f× with %d reads ahead", rate / one, deepest))
        }
    }

    /// Live objects: per symbol and minute one k-lines object of two candles, uploaded 32 at a time without the proxy.
    static func upload(_ count: Int, to store: S3ObjectStore, layout: LakeLayout) async throws -> Int {
        let symbols = try (0..<10).map { try Symbol("SYM\($0)USDT") }
        let market = SyntheticMarket(seed: 7, symbols: symbols)
        let start: Int64 = 1_764_547_200_000
        var total = 0
        try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<count {
                if index >= 32 { total += try await group.next() ?? 0 }
                let symbol = symbols[index % symbols.count]
                let minute = start + Int64(index / symbols.count) * 60_000
                let candles = [minute - 60_000, minute].compactMap { market.minuteCandle(symbol, minuteOpen: $0) }
                let capturedAt = minute + 1_500
                let body = RawEnvelope.encode(
                    symbol: symbol, capturedAt: capturedAt, type: .klines, interval: .oneMinute, data: BinanceCodec.encodeKlines(candles))
                let key = LakeLayout.objectKey(symbol: symbol, type: .klines, capturedAt: capturedAt)
                group.addTask {
                    try await store.put(bucket: layout.rawBucket, key: key, bytes: body)
                    return body.count
                }
            }
            for try await size in group { total += size }
        }
        return total
    }

    /// `scripts/s3-delay-proxy` on a free port in front of `upstream`.
    static func startProxy(upstream: S3Endpoint, replicas: [S3Endpoint], latency: Int) throws -> (Process, S3Endpoint) {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/s3-delay-proxy").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments =
            ["python3", script, upstream.host, String(upstream.port ?? 80), String(latency)]
            + replicas.map { "\($0.host):\($0.port ?? 80)" }
        let output = Pipe()
        process.standardOutput = output
        // The proxy exits when this pipe closes, i.e. when the benchmark ends, however it ends.
        process.standardInput = Pipe()
        process.standardError = FileHandle.nullDevice
        try process.run()
        var line = ""
        while !line.hasSuffix("\n") {
            let byte = output.fileHandleForReading.readData(ofLength: 1)
            guard !byte.isEmpty else { throw ValidationError("scripts/s3-delay-proxy exited before listening") }
            line += String(decoding: byte, as: UTF8.self)
        }
        guard let url = line.split(separator: " ").last.map({ $0.trimmingCharacters(in: .whitespacesAndNewlines) }) else {
            throw ValidationError("scripts/s3-delay-proxy printed '\(line)'")
        }
        return (process, try S3Endpoint(parsing: url))
    }
}
