import DataLake
import ExchangeSimulator
import Foundation
import MarketData
import PipelineTesting
import PipelineTestingMySQL
import Synchronization
import Testing

// README promises checked through the built binary: `lake migrate`'s failure paths, `gaps --fill` when the exchange
// fails, `run`'s stretched order-book plan, SIGINT during a job, `/api/health` of a running process, and the S3
// options that come from AWS's own environment variables.

/// `cryptopipe lake migrate` between folders: what is copied, what is skipped, what fails and how that is reported.
struct LakeMigratePromiseTests {
    /// A raw object, a rejected one with its reason, and an archived one: the three kinds a lake holds.
    static let objects: [(path: String, text: String)] = [
        ("crypto-raw/2024-01-01/BTCUSDT_klines_1704067260000.json", #"{"captured_at":"2024-01-01T00:01:00","data":[]}"#),
        ("crypto-raw/_rejected/2024-01-01/ETHUSDT_depth_1704067320000.json", "not json at all"),
        ("crypto-raw/_rejected/2024-01-01/ETHUSDT_depth_1704067320000.json.reason.txt", "malformed JSON at byte 0"),
        ("crypto-archive/2023-12-01/BTCUSDT_depth_1701388800000.json", #"{"captured_at":"2023-12-01T00:00:00","data":{}}"#),
    ]

    static var totalBytes: Int { objects.reduce(0) { $0 + $1.text.utf8.count } }

    static func writeLake(at root: String) throws {
        for object in objects { try write(object.text, to: root + "/" + object.path) }
    }

    static func write(_ text: String, to path: String) throws {
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    }

    /// Every file under `root` (the store's own temporary folders excluded) with its bytes.
    static func files(under root: String) throws -> [String: Data] {
        var files: [String: Data] = [:]
        for path in try FileManager.default.subpathsOfDirectory(atPath: root) where !path.split(separator: "/").contains(".tmp") {
            var isFolder: ObjCBool = false
            if FileManager.default.fileExists(atPath: root + "/" + path, isDirectory: &isFolder), !isFolder.boolValue {
                files[path] = FileManager.default.contents(atPath: root + "/" + path)
            }
        }
        return files
    }

    static func summary(copied: Int, bytes: Int, from: String, to: String, skipped: Int) -> String {
        "copied \(copied) objects (\(bytes) bytes) from \(from) to \(to); \(skipped) already there and identical\n"
    }

    @Test func folderToFolderCopiesRawRejectedAndArchiveAndNeverChangesTheSource() async throws {
        let folder = try TemporaryDirectory("cli-migrate")
        defer { folder.remove() }
        try Self.writeLake(at: folder.path + "/source")
        let before = try Self.files(under: folder.path + "/source")

        let first = try await CLITests.run(["lake", "migrate", "--from", "source", "--to", "copy"], in: folder)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout == Self.summary(copied: 4, bytes: Self.totalBytes, from: "source", to: "copy", skipped: 0))
        #expect(first.stderr.isEmpty, "\(first.stderr)")
        #expect(try Self.files(under: folder.path + "/copy") == before)
        #expect(try Self.files(under: folder.path + "/source") == before)

        // A rerun finds everything there and identical.
        let again = try await CLITests.run(["lake", "migrate", "--from", "source", "--to", "copy"], in: folder)
        #expect(again.status == 0)
        #expect(again.stdout == Self.summary(copied: 0, bytes: 0, from: "source", to: "copy", skipped: 4))
    }

    /// The original system's local lake (`raw/`, `archive/`), alone or beside objects of ours in the same folder: every
    /// object reaches the buckets.
    @Test func theOriginalLocalLayoutIsCopiedIntoTheBucketsAlsoBesideOurs() async throws {
        let folder = try TemporaryDirectory("cli-migrate-original")
        defer { folder.remove() }
        let original = [
            ("raw/2024-01-01/BTCUSDT_klines_1704067260000.json", #"{"captured_at": "2023-12-31T16:01:00.123456", "data": []}"#),
            ("archive/2023-12-01/BTCUSDT_depth_1701388800000.json", #"{"captured_at": "2023-11-30T16:00:00", "data": {}}"#),
        ]
        for (path, text) in original { try Self.write(text, to: folder.path + "/data_lake/" + path) }
        let alone = try await CLITests.run(["lake", "migrate", "--from", "data_lake", "--to", "copy"], in: folder)
        #expect(alone.status == 0, "\(alone.stderr)")
        #expect(
            try Self.files(under: folder.path + "/copy").keys.sorted() == [
                "crypto-archive/2023-12-01/BTCUSDT_depth_1701388800000.json", "crypto-raw/2024-01-01/BTCUSDT_klines_1704067260000.json",
            ])
        // A run of ours pointed at the folder wrote crypto-raw/ beside raw/: both are copied.
        try Self.write(Self.objects[0].text, to: folder.path + "/data_lake/crypto-raw/2024-01-02/BTCUSDT_klines_1704153600000.json")
        let both = try await CLITests.run(["lake", "migrate", "--from", "data_lake", "--to", "both"], in: folder)
        #expect(both.status == 0, "\(both.stderr)")
        #expect(try Self.files(under: folder.path + "/both").count == 3)
    }

    @Test func objectsChangedAtTheDestinationOrTheSourceAreCopiedAgainAndIdenticalOnesSkipped() async throws {
        let folder = try TemporaryDirectory("cli-migrate")
        defer { folder.remove() }
        try Self.writeLake(at: folder.path + "/source")
        let first = try await CLITests.run(["lake", "migrate", "--from", "source", "--to", "copy"], in: folder)
        #expect(first.status == 0, "\(first.stderr)")

        // At the destination: one object changed in place (same size, other bytes), one truncated.
        let raw = Self.objects[0]
        let archived = Self.objects[3]
        try Self.write(String(raw.text.reversed()), to: folder.path + "/copy/" + raw.path)
        try Self.write("{}", to: folder.path + "/copy/" + archived.path)
        let repaired = try await CLITests.run(["lake", "migrate", "--from", "source", "--to", "copy"], in: folder)
        #expect(repaired.status == 0, "\(repaired.stderr)")
        #expect(
            repaired.stdout
                == Self.summary(
                    copied: 2, bytes: raw.text.utf8.count + archived.text.utf8.count, from: "source", to: "copy", skipped: 2))
        #expect(try Self.files(under: folder.path + "/copy") == Self.files(under: folder.path + "/source"))

        // At the source: a changed object (same size) goes over again; the source stays as it is.
        let rejected = Self.objects[1]
        let changed = String(rejected.text.uppercased())
        try Self.write(changed, to: folder.path + "/source/" + rejected.path)
        let source = try Self.files(under: folder.path + "/source")
        let resent = try await CLITests.run(["lake", "migrate", "--from", "source", "--to", "copy"], in: folder)
        #expect(resent.stdout == Self.summary(copied: 1, bytes: changed.utf8.count, from: "source", to: "copy", skipped: 3))
        #expect(FileManager.default.contents(atPath: folder.path + "/copy/" + rejected.path) == Data(changed.utf8))
        #expect(try Self.files(under: folder.path + "/source") == source)
    }

    @Test func failedObjectsAreListedTheOthersCopiedAndTheExitCodeIs1() async throws {
        let folder = try TemporaryDirectory("cli-migrate")
        defer { folder.remove() }
        try Self.writeLake(at: folder.path + "/source")
        // A folder already stands where two objects must go (one raw, one archived): those two cannot be written.
        let blocked = [Self.objects[0].path, Self.objects[3].path]
        for path in blocked { try Self.write("in the way", to: folder.path + "/copy/" + path + "/obstacle") }

        let outcome = try await CLITests.run(["lake", "migrate", "--from", "source", "--to", "copy"], in: folder)
        #expect(outcome.status == 1)
        let copiedBytes = Self.objects[1].text.utf8.count + Self.objects[2].text.utf8.count
        #expect(outcome.stdout == Self.summary(copied: 2, bytes: copiedBytes, from: "source", to: "copy", skipped: 0))
        let lines = outcome.stderr.split(separator: "\n").map(String.init)
        // One line per failed object, sorted by location, naming it and the reason; then the summary line.
        #expect(lines.count == 3, "\(outcome.stderr)")
        #expect(
            lines.first?.hasPrefix("cryptopipe: error: crypto-archive/2023-12-01/BTCUSDT_depth_1701388800000.json: ") == true,
            "\(outcome.stderr)")
        #expect(lines.count > 1 && lines[1].hasPrefix("cryptopipe: error: crypto-raw/2024-01-01/BTCUSDT_klines_1704067260000.json: "))
        #expect(lines.prefix(2).allSatisfy { $0.contains("Is a directory") }, "\(outcome.stderr)")
        #expect(
            lines.last
                == "cryptopipe: error: 2 objects were not copied (listed above); run the command again to retry them")
        for object in Self.objects[1...2] {
            #expect(FileManager.default.contents(atPath: folder.path + "/copy/" + object.path) == Data(object.text.utf8))
        }

