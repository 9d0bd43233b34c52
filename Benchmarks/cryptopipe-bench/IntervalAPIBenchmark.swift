import ArgumentParser
import AsyncHTTPClient
import DataLake
import Exchange
import Foundation
import Logging
import MarketData
import NIOCore
import Pipeline
import PipelineTesting
import Prometheus
import ServiceLifecycle
import Warehouse
import WebApp

/// `GET /api/candlestick/BTCUSDT?interval=15m&limit=500` against `interval=1m&limit=500` (the baseline, measured in
/// the same run, same number of candles) over HTTP on loopback, against a warehouse of 40 days of minutes.
///
/// Two cases per interval: *cold*, every request a new cache key (a different `end` past the data, so the same 500
/// candles), which is the first request after a cycle changed the data; and *warm*, the same URL again, which is every
/// other request until the data changes. Rounds alternate the intervals so the machine's noise falls on both. Before
/// them, the reads without HTTP: what a new process's first 15m request costs (every minute read and folded), and what
/// it costs once the complete candles are kept.
struct IntervalAPIBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "api-intervals")

    @Option(help: "Rounds; each measures every case once.") var rounds = 5
    @Option(help: "Requests per case and round.") var requests = 200
    @Option(help: "Intervals to compare with 1m, comma-separated.") var intervals = "15m,4h"

    func run() async throws {
        LoggingSystem.bootstrap { _ in SwiftLogNoOpLogHandler() }
        let compared = try intervals.split(separator: ",").map { text in
            guard let interval = Interval(rawValue: String(text)), CandleReader.intervals.contains(interval) else {
                throw ValidationError("--intervals: '\(text)' is not an interval from 1m to 1M")
            }
            return interval
        }
        let folder = try TemporaryDirectory("bench-api")
        defer { folder.remove() }
        let warehouse = try SQLiteWarehouse(path: folder.path + "/warehouse.sqlite")
        try await warehouse.migrate()
        let symbol = try Symbol("BTCUSDT")
        let minutes = WarehouseConformance.intervalMinutes()
        _ = try await warehouse.importKlines([
            KlineImport(
                batch: KlineBatch(minutes), symbol: symbol, capturedAt: .max,
                object: ProcessedObject(bucket: "import", key: "import/BTCUSDT/bench.zip#1", processedAt: 1))
        ])
        _ = try await warehouse.rollUpPending()
        print("warehouse: \(minutes.count) minutes of BTCUSDT (40 days), rolled up; \(ProcessInfo.processInfo.activeProcessorCount) cores")

        try await measureReads(warehouse, symbol: symbol)
        let logger = Logger(label: "bench")
        let scheduler = JobScheduler(jobs: [], warehouse: warehouse, logger: logger)
        let services = WebAppServices(
            warehouse: warehouse, lake: InMemoryObjectStore(), layout: LakeLayout(), scheduler: scheduler,
            symbols: SymbolRegistry(warehouse: warehouse, seed: [symbol]), exchange: ListingSource(),
            exchangeUsage: ExchangeUsageMonitor(), configuration: [], adminToken: nil, sessions: warehouse,
            metrics: PrometheusCollectorRegistry(), logger: logger)
        let (portStream, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let app = WebApp.application(services: services, host: "127.0.0.1", port: 0) { port in portContinuation.yield(port) }
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var ports = portStream.makeAsyncIterator()
            guard let port = await ports.next() else { throw ValidationError("the API server did not start") }
            let client = HTTPClient(eventLoopGroupProvider: .singleton)
            defer { _ = client.shutdown() }
            try await measure(client: client, base: "http://127.0.0.1:\(port)/api/candlestick/BTCUSDT", compared: compared)
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    func measure(client: HTTPClient, base: String, compared: [Interval]) async throws {
        var unique: Int64 = 1_800_000_000_000  // `end` values past the data: new cache keys, the same candles
        func time(_ interval: Interval, cold: Bool) async throws -> Double {
            var samples: [Double] = []
            samples.reserveCapacity(requests)
            for _ in 0..<requests {
                unique += 1
                let url = base + "?interval=\(interval.rawValue)&limit=500" + (cold ? "&end=\(unique)" : "")
                let started = ContinuousClock.now
                let response = try await client.execute(HTTPClientRequest(url: url), timeout: .seconds(30))
                let body = try await response.body.collect(upTo: 1 << 24)
                guard response.status == .ok, body.readableBytes > 1_000 else {
                    throw ValidationError("\(url) answered \(response.status), \(body.readableBytes) bytes")
                }
                samples.append((ContinuousClock.now - started).seconds * 1_000)
            }
            return samples.sorted()[samples.count / 2]
        }
        var medians: [String: [Double]] = [:]
        let cases = ([Interval.oneMinute] + compared).flatMap { [($0, true), ($0, false)] }
        for (interval, cold) in cases { _ = try await time(interval, cold: cold) }  // warm-up
        for round in 1...rounds {
            var line = "round \(round):"
            for (interval, cold) in round % 2 == 0 ? cases.reversed() : cases {
                let median = try await time(interval, cold: cold)
                medians["\(interval.rawValue) \(cold ? "cold" : "warm")", default: []].append(median)
            }
            for interval in compared {
                for temperature in ["cold", "warm"] {
                    let ratio = medians["\(interval.rawValue) \(temperature)"]!.last! / medians["1m \(temperature)"]!.last!
                    line += String(format: " %@/1m %@ %.2f", interval.rawValue, temperature, ratio)
                }
            }
            print(line)
        }
        print("median request time over the rounds' medians (ms), and the ratio to 1m/500 in the same run:")
        for temperature in ["cold", "warm"] {
            let baseline = Self.median(medians["1m \(temperature)"]!)
            print(String(format: "  1m/500 %@: %.2f ms", temperature, baseline))
            for interval in compared {
                let value = Self.median(medians["\(interval.rawValue) \(temperature)"]!)
                print(String(format: "  %@/500 %@: %.2f ms, %.2f× 1m", interval.rawValue, temperature, value, value / baseline))
            }
        }
    }

    /// Where a cold request's time goes, without HTTP: reading the stored rows, and forming candles from them.
    func measureReads(_ warehouse: SQLiteWarehouse, symbol: Symbol) async throws {
        let reader = CandleReader(warehouse)
        func median(_ body: () async throws -> Int) async throws -> (Double, Int) {
            var samples: [Double] = []
            var count = 0
            for _ in 0..<max(requests / 4, 5) {
                let started = ContinuousClock.now
                count = try await body()
                samples.append((ContinuousClock.now - started).seconds * 1_000)
            }
            return (Self.median(samples), count)
        }
        let minutes500 = try await median {
            try await warehouse.recentKlines(symbol: symbol, interval: .oneMinute, endingAt: .max, includeOpen: true, limit: 500).count
        }
        let minutes7500 = try await median {
            try await warehouse.recentKlines(symbol: symbol, interval: .oneMinute, endingAt: .max, includeOpen: true, limit: 7_530).count
        }
        let formed = try await median {
            try await reader.recentKlines(symbol: symbol, interval: .fifteenMinutes, endingAt: .max, includeOpen: true, limit: 500).count
        }
        let cache = FormedCandleCache()
        let remembering = CandleReader(warehouse, formed: cache)
        _ = try await remembering.recentKlines(symbol: symbol, interval: .fifteenMinutes, endingAt: .max, includeOpen: true, limit: 500)
        let remembered = try await median {
            try await remembering.recentKlines(symbol: symbol, interval: .fifteenMinutes, endingAt: .max, includeOpen: true, limit: 500)
                .count
        }
        print(
            String(
                format:
                    "reads without HTTP: 500 minutes %.2f ms; %d minutes %.2f ms; 500 15m candles formed from them %.2f ms (a new process's first request); the same with the complete ones formed before %.2f ms (%d kept)",
                minutes500.0, minutes7500.1, minutes7500.0, formed.0, remembered.0, cache.count))
    }

    static func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
}
