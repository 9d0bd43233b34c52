import DataLake
import ExchangeSimulator
import Foundation
import MarketData
import PipelineTesting
import PipelineTestingMySQL
import Testing
import Warehouse
import WarehouseMySQL

/// Three `cryptopipe run` workers on the three-node Galera test cluster and one S3 lake, against a simulator with REST
/// faults: a worker killed with SIGKILL and a database node stopped lose no minute, and workers restarted one by one
/// with SIGTERM never leave a symbol without an owner for longer than a lease.
@Suite(
    .serialized,
    .enabled(
        if: GaleraTestCluster.isAvailable && S3TestServer.isAvailable,
        Comment(rawValue: GaleraTestCluster.isAvailable ? S3TestServer.skipReason : GaleraTestCluster.skipReason)))
struct ClusterCLITests {
    static let symbols = ["BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT", "XRPUSDT", "ADAUSDT"].compactMap { try? Symbol($0) }
    static let leaseSeconds: Int64 = 6

    /// The cluster's shared parts: the simulator, the lake's environment and the database.
    struct Cluster {
        let folder: TemporaryDirectory
        let database: String
        let baseURL: String
        let environment: [String: String]

        /// The warehouse URL of worker `index`: its own node first, then the others.
        func warehouseURL(for index: Int) throws -> String {
            let nodes = (0..<GaleraTestCluster.nodeCount).map { (index + $0) % GaleraTestCluster.nodeCount }
            var configuration = try GaleraTestCluster.configuration(database: database, nodes: nodes)
            configuration.password = nil
            return configuration.description
        }

        /// Starts worker `index` (`worker-{index}`, or `id`) with its output in files of the test's folder.
        func startWorker(_ index: Int, id: String? = nil) throws -> Process {
            let name = id ?? "worker-\(index)"
            let process = Process()
            process.executableURL = URL(fileURLWithPath: CLITests.binary)
            process.arguments = [
                "run", "--source", "rest", "--every", "5", "--initial-candles", "3", "--http-port", "0", "--worker-id", name,
                "--lease-seconds", "\(ClusterCLITests.leaseSeconds)", "--warehouse", try warehouseURL(for: index),
            ]
            process.currentDirectoryURL = URL(fileURLWithPath: folder.path)
            process.environment = CLITests.childEnvironment(environment, in: folder)
            FileManager.default.createFile(atPath: folder.path + "/\(name).out", contents: nil)
            FileManager.default.createFile(atPath: folder.path + "/\(name).err", contents: nil)
            process.standardOutput = FileHandle(forWritingAtPath: folder.path + "/\(name).out")
            process.standardError = FileHandle(forWritingAtPath: folder.path + "/\(name).err")
            try process.run()
            return process
        }

        func log(of name: String) -> String {
            let text = (try? String(contentsOfFile: folder.path + "/\(name).err", encoding: .utf8)) ?? ""
            return String(text.suffix(1_500))
        }
    }

    /// Runs `body` with the simulator (REST faults on), the S3 lake's environment and a new database on the cluster.
    static func withCluster(
        _ name: String, _ body: @Sendable (Cluster, SimulatedExchange, MySQLWarehouse) async throws -> Void
    ) async throws {
        let folder = try TemporaryDirectory("cli-cluster")
        defer { folder.remove() }
        let s3 = try #require(S3TestServer.configuration)
        let prefix = S3TestServer.uniqueBucketPrefix()
        let faults = FaultConfiguration(
            rate: 0.03, seed: 11, kinds: [.serverError, .connectionReset, .malformedJSON, .truncatedJSON], hang: .seconds(1))
        let exchange = SimulatedExchange(configuration: .init(seed: 77, symbols: symbols, historyMinutes: 120, faults: faults))
        try await GaleraTestCluster.withDatabase(name) { database in
            try await SimulatorServer.withRunning(exchange) { baseURL in
                let environment = [
                    "CRYPTOPIPE_EXCHANGE_URL": baseURL, "CRYPTOPIPE_SYMBOLS": symbols.map(\.rawValue).joined(separator: ","),
                    "CRYPTOPIPE_MYSQL_PASSWORD": try #require(GaleraTestCluster.configuration?.password),
                    "CRYPTOPIPE_LAKE": "s3://\(prefix)crypto-raw", "CRYPTOPIPE_S3_ARCHIVE_BUCKET": prefix + "crypto-archive",
                    "CRYPTOPIPE_S3_ENDPOINT": "\(try #require(s3.endpoint))", "CRYPTOPIPE_S3_ACCESS_KEY": s3.credentials.accessKeyID,
                    "CRYPTOPIPE_S3_SECRET_KEY": s3.credentials.secretAccessKey, "CRYPTOPIPE_LOG_LEVEL": "info",
                ]
                // The test reads through the node it never stops.
                let reader = MySQLWarehouse(configuration: try GaleraTestCluster.configuration(database: database, nodes: [2]))
                let outcome: Result<Void, any Error>
                do {
                    // The schema first, as a worker's start makes it, so the test can watch the leases from the start.
                    try await reader.migrate()
                    outcome = .success(
                        try await body(
                            Cluster(folder: folder, database: database, baseURL: baseURL, environment: environment), exchange, reader))
                } catch {
                    outcome = .failure(error)
                }
                await reader.shutdown()
                try outcome.get()
            }
        }
    }