        // Once the obstacles are gone, the same command copies only what failed.
        for path in blocked { try FileManager.default.removeItem(atPath: folder.path + "/copy/" + path) }
        let retried = try await CLITests.run(["lake", "migrate", "--from", "source", "--to", "copy"], in: folder)
        #expect(retried.status == 0, "\(retried.stderr)")
        #expect(
            retried.stdout
                == Self.summary(
                    copied: 2, bytes: Self.totalBytes - copiedBytes, from: "source", to: "copy", skipped: 2))
        #expect(try Self.files(under: folder.path + "/copy") == Self.files(under: folder.path + "/source"))
    }
}

/// `lake migrate` to and from S3 (moto with signature checks, from scripts/test): all three kinds of object, a copy
/// changed in the bucket, and `--s3-create-buckets false`.
@Suite(.enabled(if: S3TestServer.isAvailable, Comment(rawValue: S3TestServer.skipReason)))
struct S3LakeMigratePromiseTests {
    static func environment(archiveBucket: String) throws -> [String: String] {
        let configuration = try #require(S3TestServer.configuration)
        return [
            "CRYPTOPIPE_S3_ENDPOINT": "\(try #require(configuration.endpoint))",
            "CRYPTOPIPE_S3_ACCESS_KEY": configuration.credentials.accessKeyID,
            "CRYPTOPIPE_S3_SECRET_KEY": configuration.credentials.secretAccessKey,
            "CRYPTOPIPE_S3_ARCHIVE_BUCKET": archiveBucket, "CRYPTOPIPE_LOG_LEVEL": "critical",
        ]
    }

