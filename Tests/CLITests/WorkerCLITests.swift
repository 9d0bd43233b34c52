import ExchangeSimulator
import Foundation
import MarketData
import PipelineTesting
import Testing

/// Two `run` processes on one warehouse split the tracked symbols by leases.
struct WorkerCLITests {
    @Test(.timeLimit(.minutes(5)))
    func twoWorkersOnOneWarehouseSplitTheSymbols() async throws {
        let folder = try TemporaryDirectory("cli")
        defer { folder.remove() }
        let symbols = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT"]
        let exchange = SimulatedExchange(configuration: .init(seed: 8, symbols: try symbols.map { try Symbol($0) }, historyMinutes: 300))
        try await SimulatorServer.withRunning(exchange) { baseURL in
            let env = [
                "CRYPTOPIPE_EXCHANGE_URL": baseURL, "CRYPTOPIPE_LOG_LEVEL": "info", "CRYPTOPIPE_SYMBOLS": symbols.joined(separator: ","),
            ]
            // The warehouse exists first, so the two do not race to create it.
            let migrate = try await CLITests.run(["status"], environment: env, in: folder)
            #expect(migrate.status == 0, "\(migrate.stderr)")
            func worker(_ id: String) async throws -> CLITests.Outcome {
                try await CLITests.run(
                    [
                        "run", "--source", "rest", "--cycles", "8", "--every", "1", "--http-port", "0", "--initial-candles", "20",
                        "--worker-id", id, "--lease-seconds", "3",
                    ], environment: env, in: folder)
            }
            async let first = worker("w1")
            async let second = worker("w2")
            let (one, two) = try await (first, second)
            #expect(one.status == 0 && two.status == 0, "\(one.stderr)\n\(two.stderr)")
            #expect(
                one.stdout.contains("worker w1: collecting") && two.stdout.contains("worker w2: collecting"), "\(one.stdout)\(two.stdout)")
            // Each came to hold two of the four symbols (and the one still running when the other stopped, all four).
            for outcome in [one, two] {
                let changes = outcome.stderr.split(separator: "\n").filter { $0.contains("worker: assignment changed") }
                #expect(changes.contains { $0.contains(" symbols=2 ") }, "\(outcome.stdout)\n\(changes)")
                // Stopping is not a failure to renew.
                #expect(!outcome.stderr.contains("worker: cannot renew the leases"), "\(outcome.stderr)")
            }
            #expect(
                [one, two].count { $0.stderr.contains("singleton_jobs=true") } >= 1, "neither ran the transform, gap-fill and maintenance")
            // Both gave their leases back on stopping; everything extracted loads, and every symbol has candles.
            #expect(one.stderr.contains("worker: leases given back") && two.stderr.contains("worker: leases given back"))
            let transform = try await CLITests.run(["transform"], environment: env, in: folder)
            #expect(transform.status == 0, "\(transform.stderr)")
            let status = try await CLITests.run(["status", "--json"], environment: env, in: folder)
            let document = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
            let klines = (document["symbols"] as? [[String: Any]] ?? []).filter { $0["type"] as? String == "klines" }
            #expect(Set(klines.compactMap { $0["symbol"] as? String }) == Set(symbols), "\(klines)")
            #expect(klines.allSatisfy { ($0["rows"] as? Int ?? 0) >= 20 }, "\(klines)")
            // No worker is left on the warehouse, and no symbol is held.
            let workers = try #require(document["workers"] as? [String: Any], "\(status.stdout)")
            #expect((workers["workers"] as? [Any])?.isEmpty == true && (workers["unowned_symbols"] as? [String])?.count == 4, "\(workers)")
        }
    }
}