    /// Each symbol's live holder, from the warehouse.
    static func owners(_ warehouse: MySQLWarehouse) async throws -> [String: String] {
        let now = Int64(Date().timeIntervalSince1970 * 1_000)
        var owners: [String: String] = [:]
        for lease in try await warehouse.leases() where lease.name.hasPrefix(LeaseName.symbolPrefix) && !lease.isFree(at: now) {
            owners[String(lease.name.dropFirst(LeaseName.symbolPrefix.count))] = lease.holder
        }
        return owners
    }

    /// Waits until `condition` holds, checking every 200 ms, for at most `seconds`.
    static func wait(
        _ what: String, seconds: Double, _ condition: () async throws -> Bool, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw ConformanceFailure("waited \(Int(seconds)) s for \(what)")
    }

    /// The newest final minute stored for `symbol`.
    static func newestFinalMinute(_ symbol: Symbol, in warehouse: MySQLWarehouse) async throws -> Int64? {
        try await warehouse.recentKlines(symbol: symbol, interval: .oneMinute, endingAt: .max, includeOpen: false, limit: 1).last?.kline
            .openTime
    }

    /// Every symbol's stored final minutes are one unbroken run, each equal to the simulator's candle.
    static func expectEveryMinuteOnceAndExact(_ exchange: SimulatedExchange, in warehouse: MySQLWarehouse) async throws {
        let market = SyntheticMarket(seed: 77, symbols: symbols)
        for symbol in symbols {
            let stored = try await warehouse.klines(
                symbol: symbol, interval: .oneMinute, from: 0, to: .max, includeOpen: false, limit: nil
            ).map(\.kline)
            let first = try #require(stored.first?.openTime, "\(symbol): no minutes")
            let expected = (0..<stored.count).compactMap { market.minuteCandle(symbol, minuteOpen: first + Int64($0) * 60_000) }
            #expect(stored.count >= 4, "\(symbol): \(stored.count) minutes")
            #expect(stored == expected, "\(symbol): the stored minutes differ from the simulator's or have a hole")
        }
    }

    @Test(.timeLimit(.minutes(8)))
    func aKilledWorkerAndAStoppedNodeLoseNoMinute() async throws {
        try await Self.withCluster("cluster_failover_") { cluster, exchange, warehouse in
            var workers = try (0..<3).map { try cluster.startWorker($0) }
            defer { for worker in workers where worker.isRunning { kill(worker.processIdentifier, SIGKILL) } }
            try await Self.wait("every symbol to have an owner, two each", seconds: 60) {
                let owners = try await Self.owners(warehouse)
                return owners.count == Self.symbols.count
                    && Dictionary(grouping: owners.values, by: { $0 }).values.allSatisfy { $0.count == 2 }
            }
            // Collect across a minute boundary first.
            let started = Int64(Date().timeIntervalSince1970 * 1_000)
            try await Self.wait("a minute closed after the start for every symbol", seconds: 150) {
                for symbol in Self.symbols {
                    guard let newest = try await Self.newestFinalMinute(symbol, in: warehouse), newest >= started - started % 60_000
                    else { return false }
                }
                return true
            }
            // Two each again (a lease that lapsed under load may have moved a symbol meanwhile); worker 0's are the victims.
            var victims: [String] = []
            try await Self.wait("two symbols each before the kill", seconds: 60) {
                let owners = try await Self.owners(warehouse)
                victims = owners.filter { $0.value == "worker-0" }.map(\.key).sorted()
                return owners.count == Self.symbols.count
                    && Dictionary(grouping: owners.values, by: { $0 }).values.allSatisfy { $0.count == 2 }
            }
            // The machine of worker 0 dies; then the database node worker 1 writes through dies too.
            kill(workers[0].processIdentifier, SIGKILL)
            let killedAt = Date()
            try await Self.wait("worker 0's symbols to move", seconds: 30) {
                let owners = try await Self.owners(warehouse)
                return victims.allSatisfy { owners[$0] != nil && owners[$0] != "worker-0" }
            }
            let takeover = Date().timeIntervalSince(killedAt)
            print("cluster failover: worker 0's symbols \(victims) taken over \(String(format: "%.1f", takeover)) s after SIGKILL")
            // A lease lasts 6 s; the survivors look every 1.2 s (and the test every 0.2 s); a loaded machine adds some.
            #expect(takeover <= Double(Self.leaseSeconds) + 5, "took \(takeover) s")
            try await GaleraTestCluster.stop(node: 1)
            let killedMs = Int64(killedAt.timeIntervalSince1970 * 1_000)
            try await Self.wait("two minutes closed after the kill, and new order books, for every symbol", seconds: 200) {
                for symbol in Self.symbols {
                    guard let newest = try await Self.newestFinalMinute(symbol, in: warehouse),
                        newest >= killedMs - killedMs % 60_000 + 60_000,
                        let book = try await warehouse.latestOrderBook(symbol: symbol, levels: 1),
                        book.capturedAt > killedMs + Self.leaseSeconds * 1_000
                    else { return false }
                }
                return true
            }
            try await GaleraTestCluster.start(node: 1)
            for index in 1..<3 { workers[index].terminate() }
            for index in 1..<3 {
                workers[index].waitUntilExit()
                #expect(workers[index].terminationStatus == 0, "worker \(index): \(cluster.log(of: "worker-\(index)"))")
            }
            workers = []
            try await Self.expectEveryMinuteOnceAndExact(exchange, in: warehouse)
            #expect(exchange.limitStatistics == .init(), "no 429 or 418: \(exchange.limitStatistics)")
            #expect(!exchange.injectedFaults.isEmpty, "faults were injected")
            let runs = try await warehouse.jobRuns(JobRunQuery(pageSize: 500)).runs
            #expect(Set(runs.map(\.worker)).isSuperset(of: ["worker-0", "worker-1", "worker-2"]), "every worker logged its runs")
        }
    }