    @Test func rawRejectedAndArchivedObjectsRoundTripAndAChangedCopyInTheBucketIsReplaced() async throws {
        let folder = try TemporaryDirectory("cli-migrate-s3")
        defer { folder.remove() }
        try LakeMigratePromiseTests.writeLake(at: folder.path + "/source")
        let prefix = S3TestServer.uniqueBucketPrefix()
        let env = try Self.environment(archiveBucket: prefix + "crypto-archive")
        let lake = "s3://\(prefix)crypto-raw"
        let total = LakeMigratePromiseTests.totalBytes

        // The buckets exist (their creation is another test's subject).
        let store = S3ObjectStore(configuration: try #require(S3TestServer.configuration))
        try await store.createBucket(prefix + "crypto-raw")
        try await store.createBucket(prefix + "crypto-archive")
        let up = try await CLITests.run(["lake", "migrate", "--from", "source", "--to", lake], environment: env, in: folder)
        #expect(up.status == 0, "\(up.stderr)")
        #expect(up.stdout == LakeMigratePromiseTests.summary(copied: 4, bytes: total, from: "source", to: lake, skipped: 0))

        // Someone changes a copy in the bucket (same size): the next run notices by MD5 and puts it back.
        let raw = LakeMigratePromiseTests.objects[0]
        try await store.put(
            bucket: prefix + "crypto-raw", key: String(raw.path.dropFirst("crypto-raw/".count)),
            bytes: Array(String(raw.text.reversed()).utf8))
        let repaired = try await CLITests.run(["lake", "migrate", "--from", "source", "--to", lake], environment: env, in: folder)
        #expect(repaired.status == 0, "\(repaired.stderr)")
        #expect(
            repaired.stdout
                == LakeMigratePromiseTests.summary(copied: 1, bytes: raw.text.utf8.count, from: "source", to: lake, skipped: 3))

        // And back into a folder: the same files, byte for byte, in the same buckets.
        let down = try await CLITests.run(["lake", "migrate", "--from", lake, "--to", "back"], environment: env, in: folder)
        #expect(down.status == 0, "\(down.stderr)")
        #expect(down.stdout == LakeMigratePromiseTests.summary(copied: 4, bytes: total, from: lake, to: "back", skipped: 0))
        #expect(
            try LakeMigratePromiseTests.files(under: folder.path + "/back") == LakeMigratePromiseTests.files(under: folder.path + "/source")
        )
    }

    @Test func withoutBucketCreationEveryObjectFailsOnTheMissingBucket() async throws {
        let folder = try TemporaryDirectory("cli-migrate-s3")
        defer { folder.remove() }
        try LakeMigratePromiseTests.writeLake(at: folder.path + "/source")
        let prefix = S3TestServer.uniqueBucketPrefix()
        var env = try Self.environment(archiveBucket: prefix + "crypto-archive")
        let lake = "s3://\(prefix)crypto-raw"

        // The flag, and the same through the environment.
        let variants: [([String], [String: String])] = [
            (["--s3-create-buckets", "false"], [:]), ([], ["CRYPTOPIPE_S3_CREATE_BUCKETS": "false"]),
        ]
        for (arguments, extra) in variants {
            env.merge(extra) { $1 }
            let refused = try await CLITests.run(
                ["lake", "migrate", "--from", "source", "--to", lake] + arguments, environment: env, in: folder)
            #expect(refused.status == 1)
            #expect(refused.stdout == LakeMigratePromiseTests.summary(copied: 0, bytes: 0, from: "source", to: lake, skipped: 0))
            let lines = refused.stderr.split(separator: "\n").map(String.init)
            #expect(lines.count == 5, "\(refused.stderr)")
            let failed = lines.dropLast().compactMap { $0.split(separator: ": ", maxSplits: 3).dropFirst(2).first.map(String.init) }
            #expect(
                failed == [
                    "\(prefix)crypto-archive/2023-12-01/BTCUSDT_depth_1701388800000.json",
                    "\(prefix)crypto-raw/2024-01-01/BTCUSDT_klines_1704067260000.json",
                    "\(prefix)crypto-raw/_rejected/2024-01-01/ETHUSDT_depth_1704067320000.json",
                    "\(prefix)crypto-raw/_rejected/2024-01-01/ETHUSDT_depth_1704067320000.json.reason.txt",
                ], "\(refused.stderr)")
            #expect(lines.dropLast().allSatisfy { $0.contains("NoSuchBucket") }, "\(refused.stderr)")
            #expect(lines.last == "cryptopipe: error: 4 objects were not copied (listed above); run the command again to retry them")
        }
        // Refused means not created: neither bucket exists yet.
        var probing = try #require(S3TestServer.configuration)
        probing.createBuckets = false
        let store = S3ObjectStore(configuration: probing)
        for bucket in ["crypto-raw", "crypto-archive"] {
            let error = await Self.copyError(store, bucket: prefix + bucket)
            #expect(error?.contains("NoSuchBucket") == true, "\(bucket): \(error ?? "exists")")
        }

        // By default the buckets are created on the first write.
        env["CRYPTOPIPE_S3_CREATE_BUCKETS"] = nil
        let created = try await CLITests.run(["lake", "migrate", "--from", "source", "--to", lake], environment: env, in: folder)
        #expect(created.status == 0, "\(created.stderr)")
        #expect(
            created.stdout
                == LakeMigratePromiseTests.summary(
                    copied: 4, bytes: LakeMigratePromiseTests.totalBytes, from: "source", to: lake, skipped: 0))
        // Both buckets exist now, and a rerun leaves every object in place.
        let rerun = try await CLITests.run(["lake", "migrate", "--from", "source", "--to", lake], environment: env, in: folder)
        #expect(rerun.status == 0, "\(rerun.stderr)")
        #expect(try await store.list(bucket: prefix + "crypto-raw", prefix: "").count == 3)
        #expect(try await store.list(bucket: prefix + "crypto-archive", prefix: "").count == 1)
    }

    /// The error a copy inside `bucket` gives (`NoSuchBucket` when it does not exist; listing a missing bucket is just
    /// empty), or `nil` when it succeeds.
    static func copyError(_ store: S3ObjectStore, bucket: String) async -> String? {
        do {
            try await store.copy(
                from: ObjectLocation(bucket: bucket, key: "missing.json"), to: ObjectLocation(bucket: bucket, key: "copy.json"))
            return nil
        } catch {
            return "\(error)"
        }
    }
}

