import ArgumentParser
import DataLake
import ExchangeSimulator
import Foundation
import Logging
import MarketData
import Pipeline
import Warehouse

#if canImport(Glibc)
import Glibc
#endif

/// The transform on what live extraction leaves in the lake: per symbol and minute one small k-lines object (the candle
/// that just closed and the one still open), and every second minute a 100-level order book. Against the original
/// design's transform in plain Python (`baseline_live.py`) on the same files, interleaved in the same run.
struct LiveBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "live")

    @Option(help: "Symbols.") var symbols = 100
    @Option(help: "Minutes per symbol.") var minutes = 120
    @Option(help: "Levels per side of each book.") var depth = 100
    @Option(help: "Timed repetitions of each side, interleaved.") var repetitions = 3
    @Option(help: "Python interpreter for the peer; empty to skip it.") var python = "python3"
    @Option(help: "Objects the transformer reads ahead.") var readAhead = 64
    @Option(help: "Folder to keep the generated lake in and reuse on later runs (default: a temporary folder).") var data: String?

    func run() async throws {
        LoggingSystem.bootstrap { _ in SwiftLogNoOpLogHandler() }
        let folder = data ?? NSTemporaryDirectory() + "cryptopipe-bench-\(UUID().uuidString)"
        defer { if data == nil { try? FileManager.default.removeItem(atPath: folder) } }
        let lake = LocalObjectStore(root: folder + "/lake")
        let objects = try await Self.generateLake(lake, symbols: symbols, minutes: minutes, depth: depth)
        // Both sides read the same files: read them once first, so neither run pays for a cold page cache (a build
        // just before evicts the lake). A page at a time, so this process holds no listing of them all when the
        // transform's memory is measured.
        var bytes = 0
        try await Self.forEachObject(in: lake) { object in
            bytes += object.size
            _ = try await lake.get(bucket: "crypto-raw", key: object.key)
        }
        print(String(format: "live workload: %d objects, %.1f MB of envelope JSON", objects, Double(bytes) / 1_048_576))

        var ratios: [Double] = []
        for repetition in 1...repetitions {
            let ours = try await Self.runOurs(lake: lake, folder: folder, objects: objects, readAhead: readAhead)
            print(
                String(
                    format:
                        "  run %d cryptopipe: %.3f s (roll-ups included), %d book levels, %.1f bytes per level (%.1f MB after a checkpoint)",
                    repetition, ours.seconds, ours.levels, Double(ours.fileBytes) / Double(max(ours.levels, 1)),
                    Double(ours.fileBytes) / 1_048_576))
            guard !python.isEmpty else { continue }
            let peer = try Self.runPeer(python: python, folder: folder)
            print(
                String(
                    format: "  run %d python peer: %.3f s, %d book levels, %.1f bytes per level (%.1f MB)", repetition, peer.seconds,
                    peer.levels, Double(peer.fileBytes) / Double(max(peer.levels, 1)), Double(peer.fileBytes) / 1_048_576))
            ratios.append(peer.seconds / ours.seconds)
            print(String(format: "  run %d ratio peer/ours: %.2f", repetition, peer.seconds / ours.seconds))
        }
        if !ratios.isEmpty {
            let sorted = ratios.sorted()
            print(
                String(
                    format: "ratio peer/ours: median %.2f (min %.2f, max %.2f)", sorted[sorted.count / 2], sorted[0],
                    sorted[sorted.count - 1]))
        }
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        print(String(format: "peak memory of this process (generation included): %.0f MB", Double(usage.ru_maxrss) / 1024))
    }

    struct Outcome {
        var seconds: Double
        var levels: Int
        var fileBytes: Int
    }

    static func runOurs(lake: LocalObjectStore, folder: String, objects: Int, readAhead: Int) async throws -> Outcome {
        let path = folder + "/warehouse-\(UUID().uuidString).sqlite"
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let warehouse = try SQLiteWarehouse(path: path)
        try await warehouse.migrate()
        let transformer = Transformer(lake: lake, warehouse: warehouse, readAhead: readAhead, logger: Logger(label: "bench"))
        // Linux: the peak resident size from here on (writing 5 to clear_refs resets it), so what the transform held,
        // not what generating the lake or reading it for this report did (freed memory given back first).
        #if canImport(Glibc)
        // `malloc_trim` is not in Glibc's module map.
        typealias Trim = @convention(c) (Int) -> Int32
        if let trim = dlsym(nil, "malloc_trim") { _ = unsafeBitCast(trim, to: Trim.self)(0) }
        #endif
        try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
        let elapsed = try await ContinuousClock().measure {
            let report = try await transformer.transformPending()
            precondition(report.objects == objects && report.rejected == 0, "transformed \(report)")
        }
        if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) {
            // The peak counts pages of the warehouse file SQLite reads through its memory map (file-backed, given back
            // under memory pressure); the process's own memory at the end is the anonymous part.
            func field(_ name: String) -> String {
                status.split(separator: "\n").first { $0.hasPrefix(name + ":") }.map {
                    $0.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces)
                } ?? "?"
            }
            print(
                "    transform peak resident size: \(field("VmHWM")); at its end: \(field("RssAnon")) anonymous, \(field("RssFile")) file-backed"
            )
        }
        try await warehouse.optimize()
        let levels = try await warehouse.tableCounts()["fact_orderbook"] ?? 0
        let size = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        return Outcome(seconds: elapsed.seconds, levels: levels, fileBytes: size)
    }

    static func runPeer(python: String, folder: String) throws -> Outcome {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("baseline_live.py").path
        let path = folder + "/peer-\(UUID().uuidString).sqlite"
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [python, script, folder + "/lake/crypto-raw", path]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let lines = text.split(separator: "\n")
        guard process.terminationStatus == 0, lines.count == 2, let seconds = Double(lines[0]), let levels = Int(lines[1]) else {
            throw ValidationError("the Python peer failed (exit \(process.terminationStatus)): \(text)")
        }
        let size = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        return Outcome(seconds: seconds, levels: levels, fileBytes: size)
    }

    /// The lake live extraction leaves, unless the folder has it already: per symbol and minute a k-lines object captured
    /// 1.5 s after the minute with the closed candle and the open one; every second minute a book of `depth` levels.
    /// Every raw object, a page of each day folder at a time.
    static func forEachObject(in lake: LocalObjectStore, _ body: (ObjectInfo) async throws -> Void) async throws {
        for day in try await lake.listFolders(bucket: "crypto-raw", prefix: "") {
            var walk = FolderWalk(bucket: "crypto-raw", prefix: day, pageSize: 20_000)
            while let page = try await walk.next(in: lake) {
                for object in page.objects { try await body(object) }
            }
        }
    }

    static func generateLake(_ lake: LocalObjectStore, symbols count: Int, minutes: Int, depth: Int) async throws -> Int {
        let expected = count * minutes + count * ((minutes + 1) / 2)
        var existing = 0
        try await Self.forEachObject(in: lake) { _ in existing += 1 }
        guard existing != expected else { return expected }
        let symbols = try (0..<count).map { index in
            try Symbol(index < Self.majors.count ? Self.majors[index] : "C\(String(format: "%03d", index))USDT")
        }
        let market = SyntheticMarket(seed: 1, symbols: symbols)
        let start: Int64 = 1_700_000_000_000 / 86_400_000 * 86_400_000 + 3_600_000
        print("generating \(expected) objects for \(count) symbols × \(minutes) minutes …")
        for minute in 0..<minutes {
            let closedOpen = start + Int64(minute) * 60_000
            let capturedAt = closedOpen + 60_000 + 1_500
            for symbol in symbols {
                let candles = [
                    market.minuteCandle(symbol, minuteOpen: closedOpen),
                    market.minuteCandle(symbol, minuteOpen: closedOpen + 60_000, asOf: capturedAt),
                ].compactMap { $0 }
                let klines = RawEnvelope.encode(
                    symbol: symbol, capturedAt: capturedAt, type: .klines, interval: .oneMinute, data: BinanceCodec.encodeKlines(candles))
                try await lake.put(
                    bucket: "crypto-raw", key: LakeLayout.objectKey(symbol: symbol, type: .klines, capturedAt: capturedAt), bytes: klines)
                guard minute % 2 == 0 else { continue }
                let bookAt = capturedAt + 200
                let book = RawEnvelope.encode(
                    symbol: symbol, capturedAt: bookAt, type: .depth, interval: nil,
                    data: BinanceCodec.encodeDepth(market.orderBook(symbol, now: bookAt, limit: depth)))
                try await lake.put(
                    bucket: "crypto-raw", key: LakeLayout.objectKey(symbol: symbol, type: .depth, capturedAt: bookAt), bytes: book)
            }
        }
        return expected
    }

    static let majors = [
        "BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT", "XRPUSDT", "DOGEUSDT", "ADAUSDT", "TRXUSDT", "AVAXUSDT", "SHIBUSDT", "DOTUSDT",
        "LINKUSDT", "BCHUSDT", "NEARUSDT", "LTCUSDT", "MATICUSDT", "PEPEUSDT", "UNIUSDT", "ICPUSDT", "ETCUSDT",
    ]
}
