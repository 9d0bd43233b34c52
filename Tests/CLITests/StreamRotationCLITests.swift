import DataLake
import ExchangeSimulator
import Foundation
import MarketData
import PipelineTesting
import Testing

/// `run --source stream` against `simulate-exchange` processes on the wall clock.
struct StreamRotationCLITests {
    /// Binance ends a stream connection after 24 h; the simulator's `--ws-lifetime 15` ends them after 15 s, and `run
    /// --stream-rotate-after 5` replaces each after 5 (the new connection open before the old one closes). Over three
    /// flushes, a dozen rotations or more lose no candle (every minute stored is the simulator's) and no book event (no
    /// book is rebuilt, and every stored book is the simulator's at its update id).
    @Test(.timeLimit(.minutes(5)))
    func aShortenedLifetimeLosesNoCandleAndNoBookEvent() async throws {
        let folder = try TemporaryDirectory("cli")
        defer { folder.remove() }
        let symbols = try ["BTCUSDT", "ETHUSDT"].map { try Symbol($0) }
        // Not in a minute's first 5 or last 15 seconds: a first connection that subscribes just after a boundary never
        // sees the previous minute's final event (the second flush would repair it over REST), and a start near the end
        // of a minute leaves only about a minute of run for the rotations.
        let second = Date().timeIntervalSince1970.truncatingRemainder(dividingBy: 60)
        if second < 5 || second > 45 { try await Task.sleep(for: .seconds((65 - second).truncatingRemainder(dividingBy: 60))) }
        let (simulator, baseURL) = try await CLITests.startSimulator(
            ["--ws-lifetime", "15", "--seed", "9", "--symbols", "BTCUSDT,ETHUSDT"], in: folder)
        defer { simulator.terminate() }
        let env = ["CRYPTOPIPE_EXCHANGE_URL": baseURL, "CRYPTOPIPE_LOG_LEVEL": "info", "CRYPTOPIPE_SYMBOLS": "BTCUSDT,ETHUSDT"]
        let run = try await CLITests.run(
            [
                "run", "--cycles", "3", "--stream-rotate-after", "5", "--depth-interval", "5", "--depth-limit", "20", "--initial-candles",
                "30", "--http-port", "0",
            ], environment: env, in: folder)
        #expect(run.status == 0, "\(run.stderr)")
        let rotations = run.stderr.components(separatedBy: "stream: rotating connection").count - 1
        #expect(rotations >= 10, "\(rotations) rotations")
        #expect(!run.stderr.contains("stream: connection ended"), "\(run.stderr)")

        // What the collector saved: no book rebuilt, and REST asked by the first flush. (A later repair is allowed: on a
        // loaded machine a final event can come after the 3 s grace, which `run` does not let a test lengthen; the
        // stream-only path is the virtual-clock `StreamCollectorTests`'.)
        let json = try await CLITests.run(["status", "--json"], environment: env, in: folder)
        let document = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let states = try #require((document["streams"] as? [String: Any])?["symbols"] as? [[String: Any]], "\(json.stdout)")
        #expect(states.count == 2, "\(states)")
        for state in states {
            #expect(
                state["rebuilds"] as? Int == 0 && (state["repairs"] as? Int ?? 0) >= 1 && state["book_synced"] as? Bool == true, "\(state)")
        }

        // Every stored minute is the simulator's, with none missing, up to the minute the last flush wrote. The first
        // flush's REST repair asks for the 30 latest candles; when the process starts in a minute's last seconds the
        // newest of them is still open then, so 29 closed ones come from REST and at least one more from the streams.
        let lastLine = try #require(run.stdout.split(separator: "\n").last { $0.hasPrefix("cycle 3: streamed") }, "\(run.stdout)")
        let lastFlushed = try #require(
            lastLine.components(separatedBy: " up to ").last?.split(separator: " ").first.flatMap { UTCTime.parse(String($0)) },
            "\(lastLine)")
        let market = SyntheticMarket(seed: 9, symbols: symbols)
        for symbol in symbols {
            let csv = try await CLITests.run(["export", "--symbol", symbol.rawValue], environment: env, in: folder)
            let rows = try csv.stdout.split(separator: "\n").map { row in
                try Array(row.utf8).withUnsafeBufferPointer { try KlineCSV.parseRow($0) }
            }
            let first = try #require(rows.first, "\(symbol): nothing stored").openTime
            let expected = (0..<rows.count).compactMap { market.minuteCandle(symbol, minuteOpen: first + Int64($0) * 60_000) }
            #expect(
                rows.count >= 30 && rows.last?.openTime == lastFlushed && rows == expected,
                "\(symbol): \(rows.count) stored, the last opening at \(rows.last.map { UTCTime.iso8601($0.openTime) } ?? "-")\n\(run.stdout)\n\(run.stderr.suffix(4_000))"
            )
        }

        // Every order book in the lake is the simulator's book of its update id, level for level.
        let lake = LocalObjectStore(root: folder.path + "/data/lake")
        let book = SimulatedBook(market: market)
        var books = 0
        for object in try await lake.list(bucket: "crypto-raw", prefix: "") where object.key.contains("_depth_") {
            let bytes = try await lake.get(bucket: "crypto-raw", key: object.key)
            let envelope = try bytes.withUnsafeBufferPointer { try RawEnvelope.decode($0) }
            let stored = try BinanceCodec.decodeDepth(Array(bytes[envelope.dataRange]))
            let slot = stored.lastUpdateId - SimulatedBook.updateId(envelope.symbol, slot: 0)
            #expect(stored == book.book(envelope.symbol, slot: slot, limit: 20), "\(object.key)")
            books += 1
        }
        #expect(books >= 2 * 10, "\(books) books")
    }
}