/// `cryptopipe gaps --fill` when the exchange cannot deliver: the gap stays open, is reported, and the exit code is 1.
struct GapFillPromiseTests {
    @Test(.timeLimit(.minutes(5)))
    func aGapWhoseFetchFailsStaysOpenIsReportedAndExits1() async throws {
        let folder = try TemporaryDirectory("cli-gaps")
        defer { folder.remove() }
        let symbol = try Symbol("BTCUSDT")
        let day: Int64 = 1_704_067_200_000  // 2024-01-01
        // An exchange whose clock stands at 2024-01-02 00:00, so the whole first day is history it can serve.
        let exchange = SimulatedExchange(
            configuration: .init(seed: 4, symbols: [symbol], historyMinutes: 2_880, clock: PipelineClock { day + 86_400_000 }))
        let candles = (0..<1_440).compactMap { exchange.market.minuteCandle(symbol, minuteOpen: day + Int64($0) * 60_000) }
        try #require(candles.count == 1_440)
        // 10:00-10:59 are missing from the dump.
        try FileManager.default.createDirectory(atPath: folder.path + "/dumps", withIntermediateDirectories: true)
        try DumpWriter.writeZip(
            candles.filter { !(600..<660).contains(($0.openTime - day) / 60_000) }, symbol: symbol, name: "2024-01-01",
            into: folder.path + "/dumps")
        let imported = try await CLITests.run(["import", "dumps", "--log-level", "critical"], in: folder)
        #expect(imported.status == 0, "\(imported.stderr)")

        let healthy = Mutex(false)
        let server = try LoopbackHTTPServer { request in
            if healthy.withLock({ $0 }) { return LoopbackHTTPServer.simulated(exchange, request) }
            return LoopbackHTTPServer.Answer(
                503, headers: [("Content-Type", "application/json")],
                text: #"{"code":-1001,"msg":"Internal error; unable to process your request. Please try again."}"#)
        }
        defer { server.stop() }
        let env = ["CRYPTOPIPE_EXCHANGE_URL": "http://127.0.0.1:\(server.port)", "CRYPTOPIPE_LOG_LEVEL": "critical"]
        let gapRow = ["BTCUSDT", "2024-01-01T10:00:00.000Z", "2024-01-01T10:59:00.000Z", "60"]

        let failed = try await CLITests.run(["gaps", "--fill"], environment: env, in: folder)
        #expect(failed.status == 1)
        let out = failed.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }
        #expect(failed.stdout.hasPrefix("fetched 0 candles in 0 requests; 0 gaps filled, 0 ranges the exchange has no data for\n"))
        #expect(
            out.count == 3 && out[1] == ["SYMBOL", "FROM", "TO", "MINUTES", "STATUS"] && out[2] == gapRow + ["open"], "\(failed.stdout)")
        let errors = failed.stderr.split(separator: "\n").map(String.init)
        #expect(errors.count == 2, "\(failed.stderr)")
        #expect(
            errors.first?.hasPrefix("cryptopipe: error: BTCUSDT 2024-01-01T10:00:00.000Z…2024-01-01T10:59:00.000Z: ") == true
                && errors.first?.contains("HTTP 503") == true, "\(failed.stderr)")
        #expect(errors.last == "cryptopipe: error: 1 gaps could not be fetched (see above); they stay open for the next --fill")
        // The range was asked for (retried as a 5xx is), never marked as something the exchange does not have.
        let asked = server.requests.filter { $0.path == "/api/v3/klines" }
        #expect(asked.count == 4 && asked.allSatisfy { $0.query["startTime"] == String(day + 600 * 60_000) }, "\(asked.map(\.target))")

        let listed = try await CLITests.run(["gaps"], environment: env, in: folder)
        #expect(listed.status == 0)
        #expect(listed.stdout.split(separator: "\n").last?.split(separator: " ").map(String.init) == gapRow + ["open"])

        // The exchange is back: the same command fills the gap that stayed open.
        healthy.withLock { $0 = true }
        let filled = try await CLITests.run(["gaps", "--fill"], environment: env, in: folder)
        #expect(filled.status == 0, "\(filled.stderr)")
        #expect(filled.stdout.hasPrefix("fetched 60 candles in 1 requests; 1 gaps filled, 0 ranges the exchange has no data for\n"))
        #expect(filled.stdout.split(separator: "\n").last?.split(separator: " ").map(String.init) == gapRow + ["filled"])
        let csv = try await CLITests.run(["export", "--symbol", "BTCUSDT"], environment: env, in: folder)
        let rows = try csv.stdout.split(separator: "\n").map { row in
            try Array(row.utf8).withUnsafeBufferPointer { try KlineCSV.parseRow($0) }
        }
        #expect(rows == candles)
    }
}

/// `cryptopipe run`: the planned order-book cadence, SIGINT during a job, and `/api/health` of the running process.
struct RunPromiseTests {
    static let symbols = "BTCUSDT,ETHUSDT"

    /// Depth objects the lake holds, oldest first, as (symbol, epoch ms).
    static func depthObjects(in folder: TemporaryDirectory) throws -> [(symbol: String, time: Int64)] {
        try FileManager.default.subpathsOfDirectory(atPath: folder.path + "/data/lake/crypto-raw").compactMap { path in
            let name = (path as NSString).lastPathComponent
            guard name.hasSuffix(".json"), name.contains("_depth_") else { return nil }
            let parts = name.dropLast(".json".count).split(separator: "_")
            return (String(parts[0]), Int64(parts[2]) ?? 0)
        }.sorted { $0.time < $1.time }
    }