    @Test(.timeLimit(.minutes(6)))
    func workersRestartedOneByOneNeverLeaveASymbolUnowned() async throws {
        try await Self.withCluster("cluster_rolling_") { cluster, exchange, warehouse in
            var workers = try (0..<3).map { try cluster.startWorker($0) }
            defer { for worker in workers where worker.isRunning { kill(worker.processIdentifier, SIGKILL) } }
            try await Self.wait("every symbol to have an owner", seconds: 60) {
                try await Self.owners(warehouse).count == Self.symbols.count
            }
            // Watches ownership every 200 ms: the longest time any symbol had no live holder.
            let watcher = Task { () -> Double in
                var unownedSince: [String: Date] = [:]
                var longest = 0.0
                while !Task.isCancelled {
                    let owners = try await Self.owners(warehouse)
                    let now = Date()
                    for symbol in Self.symbols.map(\.rawValue) {
                        if owners[symbol] == nil {
                            let since = unownedSince[symbol] ?? now
                            unownedSince[symbol] = since
                            longest = max(longest, now.timeIntervalSince(since))
                        } else {
                            unownedSince[symbol] = nil
                        }
                    }
                    try? await Task.sleep(for: .milliseconds(200))
                }
                return longest
            }
            for index in 0..<3 {
                workers[index].terminate()
                workers[index].waitUntilExit()
                #expect(workers[index].terminationStatus == 0, "worker \(index): \(cluster.log(of: "worker-\(index)"))")
                // The stopped worker handed its symbols back: the other two hold all of them before it comes back.
                let stopped = index == 0 ? "worker-0" : "worker-\(index)"
                try await Self.wait("the others to take worker \(index)'s symbols", seconds: 30) {
                    let owners = try await Self.owners(warehouse)
                    return owners.count == Self.symbols.count && !owners.values.contains(stopped)
                }
                workers[index] = try cluster.startWorker(index, id: "worker-\(index)-restarted")
                try await Self.wait("worker \(index) back with its share", seconds: 60) {
                    try await Self.owners(warehouse).values.filter { $0 == "worker-\(index)-restarted" }.count == 2
                }
            }
            watcher.cancel()
            let longest = try await watcher.value
            print("cluster rolling restart: the longest a symbol was without an owner: \(String(format: "%.1f", longest)) s")
            #expect(longest < Double(Self.leaseSeconds), "a symbol had no owner for \(longest) s")
            for worker in workers { worker.terminate() }
            for worker in workers { worker.waitUntilExit() }
            workers = []
            #expect(try await warehouse.workers().isEmpty, "every worker removed its row when it stopped")
            #expect(try await Self.owners(warehouse).isEmpty, "and freed its leases")
            #expect(exchange.limitStatistics == .init())
        }
    }
}