    @Test(.timeLimit(.minutes(5)))
    func aBudgetThatCannotCarryEveryOrderBookEveryCycleStretchesThemAndSaysSo() async throws {
        let exchange = SimulatedExchange(
            configuration: .init(seed: 9, symbols: [try Symbol("BTCUSDT"), try Symbol("ETHUSDT")], historyMinutes: 300))
        try await SimulatorServer.withRunning(exchange) { baseURL in
            let env = ["CRYPTOPIPE_EXCHANGE_URL": baseURL, "CRYPTOPIPE_SYMBOLS": Self.symbols, "CRYPTOPIPE_LOG_LEVEL": "critical"]
            let arguments = [
                "run", "--source", "rest", "--cycles", "4", "--every", "1", "--http-port", "0", "--weight-budget", "100",
                "--initial-candles", "5",
            ]

            // 2 symbols every second: k-lines 2×2×60 = 240 weight/min; books of 1000 levels (weight 50) every cycle would
            // need 6000, more than the 80 % of 6000 left over: every second cycle, one symbol's book per cycle.
            let stretchedFolder = try TemporaryDirectory("cli-plan")
            defer { stretchedFolder.remove() }
            let stretched = try await CLITests.run(arguments + ["--depth-limit", "1000"], environment: env, in: stretchedFolder)
            #expect(stretched.status == 0, "\(stretched.stderr)")
            let lines = stretched.stdout.split(separator: "\n").map(String.init)
            #expect(
                lines.contains(
                    "plan: 2 symbols every 1 s need 3240 weight/min (k-lines 240, order books 3000) of a budget of 6000/min; "
                        + "order books (limit 1000) stretched to every 2 s per symbol"), "\(stretched.stdout)")
            let cycles = lines.filter { $0.hasPrefix("cycle ") }
            #expect(cycles.count == 4 && cycles.allSatisfy { $0.hasSuffix("; order books every 2 s") }, "\(stretched.stdout)")
            let books = try Self.depthObjects(in: stretchedFolder)
            // One book per cycle, the symbols taking turns.
            #expect(books.map(\.symbol) == ["ETHUSDT", "BTCUSDT", "ETHUSDT", "BTCUSDT"], "\(books)")

            // The same with books of 100 levels (weight 5): 840 weight/min fits, so every book every cycle.
            let everyFolder = try TemporaryDirectory("cli-plan")
            defer { everyFolder.remove() }
            let every = try await CLITests.run(arguments + ["--depth-limit", "100"], environment: env, in: everyFolder)
            #expect(every.status == 0, "\(every.stderr)")
            #expect(
                every.stdout.contains(
                    "plan: 2 symbols every 1 s need 840 weight/min (k-lines 240, order books 600) of a budget of 6000/min; "
                        + "order books every cycle\n"), "\(every.stdout)")
            #expect(!every.stdout.contains("; order books every 2 s"))
            #expect(try Self.depthObjects(in: everyFolder).count == 8)
        }
    }

    @Test(.timeLimit(.minutes(5)))
    func sigintLetsTheRunningJobFinishThenTheProcessExits0() async throws {
        let folder = try TemporaryDirectory("cli-sigint")
        defer { folder.remove() }
        let exchange = SimulatedExchange(configuration: .init(seed: 6, symbols: [try Symbol("BTCUSDT")], historyMinutes: 300))
        let (arrivals, arrival) = AsyncStream.makeStream(of: Void.self)
        let gate = DispatchSemaphore(value: 0)
        let holding = Mutex(true)
        // Every k-line request is held until the test lets them go: the job is then in progress for certain, even when a
        // slow machine makes the client time out and ask again.
        let server = try LoopbackHTTPServer { request in
            if request.path == "/api/v3/klines", holding.withLock({ $0 }) {
                arrival.yield()
                gate.wait()
            }
            return LoopbackHTTPServer.simulated(exchange, request)
        }
        @Sendable func release() {
            holding.withLock { $0 = false }
            for _ in 0..<64 { gate.signal() }
        }
        defer {
            release()
            server.stop()
        }
        let child = try ChildCLI(
            ["run", "--source", "rest", "--every", "60", "--http-port", "0", "--initial-candles", "20"],
            environment: [
                "CRYPTOPIPE_EXCHANGE_URL": "http://127.0.0.1:\(server.port)", "CRYPTOPIPE_SYMBOLS": "BTCUSDT",
                "CRYPTOPIPE_LOG_LEVEL": "debug",
            ], in: folder)
        defer { child.terminateIfRunning() }
        var lines = child.lines.makeAsyncIterator()
        for await _ in arrivals { break }
        child.interrupt()
        let caught = await ChildCLI.next(&lines) { $0.stream == .stderr && $0.text.contains("Signal caught.") }
        #expect(caught != nil, "the process never logged the signal")
        release()
        let outcome = await child.finish()

        #expect(outcome.status == 0, "\(outcome.stderr.suffix(2_000))")
        let log = outcome.stderr.split(separator: "\n").map(String.init)
        // The signal started a graceful shutdown (not a cancellation), and the job finished after it.
        let signalled = log.firstIndex { $0.contains("Signal caught. Shutting down the group.") }
        #expect(signalled != nil, "\(log.filter { $0.contains("Signal caught") })")
        let finished = log.indices.filter { log[$0].contains("job finished") }
        #expect(finished.count == 1, "\(finished.map { log[$0] })")
        let line = finished.first.map { log[$0] } ?? ""
        #expect(finished.first.map { $0 > (signalled ?? log.count) } == true)
        #expect(line.contains("job=extract-transform") && line.contains("status=succeeded"), "\(line)")
        #expect(log.contains { $0.contains("scheduler stopped") })
        let cycles = outcome.stdout.split(separator: "\n").filter { $0.hasPrefix("cycle ") }
        #expect(cycles.count == 1 && cycles.first?.contains("for 1 symbols; loaded 2 lake objects") == true, "\(outcome.stdout)")

        // The run is in the ingestion log as finished and succeeded.
        let serve = try ChildCLI(["serve", "--http-port", "0"], environment: ["CRYPTOPIPE_LOG_LEVEL": "critical"], in: folder)
        defer { serve.terminateIfRunning() }
        var serveLines = serve.lines.makeAsyncIterator()
        let port = try #require(await ChildCLI.apiPort(&serveLines))
        let reply = try await LoopbackHTTPServer.get(port: port, path: "/api/ingestion/logs?job=extract-transform")
        let runs = try #require(
            (try JSONSerialization.jsonObject(with: Data(reply.body.utf8)) as? [String: Any])?["runs"] as? [[String: Any]])
        #expect(runs.count == 1 && runs.first?["status"] as? String == "succeeded" && runs.first?["finished_at"] is Int, "\(reply.body)")
        serve.interrupt()
        #expect(await serve.finish().status == 0)
    }

    /// Starts `run` against an exchange that answers every request with `answer`, waits for the first cycle, and
    /// returns `/api/health` and `/metrics` of the running process.
    static func healthOfARun(
        exchange answer: @escaping @Sendable (LoopbackHTTPServer.Request) -> LoopbackHTTPServer.Answer
    ) async throws -> (health: LoopbackHTTPServer.Reply, metrics: LoopbackHTTPServer.Reply, stdout: String) {
        let folder = try TemporaryDirectory("cli-health")
        defer { folder.remove() }
        let server = try LoopbackHTTPServer(answer)
        defer { server.stop() }
        let child = try ChildCLI(
            ["run", "--source", "rest", "--every", "60", "--http-port", "0"],
            environment: ["CRYPTOPIPE_EXCHANGE_URL": "http://127.0.0.1:\(server.port)", "CRYPTOPIPE_LOG_LEVEL": "critical"], in: folder)
        defer { child.terminateIfRunning() }
        // The API's port and the end of the first cycle, in whichever order they are printed.
        var port: Int?
        var cycled = false
        var lines = child.lines.makeAsyncIterator()
        while port == nil || !cycled, let line = await lines.next() {
            guard line.stream == .stdout else { continue }
            port = port ?? ChildCLI.apiPort(line.text)
            cycled = cycled || line.text.hasPrefix("cycle 1:")
        }
        let api = try #require(port, "the API never said where it listens")
        try #require(cycled, "the first cycle never ended")
        let health = try await LoopbackHTTPServer.get(port: api, path: "/api/health")
        let metrics = try await LoopbackHTTPServer.get(port: api, path: "/metrics")
        child.interrupt()
        let outcome = await child.finish()
        #expect(outcome.status == 0, "\(outcome.stderr)")
        return (health, metrics, outcome.stdout)
    }

    static func components(_ reply: LoopbackHTTPServer.Reply) -> [String: [String: Any]] {
        let json = (try? JSONSerialization.jsonObject(with: Data(reply.body.utf8))) as? [String: Any]
        return json?["components"] as? [String: [String: Any]] ?? [:]
    }

    static func status(_ reply: LoopbackHTTPServer.Reply) -> String? {
        ((try? JSONSerialization.jsonObject(with: Data(reply.body.utf8))) as? [String: Any])?["status"] as? String
    }

    static func metric(_ name: String, in reply: LoopbackHTTPServer.Reply) -> Double? {
        reply.body.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.split(separator: " ")[1]) }
    }

    @Test(.timeLimit(.minutes(5)))
    func healthIs503AndMetricsShowTheBanWhileTheExchangeBansThisIP() async throws {
        let (health, metrics, _) = try await Self.healthOfARun { _ in
            LoopbackHTTPServer.Answer(
                418, headers: [("Content-Type", "application/json"), ("Retry-After", "600")],
                text: #"{"code":-1003,"msg":"Way too much request weight used; IP banned."}"#)
        }
        #expect(health.status == 503 && Self.status(health) == "down", "\(health.body)")
        let components = Self.components(health)
        #expect(components["exchange"]?["status"] as? String == "down", "\(health.body)")
        #expect((components["exchange"]?["detail"] as? String)?.hasPrefix("IP banned by the exchange (HTTP 418) until ") == true)
        #expect(components["warehouse"]?["status"] as? String == "ok" && components["lake"]?["status"] as? String == "ok")
        #expect(metrics.status == 200)
        #expect(Self.metric("cryptopipe_exchange_banned", in: metrics) == 1, "\(metrics.body)")
    }

    @Test(.timeLimit(.minutes(5)))
    func healthIs503WhenTheExchangeIsDownAndNoBanIsShown() async throws {
        let (health, metrics, _) = try await Self.healthOfARun { _ in
            LoopbackHTTPServer.Answer(502, headers: [("Content-Type", "text/html")], text: "<html>Bad Gateway</html>")
        }
        #expect(health.status == 503 && Self.status(health) == "down", "\(health.body)")
        let components = Self.components(health)
        #expect(components["exchange"]?["status"] as? String == "down", "\(health.body)")
        #expect(components["warehouse"]?["status"] as? String == "ok" && components["lake"]?["status"] as? String == "ok")
        #expect(Self.metric("cryptopipe_exchange_banned", in: metrics) == 0, "\(metrics.body)")
    }
}

/// The S3 options read from AWS's own variables when CryptoPipe's are not set: `AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_ENDPOINT_URL_S3` and `AWS_ENDPOINT_URL`. A recording server stands
/// in for S3, and each request's signature is checked as S3 would check it.
struct S3EnvironmentPromiseTests {
    static let emptyListing = LoopbackHTTPServer.Answer(
        200, headers: [("Content-Type", "application/xml")],
        text:
            #"<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><IsTruncated>false</IsTruncated><KeyCount>0</KeyCount></ListBucketResult>"#
    )

    static func recorder() throws -> LoopbackHTTPServer {
        try LoopbackHTTPServer { request in
            request.method == "GET" ? emptyListing : LoopbackHTTPServer.Answer(405, text: "")
        }
    }

    @Test func awsKeysSessionTokenAndEndpointAreUsedWhenCryptoPipesOwnAreNotSet() async throws {
        let folder = try TemporaryDirectory("cli-aws-env")
        defer { folder.remove() }
        let server = try Self.recorder()
        defer { server.stop() }
        let credentials = S3Credentials(
            accessKeyID: "AKIDFROMAWSVARIABLES", secretAccessKey: "aws-secret-never-printed", sessionToken: "session-token-from-sts")
        let env = [
            "AWS_ACCESS_KEY_ID": credentials.accessKeyID, "AWS_SECRET_ACCESS_KEY": credentials.secretAccessKey,
            "AWS_SESSION_TOKEN": credentials.sessionToken ?? "", "AWS_ENDPOINT_URL": "http://127.0.0.1:\(server.port)",
            "CRYPTOPIPE_LOG_LEVEL": "critical",
        ]
        let status = try await CLITests.run(["status", "--lake", "s3://crypto-raw"], environment: env, in: folder)
        #expect(status.status == 0, "\(status.stderr)")
        #expect(status.stdout.contains("lake bucket crypto-raw: 0 objects"), "\(status.stdout)")
        #expect(!(status.stdout + status.stderr).contains(credentials.secretAccessKey))
        #expect(!(status.stdout + status.stderr).contains("session-token-from-sts"))

        let requests = server.requests
        // One listing per bucket, path-style at the endpoint from AWS_ENDPOINT_URL.
        #expect(Set(requests.map(\.path)) == ["/crypto-raw", "/crypto-archive"], "\(requests.map(\.target))")
        for request in requests {
            #expect(request.headers["host"] == "127.0.0.1:\(server.port)")
            #expect(request.headers["x-amz-security-token"] == "session-token-from-sts")
            #expect(request.headers["authorization"]?.contains("Credential=AKIDFROMAWSVARIABLES/") == true)
            #expect(request.headers["authorization"]?.contains("x-amz-security-token") == true, "the token is not signed")
            #expect(request.isSigned(by: credentials), "\(request.headers)")
        }
    }

    @Test func cryptoPipesVariablesWinOverAWSAndTheS3EndpointOverTheGeneralOne() async throws {
        let folder = try TemporaryDirectory("cli-aws-env")
        defer { folder.remove() }
        let specific = try Self.recorder()
        defer { specific.stop() }
        let general = try Self.recorder()
        defer { general.stop() }
        let ours = S3Credentials(accessKeyID: "AKIDCRYPTOPIPE", secretAccessKey: "cryptopipe-secret")
        var env = [
            "CRYPTOPIPE_S3_ACCESS_KEY": ours.accessKeyID, "CRYPTOPIPE_S3_SECRET_KEY": ours.secretAccessKey,
            "AWS_ACCESS_KEY_ID": "AKIDAWS", "AWS_SECRET_ACCESS_KEY": "aws-secret", "AWS_SESSION_TOKEN": "aws-token",
            "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:\(specific.port)", "AWS_ENDPOINT_URL": "http://127.0.0.1:\(general.port)",
            "CRYPTOPIPE_LOG_LEVEL": "critical",
        ]
        let first = try await CLITests.run(["status", "--lake", "s3://crypto-raw"], environment: env, in: folder)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(specific.requests.count == 2 && general.requests.isEmpty)
        for request in specific.requests {
            #expect(request.headers["authorization"]?.contains("Credential=AKIDCRYPTOPIPE/") == true)
            // The session token belongs to the AWS keys, so it is not sent with CryptoPipe's own.
            #expect(request.headers["x-amz-security-token"] == nil)
            #expect(request.isSigned(by: ours))
        }

        // Without AWS_ENDPOINT_URL_S3 the general one is used; CRYPTOPIPE_S3_ENDPOINT wins over both.
        env["AWS_ENDPOINT_URL_S3"] = nil
        let second = try await CLITests.run(["status", "--lake", "s3://crypto-raw"], environment: env, in: folder)
        #expect(second.status == 0 && general.requests.count == 2 && specific.requests.count == 2)
        env["CRYPTOPIPE_S3_ENDPOINT"] = "http://127.0.0.1:\(specific.port)"
        let third = try await CLITests.run(["status", "--lake", "s3://crypto-raw"], environment: env, in: folder)
        #expect(third.status == 0 && general.requests.count == 2 && specific.requests.count == 4)
    }
}

// MARK: - Helpers

/// A `cryptopipe` child whose output is read line by line while it runs, so a test can wait for what it prints.
/// It gets only the environment the test gives it.
final class ChildCLI: Sendable {
    enum Stream: Sendable { case stdout, stderr }
    typealias Line = (stream: Stream, text: String)

    let process: Process
    let lines: AsyncStream<Line>
    private let exits: AsyncStream<Int32>
    private let drained: AsyncStream<Void>
    private let output = Mutex<(stdout: Data, stderr: Data)>((Data(), Data()))

    init(_ arguments: [String], environment: [String: String], in folder: TemporaryDirectory) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CLITests.binary)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: folder.path)
        process.environment = environment
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let (lines, lineSink) = AsyncStream.makeStream(of: Line.self)
        let (exits, exitSink) = AsyncStream.makeStream(of: Int32.self)
        let (drained, drainedSink) = AsyncStream.makeStream(of: Void.self)
        process.terminationHandler = { finished in
            exitSink.yield(finished.terminationStatus)
            exitSink.finish()
        }
        self.process = process
        self.lines = lines
        self.exits = exits
        self.drained = drained
        try process.run()
        let readers = DispatchGroup()
        for (stream, handle) in [(Stream.stdout, out.fileHandleForReading), (.stderr, err.fileHandleForReading)] {
            readers.enter()
            // The reads block, so they run on GCD threads rather than Swift's small cooperative pool.
            DispatchQueue.global().async { [self] in
                var pending = Data()
                while true {
                    let chunk = handle.availableData
                    if chunk.isEmpty { break }
                    output.withLock { output in
                        if stream == .stdout { output.stdout.append(chunk) } else { output.stderr.append(chunk) }
                    }
                    pending.append(chunk)
                    while let newline = pending.firstIndex(of: 10) {
                        lineSink.yield((stream, String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)))
                        pending.removeSubrange(pending.startIndex...newline)
                    }
                }
                if !pending.isEmpty { lineSink.yield((stream, String(decoding: pending, as: UTF8.self))) }
                readers.leave()
            }
        }
        readers.notify(queue: .global()) {
            lineSink.finish()
            drainedSink.finish()
        }
    }

    func interrupt() { process.interrupt() }

    /// Standard output so far.
    var stdout: String { output.withLock { String(decoding: $0.stdout, as: UTF8.self) } }

    /// SIGTERM, unless the child already ended.
    func terminateIfRunning() {
        if process.isRunning { process.terminate() }
    }

    /// Waits for the exit and the end of both outputs.
    func finish() async -> CLITests.Outcome {
        var status: Int32 = -1
        for await code in exits { status = code }
        for await _ in drained {}
        let (stdout, stderr) = output.withLock { ($0.stdout, $0.stderr) }
        return CLITests.Outcome(
            status: status, stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
    }

    /// The next line matching `predicate`, or `nil` when the process ended without printing one.
    static func next(_ lines: inout AsyncStream<Line>.Iterator, where predicate: (Line) -> Bool) async -> String? {
        while let line = await lines.next() {
            if predicate(line) { return line.text }
        }
        return nil
    }

    /// The port from `serving the API on http://127.0.0.1:PORT/api/health …`.
    static func apiPort(_ lines: inout AsyncStream<Line>.Iterator) async -> Int? {
        let line = await next(&lines) { $0.stream == .stdout && apiPort($0.text) != nil }
        return line.flatMap(apiPort)
    }

    static func apiPort(_ line: String) -> Int? {
        let prefix = "serving the API on http://"
        guard line.hasPrefix(prefix) else { return nil }
        return line.dropFirst(prefix.count).prefix { $0 != "/" }.split(separator: ":").last.flatMap { Int($0) }
    }
}

extension LoopbackHTTPServer {
    /// The simulated exchange's answer to `request`, with Binance's weight and `Retry-After` headers.
    static func simulated(_ exchange: SimulatedExchange, _ request: Request) -> Answer {
        let reply = exchange.handle(path: request.path, query: request.query)
        var headers = [("Content-Type", "application/json"), ("X-MBX-USED-WEIGHT-1M", String(reply.usedWeight))]
        if let seconds = reply.retryAfterSeconds { headers.append(("Retry-After", String(seconds))) }
        return Answer(reply.status, headers: headers, body: reply.body)
    }
}

/// `export --interval` of every interval, from a warehouse whose minutes are gone.
struct IntervalExportPromiseTests {
    /// 40 days of 2024 minutes, imported and then past the 90-day retention: 4h, 1w and 1M candles still come from the
    /// hourly and daily roll-ups, equal to the exchange's own candles of those minutes.
    @Test func exportsOfHoursAndLongerOutliveTheMinutesRetention() async throws {
        let folder = try TemporaryDirectory("cli")
        defer { folder.remove() }
        let symbol = try Symbol("BTCUSDT")
        let minutes = WarehouseConformance.intervalMinutes()
        try FileManager.default.createDirectory(atPath: folder.path + "/dumps", withIntermediateDirectories: true)
        _ = try DumpWriter.writeZip(minutes, symbol: symbol, name: "2024-01-25", into: folder.path + "/dumps")
        let quiet = ["CRYPTOPIPE_LOG_LEVEL": "critical"]
        let imported = try await CLITests.run(["import", "dumps"], environment: quiet, in: folder)
        #expect(imported.status == 0, "\(imported.stderr)")
        let maintained = try await CLITests.run(["maintain"], environment: quiet, in: folder)
        #expect(maintained.status == 0, "\(maintained.stderr)")
        let minuteExport = try await CLITests.run(["export", "--symbol", "BTCUSDT"], in: folder)
        #expect(minuteExport.status == 0 && minuteExport.stdout.isEmpty, "minutes outlived the retention")
        let market = ReplayMarket(candles: [symbol: minutes])
        let end: Int64 = 1_709_596_800_000  // 2024-03-05, after the last minute
        for interval in [Interval.fourHours, .oneWeek, .oneMonth] {
            let exported = try await CLITests.run(["export", "--symbol", "BTCUSDT", "--interval", interval.rawValue], in: folder)
            #expect(exported.status == 0, "\(exported.stderr)")
            let rows = try exported.stdout.split(separator: "\n").map { row in
                try Array(row.utf8).withUnsafeBufferPointer { try KlineCSV.parseRow($0) }
            }
            // Closed candles only, as export writes by default.
            let expected = market.klines(
                symbol, interval: interval, startTime: interval.openTime(containing: minutes[0].openTime), endTime: .max, now: .max,
                limit: .max
            ).filter { interval.nextOpenTime(after: $0.openTime) <= end }
            #expect(!rows.isEmpty && rows == expected, "\(interval): \(rows.count) rows, \(expected.count) expected")
        }
    }
}

/// `run` on MySQL when the server goes away: a SIGTERM ends the process promptly instead of after the retry window.
@Suite(.enabled(if: PrivateMariaDB.canLaunch, Comment(rawValue: PrivateMariaDB.skipReason)))
struct MySQLShutdownPromiseTests {
    @Test func sigtermDuringAMySQLOutageEndsRunWithinTwoSeconds() async throws {
        let server = try await PrivateMariaDB.launch()
        let folder = try TemporaryDirectory("cli-mysql-outage")
        defer { folder.remove() }
        let database = server.configuration
        let exchange = SimulatedExchange(configuration: .init(seed: 12, symbols: [try Symbol("BTCUSDT")], historyMinutes: 200))
        try await SimulatorServer.withRunning(exchange) { baseURL in
            let env = [
                "CRYPTOPIPE_EXCHANGE_URL": baseURL, "CRYPTOPIPE_SYMBOLS": "BTCUSDT", "CRYPTOPIPE_LOG_LEVEL": "notice",
                "CRYPTOPIPE_WAREHOUSE": "mysql://\(database.user)@127.0.0.1:\(database.port)/\(database.database)",
                "CRYPTOPIPE_MYSQL_PASSWORD": database.password ?? "",
            ]
            let child = try ChildCLI(
                ["run", "--source", "rest", "--every", "1", "--http-port", "0", "--initial-candles", "10"],
                environment: CLITests.childEnvironment(env, in: folder), in: folder)
            defer { child.terminateIfRunning() }
            var lines = child.lines.makeAsyncIterator()
            let cycled = await ChildCLI.next(&lines) { $0.stream == .stdout && $0.text.hasPrefix("cycle 1:") }
            try #require(cycled != nil, "run ended before its first cycle")
            await server.shutDown()
            // The next cycle meets the outage: the warehouse says it is retrying (for up to 60 s by default).
            let retrying = await ChildCLI.next(&lines) { $0.stream == .stderr && $0.text.contains("MySQL server unreachable; retrying") }
            try #require(retrying != nil, "run ended without meeting the outage")
            let signalled = ContinuousClock.now
            child.terminateIfRunning()  // SIGTERM, as a service manager stops it
            let outcome = await child.finish()
            let took = ContinuousClock.now - signalled
            // Well under the 60 s the warehouse would go on retrying (a loaded machine takes a while to stop a process).
            #expect(took < .seconds(20), "run took \(took) to end after SIGTERM: \(outcome.stderr.suffix(600))")
            // A graceful stop; the job that was retrying (extract-transform or gap-fill) is logged as failed, with why.
            #expect(outcome.status == 0, "\(outcome.stderr.suffix(600))")
            let logged = outcome.stderr.split(separator: "\n")
            #expect(logged.contains { $0.contains("not retried any more") }, "\(outcome.stderr)")
            // The outage met the job itself, or its record of finishing (that run is marked failed at the next start).
            let failed = logged.contains {
                ($0.contains("job finished") && $0.contains("status=failed")) || $0.contains("cannot record the end of a job run")
            }
            #expect(failed, "\(outcome.stderr.suffix(1_000))")
            #expect(!outcome.stderr.contains(database.password ?? "-"))
        }
    }
}
