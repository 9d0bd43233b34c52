import ExchangeSimulator
import Foundation
import MarketData
import PipelineTesting
import PipelineTestingMySQL
import Synchronization
import Testing

/// Runs the built `cryptopipe` binary as a user would, checking exit codes, stdout and stderr.
struct CLITests {
    struct Outcome {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static var binary: String {
        let folder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let candidates = [folder, Bundle.main.bundleURL, Bundle.main.bundleURL.deletingLastPathComponent()].map {
            $0.appendingPathComponent("cryptopipe").path
        }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates[0]
    }

    static func run(
        _ arguments: [String], environment: [String: String] = [:], in folder: TemporaryDirectory
    ) async throws -> Outcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: folder.path)
        process.environment = Self.childEnvironment(environment, in: folder)
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        // Read both pipes concurrently so a chatty child never blocks on a full pipe. The reads block,
        // so they run on GCD threads: blocking Swift's small cooperative pool would starve the in-process simulator.
        async let stdout = Self.readToEnd(out.fileHandleForReading)
        async let stderr = Self.readToEnd(err.fileHandleForReading)
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do { try process.run() } catch { continuation.resume(throwing: error) }
        }
        return Outcome(
            status: status, stdout: String(decoding: await stdout, as: UTF8.self), stderr: String(decoding: await stderr, as: UTF8.self))
    }

    /// A child's whole environment: what a process needs to start (PATH, TMPDIR, the loader's path), HOME set to the
    /// test's folder and a fixed locale, plus what the test sets. Nothing else of the parent's comes through: no
    /// `AWS_*` credentials or endpoints (which the S3 options fall back to) and no `CRYPTOPIPE_*` settings.
    static func childEnvironment(_ environment: [String: String], in folder: TemporaryDirectory) -> [String: String] {
        var env = ProcessInfo.processInfo.environment.filter { ["PATH", "TMPDIR", "LD_LIBRARY_PATH"].contains($0.key) }
        env["HOME"] = folder.path
        env["LANG"] = "C.UTF-8"
        env.merge(environment) { $1 }
        return env
    }

    static func readToEnd(_ handle: FileHandle) async -> Data {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: handle.readDataToEndOfFile()) }
        }
    }

    /// The error is one line of its own. Log records (`2026-…T…+0000 level label: …`) may stand beside it: a loaded
    /// machine can make a request time out and be retried, which is logged at info.
    static func expectOneLineError(_ outcome: Outcome, status: Int32, containing text: String) {
        #expect(outcome.status == status)
        let lines = outcome.stderr.split(separator: "\n").filter { !isLogRecord($0) }
        #expect(lines.count == 1, "stderr: \(outcome.stderr)")
        #expect(lines.first?.hasPrefix("cryptopipe: error: ") == true && outcome.stderr.contains(text), "stderr: \(outcome.stderr)")
    }

    /// A swift-log record: an ISO-8601 time, a level, then the message.
    static func isLogRecord(_ line: Substring) -> Bool {
        let parts = line.split(separator: " ", maxSplits: 2)
        let levels: Set<Substring> = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
        return parts.count == 3 && parts[0].count >= 20 && parts[0].first?.isNumber == true && parts[0].contains("T")
            && levels.contains(parts[1])
    }

    @Test(arguments: [
        (["extract", "--symbols", "btc-usdt"], "invalid symbol 'BTC-USDT'"),
        (["extract", "--warehouse", "postgres://db/x"], "warehouse URL 'postgres://db/x' is not supported"),
        (["transform", "--warehouse", "sqlite:"], "has no file path"),
        (["extract", "--lake", "s3://crypto-raw"], "an S3 lake needs credentials: set CRYPTOPIPE_S3_ACCESS_KEY"),
        (["extract", "--lake", "s3://Crypto_Raw"], "is not a valid bucket name"),
        (["extract", "--lake", "s3://crypto-raw/2024"], "names a path: expected only a bucket"),
        (["extract", "--s3-endpoint", "ftp://x"], "must start with http:// or https://"),
        (["maintain", "--s3-path-style", "maybe"], "--s3-path-style 'maybe' is not valid"),
        (["lake", "migrate", "--from", "x", "--to", "x"], "--from and --to are the same lake"),
        (["lake", "migrate", "--from", "nowhere", "--to", "s3://crypto-raw"], "--from folder 'nowhere' does not exist"),
        (["extract", "--exchange-url", "ftp://x"], "exchange URL 'ftp://x' is not valid"),
        (["extract", "--weight-budget", "0"], "--weight-budget '0' is not valid: expected an integer from 1 to 100"),
        (["extract", "--source-address", "127.0.0.1:80"], "--source-address '127.0.0.1:80' is not an IP address"),
        // A value with a newline or an escape sequence in it is shown escaped: the error stays one line.
        (["extract", "--source-address", "1\n2"], "--source-address '1\\n2' is not an IP address"),
        (["extract", "--weight-budget", "\u{1B}[2J5"], "--weight-budget '\\u{1B}[2J5' is not valid"),
        (["run", "--source-address", "example.org"], "--source-address 'example.org' is not an IP address"),
        (["extract", "--source-address", "192.0.2.1"], "--source-address '192.0.2.1' is not an address of this machine"),
        (["run", "--every", "0"], "--every '0' is not valid"),
        (["run", "--source", "grpc"], "--source 'grpc' is not valid: expected stream or rest"),
        (["run", "--flush-interval", "90"], "--flush-interval '90' is not valid: expected seconds, a multiple of 60"),
        (["run", "--depth-interval", "0"], "--depth-interval '0' is not valid"),
        (["run", "--stream-rotate-after", "1"], "--stream-rotate-after '1' is not valid"),
        (["run", "--stream-url", "https://x"], "--stream-url 'https://x' is not valid"),
        (["run", "--stream-url", "ws://host:99999"], "--stream-url 'ws://host:99999' is not valid"),
        (["run", "--stream-url", "ws://u:hunter2@host"], "--stream-url 'ws://[redacted]@host' is not valid"),
        (["run", "--depth-limit", "2000"], "--depth-limit 2000 is too deep for --source stream"),
        (["demo", "--source", "ws"], "--source 'ws' is not valid"),
        (["serve", "--http-port", "70000"], "--http-port '70000' is not valid"),
        (["run", "--http-host", "a b"], "--http-host 'a b' is not valid"),
        (["serve", "--public-url", "ftp://x"], "--public-url 'ftp://x' is not valid"),
        (["serve", "--public-url", "https://admin:hunter2@pipe.example"], "--public-url 'https://[redacted]@pipe.example' is not valid"),
        (["extract", "--exchange-url", "http//u:hunter2@host"], "exchange URL '[redacted]@host' is not valid"),
        (
            ["export", "--symbol", "BTCUSDT", "--from", "2024-01-01T00:00:-9223372036854775807Z"],
            "--from '2024-01-01T00:00:-9223372036854775807Z' is not valid"
        ),
        (["export"], "export needs --symbol"),
        (["export", "--symbol", "BTCUSDT", "--from", "tomorrow"], "--from 'tomorrow' is not valid"),
        (["export", "--symbol", "BTCUSDT", "--format", "xml"], "--format 'xml' is not valid"),
        (
            ["export", "--symbol", "BTCUSDT", "--interval", "1s"],
            "--interval '1s' is not valid: expected 1m, 3m, 5m, 15m, 30m, 1h, 2h, 4h, 6h, 8h, 12h, 1d, 3d, 1w, 1M"
        ),
        (["aggregate", "--symbol", "eth/usdt"], "invalid symbol 'ETH/USDT'"),
        (["import", "nowhere/BTCUSDT-1m-2024-01-01.zip"], "no such file or folder"),
        (["maintain", "--retention-days", "0"], "--retention-days '0' is not valid"),
        (["gaps", "--symbol", "x/y"], "invalid symbol 'X/Y'"),
        (["backfill"], "backfill needs --from"),
        (["backfill", "--from", "yesterday"], "--from 'yesterday' is not valid"),
        (["backfill", "--from", "2024-01-02", "--to", "2024-01-01"], "is before --from"),
        (["backfill", "--from", "2999-01-01"], "is in the future"),
        (["simulate-exchange", "--faults", "2"], "--faults '2' is not valid: expected a number from 0 to 1"),
        (["simulate-exchange", "--faults", "0.1", "--fault-kinds", "5xx,flood"], "--fault-kinds: unknown kind 'flood'"),
        (["simulate-exchange", "--replay", "nowhere"], "no such file or folder"),
        (["simulate-exchange", "--now", "2024-01-01"], "--now and --speed apply to a replay"),
        (["simulate-exchange", "--replay", "nowhere", "--speed", "0"], "--speed '0' is not valid"),
        (["simulate-exchange", "--clock-offset", "soon"], "--clock-offset 'soon' is not valid"),
        (["simulate-exchange", "--clock-offset", "-99999999"], "--clock-offset '-99999999' is not valid"),
    ])
    func badInputGivesOneLineAndExitCode64(arguments: [String], message: String) async throws {
        let folder = try TemporaryDirectory("cli")
        defer { folder.remove() }
        let outcome = try await Self.run(arguments, in: folder)
        Self.expectOneLineError(outcome, status: 64, containing: message)
        #expect(!outcome.stderr.contains("hunter2"), "a password was printed: \(outcome.stderr)")
    }

    @Test func aShortAdminTokenIsRefusedBeforeAnythingStarts() async throws {
        let folder = try TemporaryDirectory("cli")
        defer { folder.remove() }
        let outcome = try await Self.run(["serve", "--http-port", "0"], environment: ["CRYPTOPIPE_ADMIN_TOKEN": "secret"], in: folder)
        Self.expectOneLineError(outcome, status: 64, containing: "CRYPTOPIPE_ADMIN_TOKEN is too short")
        #expect(!outcome.stderr.contains("secret"))
    }

    @Test func importGapsMaintainAndDailyExport() async throws {
        let folder = try TemporaryDirectory("cli")
        defer { folder.remove() }
        let symbol = try Symbol("BTCUSDT")
        let market = SyntheticMarket(seed: 2, symbols: [symbol])
        let day: Int64 = 1_704_067_200_000  // 2024-01-01, long before any retention cut-off
        let candles = (0..<1_440).compactMap { market.minuteCandle(symbol, minuteOpen: day + Int64($0) * 60_000) }
        try DumpWriter.writeZip(candles, symbol: symbol, name: "2024-01-01", into: folder.path)
        try Data("1704153600000,1,2,3\n".utf8).write(to: URL(fileURLWithPath: folder.path + "/BTCUSDT-1m-2024-01-02.csv"))

        let first = try await Self.run(["import", "."], in: folder)
        #expect(first.status == 1)
        #expect(first.stdout.contains("imported 1 files (1440 k-lines, 1440 new rows)"), "\(first.stdout)")
        // The import stores the day's 24 complete hours from the file itself; only the day is recomputed from them.
        #expect(first.stdout.contains("; skipped 0 already imported; recomputed 0 hourly and 1 daily candles"), "\(first.stdout)")
        let errors = first.stderr.split(separator: "\n")
        #expect(errors.count == 2, "\(first.stderr)")
        #expect(errors.first?.contains("BTCUSDT-1m-2024-01-02.csv: line 1: expected 12 columns, found 4") == true, "\(first.stderr)")

        try FileManager.default.removeItem(atPath: folder.path + "/BTCUSDT-1m-2024-01-02.csv")
        let again = try await Self.run(["import", "."], in: folder)
        #expect(again.status == 0 && again.stdout.contains("skipped 1 already imported"), "\(again.stdout) \(again.stderr)")

        let hourly = try await Self.run(["export", "--symbol", "BTCUSDT", "--interval", "1h"], in: folder)
        var hourRows: [UInt8] = []
        for hour in 0..<24 {
            let open = day + Int64(hour) * 3_600_000
            let minutes = candles.filter { $0.openTime >= open && $0.openTime < open + 3_600_000 }
            KlineCSV.appendRow(
                try #require(KlineRollup.combine(minutes, openTime: open, closeTime: open + 3_599_999, partDuration: 60_000)), to: &hourRows
            )
        }
        #expect(hourly.status == 0 && hourly.stdout == String(decoding: hourRows, as: UTF8.self), "\(hourly.stdout)")

        let daily = try await Self.run(["export", "--symbol", "BTCUSDT", "--interval", "1d"], in: folder)
        let expected = try #require(KlineRollup.combine(candles, openTime: day, closeTime: day + 86_399_999, partDuration: 60_000))
        var row: [UInt8] = []
        KlineCSV.appendRow(expected, to: &row)
        #expect(daily.status == 0 && daily.stdout == String(decoding: row, as: UTF8.self), "\(daily.stdout)")

        let gaps = try await Self.run(["gaps"], in: folder)
        #expect(gaps.status == 0 && gaps.stdout.contains("no gaps in BTCUSDT"), "\(gaps.stdout) \(gaps.stderr)")

        let maintain = try await Self.run(["maintain"], in: folder)
        #expect(
            maintain.status == 0 && maintain.stdout.contains("warehouse: deleted 1440 minute candles"),
            "\(maintain.stdout) \(maintain.stderr)")
        let dailyAfter = try await Self.run(["export", "--symbol", "BTCUSDT", "--interval", "1d"], in: folder)
        #expect(dailyAfter.stdout == daily.stdout)
    }

    @Test func environmentIsReadAndFlagsWinOverIt() async throws {
        let folder = try TemporaryDirectory("cli")
        defer { folder.remove() }
        let fromEnv = try await Self.run(["extract"], environment: ["CRYPTOPIPE_INITIAL_CANDLES": "many"], in: folder)
        Self.expectOneLineError(fromEnv, status: 64, containing: "CRYPTOPIPE_INITIAL_CANDLES='many' is not valid")
        // The flag wins over a bad environment value; the run then fails on the unreachable exchange instead (a port held
        // bound but not listening, so no other process can answer there).
        let down = try ReservedPort()
        defer { down.release() }
        let flagWins = try await Self.run(
            ["extract", "--symbols", "BTCUSDT", "--log-level", "critical"],
            environment: ["CRYPTOPIPE_SYMBOLS": "bad-symbol", "CRYPTOPIPE_EXCHANGE_URL": "http://127.0.0.1:\(down.port)"], in: folder)
        Self.expectOneLineError(flagWins, status: 1, containing: "BTCUSDT: cannot reach the exchange")
    }

    @Test func originalViewsNeedAMySQLWarehouseAndADatabaseName() async throws {
        let folder = try TemporaryDirectory("cli")
        defer { folder.remove() }
        let onSQLite = try await Self.run(["status", "--original-views", "legacy"], in: folder)
        Self.expectOneLineError(onSQLite, status: 64, containing: "--original-views needs a MySQL or MariaDB warehouse")
        let fromEnvironment = try await Self.run(
            ["status", "--warehouse", "mysql://u@127.0.0.1:1/market"], environment: ["CRYPTOPIPE_ORIGINAL_VIEWS": "legacy`; DROP"],
            in: folder)
        Self.expectOneLineError(fromEnvironment, status: 64, containing: "must name a database other than the warehouse's")
        let same = try await Self.run(["status", "--warehouse", "mysql://u@127.0.0.1:1/market", "--original-views", "market"], in: folder)
        Self.expectOneLineError(same, status: 64, containing: "must name a database other than the warehouse's")
    }

    @Test func aMisspeltSymbolIsRefusedWithCloseMatches() async throws {
        let folder = try TemporaryDirectory("cli")
        defer { folder.remove() }
        let exchange = SimulatedExchange(configuration: .init(seed: 5, symbols: [try Symbol("BTCUSDT"), try Symbol("ETHUSDT")]))
        try await SimulatorServer.withRunning(exchange) { baseURL in
            let outcome = try await Self.run(
                ["extract", "--symbols", "BTCUSDT,BTCUSTD"], environment: ["CRYPTOPIPE_EXCHANGE_URL": baseURL], in: folder)
            Self.expectOneLineError(
                outcome, status: 64,
                containing: "BTCUSTD is not listed on the exchange; did you mean BTCUSDT? (check --symbols / CRYPTOPIPE_SYMBOLS)")
            #expect(outcome.stdout.isEmpty)
        }
    }

    @Test func extractTransformExportAndStatusAgainstTheSimulator() async throws {
        let folder = try TemporaryDirectory("cli")
        defer { folder.remove() }
        let symbol = try Symbol("BTCUSDT")
        let exchange = SimulatedExchange(configuration: .init(seed: 5, symbols: [symbol, try Symbol("ETHUSDT")], historyMinutes: 500))
        try await SimulatorServer.withRunning(exchange) { baseURL in
            let env = ["CRYPTOPIPE_EXCHANGE_URL": baseURL, "CRYPTOPIPE_LOG_LEVEL": "warning"]
            let extract = try await Self.run(["extract", "--initial-candles", "50"], environment: env, in: folder)
            #expect(extract.status == 0, "\(extract.stderr)")
            // 50 candles, or 51 when the wall clock crosses a minute boundary during the request.
            #expect(extract.stdout.contains("BTCUSDT: 50 k-lines") || extract.stdout.contains("BTCUSDT: 51 k-lines"), "\(extract.stdout)")
            let transform = try await Self.run(["transform"], environment: env, in: folder)
            #expect(transform.status == 0 && transform.stdout.contains("transformed 4 objects"), "\(transform.stdout)\(transform.stderr)")
            #expect(FileManager.default.fileExists(atPath: folder.path + "/data/warehouse.sqlite"))

            let csv = try await Self.run(["export", "--symbol", "BTCUSDT", "--format", "csv"], environment: env, in: folder)
            #expect(csv.status == 0)
            let rows = csv.stdout.split(separator: "\n")
            #expect(rows.count >= 48)
            let expected = try rows.map { row in try Array(row.utf8).withUnsafeBufferPointer { try KlineCSV.parseRow($0) } }
            for kline in expected { #expect(exchange.market.minuteCandle(symbol, minuteOpen: kline.openTime) == kline) }
            let json = try await Self.run(
                [
                    "export", "--symbol", "BTCUSDT", "--format", "json", "--from", UTCTime.iso8601(expected[10].openTime), "--to",
                    String(expected[12].openTime),
                ], environment: env, in: folder)
            #expect(try BinanceCodec.decodeKlines(Array(json.stdout.utf8.dropLast())) == Array(expected[10...12]))

            let aggregate = try await Self.run(["aggregate", "--rebuild"], environment: env, in: folder)
            #expect(
                aggregate.status == 0 && aggregate.stdout.contains("hourly and") && aggregate.stdout.contains("daily candles"),
                "\(aggregate)")
            let hourly = try await Self.run(
                ["export", "--symbol", "BTCUSDT", "--interval", "1h", "--include-open"], environment: env, in: folder)
            let hours = try hourly.stdout.split(separator: "\n").map { row in
                try Array(row.utf8).withUnsafeBufferPointer { try KlineCSV.parseRow($0) }
            }
            #expect(
                hourly.status == 0 && !hours.isEmpty
                    && hours.allSatisfy { $0.openTime % 3_600_000 == 0 && $0.closeTime == $0.openTime + 3_599_999 })

            let status = try await Self.run(["status", "--json"], environment: env, in: folder)
            let document = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any]
            let entries = try #require(document?["symbols"] as? [[String: Any]])
            #expect(entries.count == 4)
            #expect(
                entries.contains {
                    $0["symbol"] as? String == "BTCUSDT" && $0["type"] as? String == "klines" && ($0["rows"] as? Int ?? 0) >= 50
                })
            let table = try await Self.run(["status"], environment: env, in: folder)
            #expect(table.stdout.contains("SYMBOL") && table.stdout.contains("ETHUSDT"))
        }
    }

    @Test func backfillFetchesTheRangeThroughTheLakeAndRunningItAgainHasNothingLeft() async throws {
        let folder = try TemporaryDirectory("cli")
        defer { folder.remove() }
        let symbol = try Symbol("BTCUSDT")
        let exchange = SimulatedExchange(configuration: .init(seed: 8, symbols: [symbol], historyMinutes: 3_000))
        let minute = Interval.oneMinute.openTime(containing: exchange.now)
        let (from, to) = (minute - 2_500 * 60_000, minute - 100 * 60_000)
        try await SimulatorServer.withRunning(exchange) { baseURL in
            let env = ["CRYPTOPIPE_EXCHANGE_URL": baseURL, "CRYPTOPIPE_LOG_LEVEL": "warning", "CRYPTOPIPE_SYMBOLS": "BTCUSDT"]
            let arguments = ["backfill", "--from", UTCTime.iso8601(from), "--to", String(to)]
            let first = try await Self.run(arguments, environment: env, in: folder)
            #expect(first.status == 0, "\(first.stderr)")
            #expect(first.stdout.contains("fetched 2401 k-lines in 3 pages for 1 of 1 symbols; 2401 rows written"), "\(first.stdout)")
            let lake = try FileManager.default.subpathsOfDirectory(atPath: folder.path + "/data/lake/crypto-raw")
            #expect(lake.filter { $0.hasSuffix(".json") }.count == 3)

            let csv = try await Self.run(["export", "--symbol", "BTCUSDT"], environment: env, in: folder)
            let rows = try csv.stdout.split(separator: "\n").map { row in
                try Array(row.utf8).withUnsafeBufferPointer { try KlineCSV.parseRow($0) }
            }
            #expect(rows.count == 2_401 && rows.first?.openTime == from && rows.last?.openTime == to)
            #expect(rows.allSatisfy { exchange.market.minuteCandle(symbol, minuteOpen: $0.openTime) == $0 })

            let again = try await Self.run(arguments, environment: env, in: folder)
            #expect(again.status == 0)
            #expect(
                again.stdout.contains("fetched 0 k-lines in 0 pages for 1 of 1 symbols (continued BTCUSDT from a checkpoint)"),
                "\(again.stdout)")
        }
    }

    /// Starts `cryptopipe simulate-exchange` with `arguments` and returns it once it printed its URL.
    static func startSimulator(_ arguments: [String], in folder: TemporaryDirectory) async throws -> (Process, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["simulate-exchange", "--port", "0"] + arguments
        process.currentDirectoryURL = URL(fileURLWithPath: folder.path)
        process.environment = Self.childEnvironment([:], in: folder)
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        // The first line is "listening on http://host:port"; read it on a GCD thread, as the read blocks.
        let line = await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                var text = ""
                while !text.contains("\n") {
                    let chunk = out.fileHandleForReading.availableData
                    if chunk.isEmpty { break }
                    text += String(decoding: chunk, as: UTF8.self)
                }
                continuation.resume(returning: text)
            }
        }
        guard let range = line.range(of: "http://") else {
            process.terminate()
            throw ConformanceFailure("the simulator did not start: \(line)")
        }
        return (process, String(line[range.lowerBound...].prefix { !$0.isWhitespace }))
    }

    /// A day of a synthetic market's ETHUSDT minutes as a data.binance.vision zip in `dumps/`; returns the candles.
    static func writeDump(seed: UInt64, day: Int64, name: String, in folder: TemporaryDirectory) throws -> [Kline] {
        let symbol = try Symbol("ETHUSDT")
        let market = SyntheticMarket(seed: seed, symbols: [symbol])
        let candles = (0..<1_440).compactMap { market.minuteCandle(symbol, minuteOpen: day + Int64($0) * 60_000) }
        try FileManager.default.createDirectory(atPath: folder.path + "/dumps", withIntermediateDirectories: true)
        try DumpWriter.writeZip(candles, symbol: symbol, name: name, into: folder.path + "/dumps")
        return candles
    }

    @Test func aReplayedDumpIsServedAndBackfilledCandleForCandle() async throws {
        let folder = try TemporaryDirectory("cli")
        defer { folder.remove() }
        let candles = try Self.writeDump(seed: 12, day: 1_717_200_000_000, name: "2024-06-01", in: folder)

        // The replay's clock starts at 18:00 and runs 60 times as fast.
        let (simulator, baseURL) = try await Self.startSimulator(
            ["--replay", "dumps", "--now", "2024-06-01T18:00:00Z", "--speed", "60"], in: folder)
        defer { simulator.terminate() }
        let env = ["CRYPTOPIPE_EXCHANGE_URL": baseURL, "CRYPTOPIPE_LOG_LEVEL": "warning", "CRYPTOPIPE_SYMBOLS": "ETHUSDT"]
        let backfill = try await Self.run(
            ["backfill", "--from", "2024-06-01", "--to", "2024-06-01T17:59:00Z"], environment: env, in: folder)
        #expect(backfill.status == 0, "\(backfill.stderr)")
        #expect(backfill.stdout.contains("fetched 1080 k-lines in 2 pages"), "\(backfill.stdout)")
        let csv = try await Self.run(["export", "--symbol", "ETHUSDT"], environment: env, in: folder)
        let rows = try csv.stdout.split(separator: "\n").map { row in
            try Array(row.utf8).withUnsafeBufferPointer { try KlineCSV.parseRow($0) }
        }
        #expect(rows == Array(candles.prefix(1_080)))
    }

    /// `run` against a replay years in the past collects as if it were then: its first fetch, finality and lag follow
    /// the replay's clock (measured through `/api/v3/time`), so it stores exactly the replayed minutes up to the
    /// replay's "now".
    @Test func runRehearsesOnAReplayYearsInThePast() async throws {
        let folder = try TemporaryDirectory("cli")
        defer { folder.remove() }
        let day: Int64 = 1_609_545_600_000  // 2021-01-02
        let candles = try Self.writeDump(seed: 21, day: day, name: "2021-01-02", in: folder)
        let wallStart = Date()
        let (simulator, baseURL) = try await Self.startSimulator(
            ["--replay", "dumps", "--now", "2021-01-02T12:00:00Z", "--speed", "60"], in: folder)
        defer { simulator.terminate() }
        let env = ["CRYPTOPIPE_EXCHANGE_URL": baseURL, "CRYPTOPIPE_LOG_LEVEL": "warning", "CRYPTOPIPE_SYMBOLS": "ETHUSDT"]
        let run = try await Self.run(
            ["run", "--source", "rest", "--cycles", "3", "--every", "1", "--http-port", "0"], environment: env, in: folder)
        let runEnded = Date()
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("the exchange's clock is") && run.stderr.contains("days behind the local clock"), "\(run.stderr)")
        let fetched = run.stdout.split(separator: "\n").filter { $0.hasPrefix("cycle ") }
        #expect(fetched.count == 3 && !fetched.contains { $0.contains("fetched 0 k-lines") }, "\(run.stdout)")

        let csv = try await Self.run(["export", "--symbol", "ETHUSDT"], environment: env, in: folder)
        let rows = try csv.stdout.split(separator: "\n").map { row in
            try Array(row.utf8).withUnsafeBufferPointer { try KlineCSV.parseRow($0) }
        }
        // The first fetch asks for the replay's newest 100 minutes (its clock passed noon by a minute per wall second
        // since the simulator started, a minute for a slow start allowed); every stored final minute is the replayed
        // one, with none left out.
        let noon = day + 720 * 60_000
        let first = try #require(rows.first).openTime
        #expect((noon - 99 * 60_000...noon - 39 * 60_000).contains(first), "\(UTCTime.iso8601(first))")
        let start = Int((first - day) / 60_000)
        #expect(rows == Array(candles[start..<min(start + rows.count, candles.count)]))
        #expect(rows.count >= 99 && rows.count <= 130, "\(rows.count) minutes")

        let status = try await Self.run(["status"], environment: env, in: folder)
        #expect(status.stdout.contains("exchange clock: the exchange's clock is"), "\(status.stdout)")
        // The lag is measured on the replay's clock too: minutes, not years.
        let json = try await Self.run(["status", "--json"], environment: env, in: folder)
        let document = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let klines = try #require((document["symbols"] as? [[String: Any]])?.first { $0["type"] as? String == "klines" })
        let lag = try #require(klines["lag_ms"] as? Int)
        #expect(lag < 60 * 60_000, "lag \(lag) ms")
        // Finality on the replay's clock: the last capture lies after the newest final minute's close plus the margin,
        // and not after the replay's "now" (a minute per wall second since noon).
        let lastFetch = try #require(klines["last_fetch"] as? Int64)
        let replayNow = noon + Int64((runEnded.timeIntervalSince(wallStart) * 60_000).rounded(.up))
        #expect(try #require(rows.last).closeTime + Kline.finalityMarginMilliseconds < lastFetch)
        #expect(lastFetch <= replayNow, "last fetch \(UTCTime.iso8601(lastFetch)), replay now \(UTCTime.iso8601(replayNow))")
        #expect((document["exchange_clock"] as? [String: Any])?["offset_ms"] as? Int ?? 0 < -150_000_000_000)
    }

    /// A simulator whose clock runs 30 s behind ours (`--clock-offset -30`): `extract` measures it and `status` shows it.
    @Test func theSimulatorsClockOffsetIsMeasuredAndShown() async throws {
        let folder = try TemporaryDirectory("cli")
        defer { folder.remove() }
        let (simulator, baseURL) = try await Self.startSimulator(["--clock-offset", "-30", "--symbols", "BTCUSDT"], in: folder)
        defer { simulator.terminate() }
        let env = ["CRYPTOPIPE_EXCHANGE_URL": baseURL, "CRYPTOPIPE_LOG_LEVEL": "warning", "CRYPTOPIPE_SYMBOLS": "BTCUSDT"]
        let extract = try await Self.run(["extract"], environment: env, in: folder)
        #expect(extract.status == 0, "\(extract.stderr)")
        #expect(extract.stderr.contains(" s behind the local clock"), "\(extract.stderr)")
        let status = try await Self.run(["status"], environment: env, in: folder)
        #expect(status.stdout.contains("exchange clock: the exchange's clock is "), "\(status.stdout)")
        // Within half the round trip of the sample kept: a few milliseconds here, more on a loaded machine.
        let json = try await Self.run(["status", "--json"], environment: env, in: folder)
        let document = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let clock = try #require(document["exchange_clock"] as? [String: Any])
        let offset = try #require(clock["offset_ms"] as? Int)
        let roundTrip = try #require(clock["round_trip_ms"] as? Int)
        #expect(abs(offset + 30_000) <= roundTrip / 2 + 1, "offset \(offset) ms, round trip \(roundTrip) ms")
    }

    @Test func runStopsAfterTheRequestedCyclesAndDemoRunsOffline() async throws {
        let folder = try TemporaryDirectory("cli")
        defer { folder.remove() }
        let demo = try await Self.run(
            [
                "demo", "--source", "rest", "--cycles", "2", "--every", "1", "--http-port", "0", "--history-days", "0", "--symbols",
                "BTCUSDT,ETHUSDT",
            ],
            environment: ["CRYPTOPIPE_LOG_LEVEL": "warning"], in: folder)
        #expect(demo.status == 0, "\(demo.stderr)")
        // 100 candles per symbol, one more for each that saw a minute boundary during its request.
        #expect(
            ["200", "201", "202"].contains { demo.stdout.contains("cycle 1: fetched \($0) k-lines") } && demo.stdout.contains("cycle 2:"),
            "\(demo.stdout)")
        let status = try await Self.run(["status"], in: folder)
        #expect(["100", "101", "102"].contains { status.stdout.contains("BTCUSDT  klines  \($0)") }, "\(status.stdout)")
    }

    /// A plain `demo`, as a newcomer starts it: every simulator symbol tracked, three days backfilled before the first
    /// cycle, and a sign-in link with the token made for this run.
    @Test func aPlainDemoBackfillsEverySymbolAndPrintsASignInLink() async throws {
        let folder = try TemporaryDirectory("cli")
        defer { folder.remove() }
        // Only what ends the run and picks a free port; everything else is the demo's defaults.
        let demo = try await Self.run(
            ["demo", "--cycles", "1"], environment: ["CRYPTOPIPE_LOG_LEVEL": "warning", "CRYPTOPIPE_HTTP_PORT": "0"], in: folder)
        #expect(demo.status == 0, "\(demo.stderr)")
        let lines = demo.stdout.split(separator: "\n").map(String.init)
        let backfilled = try #require(lines.firstIndex { $0.hasPrefix("demo: backfilled ") }, "\(demo.stdout)")
        let cycle = try #require(lines.firstIndex { $0.hasPrefix("cycle 1: ") }, "\(demo.stdout)")
        #expect(backfilled < cycle)
        // 4320 minutes for each of 6 symbols; a few more when a minute closed during the backfill.
        let klines = Int(lines[backfilled].split(separator: " ")[2]) ?? 0
        #expect((25_920...25_940).contains(klines), "\(lines[backfilled])")
        #expect(lines[cycle].contains("for 6 symbols"), "\(lines[cycle])")
        let link = try #require(lines.first { $0.hasPrefix("demo: open http://127.0.0.1:") }, "\(demo.stdout)")
        let token = try #require(link.split(separator: "?token=").last?.prefix { $0 != " " })
        #expect(token.count == 48 && token.allSatisfy(\.isHexDigit), "\(link)")
        let status = try await Self.run(["status"], in: folder)
        for symbol in ["BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT", "XRPUSDT", "ADAUSDT"] {
            #expect(status.stdout.contains("\(symbol)  klines  43"), "\(status.stdout)")
        }
    }

    @Test func globalOptionsMayComeBeforeTheSubcommand() async throws {
        let folder = try TemporaryDirectory("cli")
        defer { folder.remove() }
        // The last one wins, as for options after the subcommand.
        let lines = [
            ["--data-dir", "elsewhere", "status"], ["--data-dir=other", "status", "--json"],
            ["--data-dir", "a", "status", "--data-dir", "b"],
        ]
        for arguments in lines {
            let outcome = try await Self.run(arguments, in: folder)
            #expect(outcome.status == 0, "\(arguments): \(outcome.stderr)")
        }
        for created in ["elsewhere", "other", "b"] {
            #expect(FileManager.default.fileExists(atPath: folder.path + "/\(created)/warehouse.sqlite"), "\(created)")
        }
        #expect(
            !FileManager.default.fileExists(atPath: folder.path + "/data") && !FileManager.default.fileExists(atPath: folder.path + "/a"))
        Self.expectOneLineError(
            try await Self.run(["--data-dir", "--json", "status"], in: folder), status: 64, containing: "'--data-dir' needs a value")
        Self.expectOneLineError(
            try await Self.run(["--every", "5", "run"], in: folder), status: 64,
            containing: "'--every' is not a global option: put it after the subcommand")
        Self.expectOneLineError(
            try await Self.run(["--data-dir", "x"], in: folder), status: 64, containing: "global options need a subcommand after them")
    }

    /// SIGINT while a job runs: the job finishes (its cycle line is printed), no other job starts, and the process exits 0.
    /// Every answer of the exchange is held back 2 s, so once the job has started the signal arrives while it waits; the
    /// test checks that the cycle line was not printed when the signal was sent.
    @Test func sigintLetsTheRunningJobFinishAndStartsNoOther() async throws {
        let folder = try TemporaryDirectory("cli")
        defer { folder.remove() }
        let exchange = SimulatedExchange(
            configuration: .init(
                seed: 5, symbols: [try Symbol("BTCUSDT")], historyMinutes: 100,
                faults: FaultConfiguration(rate: 1, kinds: [.hang], hang: .seconds(2))))
        try await SimulatorServer.withRunning(exchange) { baseURL in
            let env = [
                "CRYPTOPIPE_EXCHANGE_URL": baseURL, "CRYPTOPIPE_SYMBOLS": "BTCUSDT", "CRYPTOPIPE_LOG_LEVEL": "info",
                "CRYPTOPIPE_REQUEST_TIMEOUT": "60",
            ]
            let child = try ChildCLI(
                ["run", "--source", "rest", "--every", "60", "--http-port", "0", "--initial-candles", "10"],
                environment: Self.childEnvironment(env, in: folder), in: folder)
            defer { child.terminateIfRunning() }
            var lines = child.lines.makeAsyncIterator()
            let started = await ChildCLI.next(&lines) {
                $0.stream == .stderr && $0.text.contains("job started") && $0.text.contains("extract-transform")
            }
            try #require(started != nil, "the extract-transform job never started")
            let atSignal = child.stdout
            child.interrupt()
            let outcome = await child.finish()
            #expect(!atSignal.contains("cycle 1:"), "the job finished before the signal was sent: \(atSignal)")
            #expect(outcome.status == 0, "\(outcome.stderr)")
            // The cycle line (its k-line count depends on the wall clock): one symbol's k-lines and order book loaded.
            #expect(outcome.stdout.contains("for 1 symbols; loaded 2 lake objects"), "\(outcome.stdout)")
            let logged = outcome.stderr.split(separator: "\n")
            #expect(logged.filter { $0.contains("job started") }.count == 1, "\(outcome.stderr)")
            #expect(
                logged.contains { $0.contains("job finished") && $0.contains("extract-transform") && $0.contains("status=succeeded") },
                "\(outcome.stderr)")
            // Nothing logged at error or critical (a hung /api/v3/time is a warning: the clock keeps its last offset).
            #expect(
                !logged.contains { Self.isLogRecord($0) && ["error", "critical"].contains($0.split(separator: " ")[1]) },
                "\(outcome.stderr)")
        }
    }

    @Test(arguments: [
        ("mysql://root@localhost", "names no database"),
        ("mysql://root:hunter2@localhost:99999/db", "outside 1–65535"),
        ("postgres://u@h/db", "is not supported: expected sqlite:<path>"),
    ])
    func badWarehouseURLsAreOneLineUsageErrors(url: String, message: String) async throws {
        let folder = try TemporaryDirectory("cli-mysql")
        defer { folder.remove() }
        let outcome = try await Self.run(["status", "--warehouse", url], in: folder)
        Self.expectOneLineError(outcome, status: 64, containing: message)
        #expect(!outcome.stderr.contains("hunter2"))
    }
}

/// The binary with an S3 lake (moto with signature checks, from scripts/test).
@Suite(.enabled(if: S3TestServer.isAvailable, Comment(rawValue: S3TestServer.skipReason)))
struct S3CLITests {
    @Test func migrateToS3TransformsToTheSameExportAndAWrongSecretIsOneLine() async throws {
        let folder = try TemporaryDirectory("cli-s3")
        defer { folder.remove() }
        let configuration = try #require(S3TestServer.configuration)
        let prefix = S3TestServer.uniqueBucketPrefix()
        let s3 = [
            "CRYPTOPIPE_S3_ENDPOINT": "\(try #require(configuration.endpoint))",
            "CRYPTOPIPE_S3_ACCESS_KEY": configuration.credentials.accessKeyID,
            "CRYPTOPIPE_S3_SECRET_KEY": configuration.credentials.secretAccessKey,
            "CRYPTOPIPE_S3_ARCHIVE_BUCKET": prefix + "crypto-archive", "CRYPTOPIPE_LOG_LEVEL": "warning",
        ]
        let lakeURL = "s3://\(prefix)crypto-raw"
        let exchange = SimulatedExchange(configuration: .init(seed: 8, symbols: [try Symbol("BTCUSDT")], historyMinutes: 400))
        try await SimulatorServer.withRunning(exchange) { baseURL in
            var env = s3
            env["CRYPTOPIPE_EXCHANGE_URL"] = baseURL
            env["CRYPTOPIPE_SYMBOLS"] = "BTCUSDT"
            let extract = try await CLITests.run(["extract", "--initial-candles", "300"], environment: env, in: folder)
            #expect(extract.status == 0, "\(extract.stderr)")
            // Straight to S3 as well: a second extract writes its objects into the bucket.
            let direct = try await CLITests.run(
                ["extract", "--lake", lakeURL, "--warehouse", "sqlite:direct.sqlite", "--initial-candles", "5"], environment: env,
                in: folder)
            #expect(direct.status == 0, "\(direct.stderr)")
        }
        let migrate = try await CLITests.run(["lake", "migrate", "--from", "data/lake", "--to", lakeURL], environment: s3, in: folder)
        #expect(migrate.status == 0 && migrate.stdout.contains("copied 2 objects"), "\(migrate.stdout) \(migrate.stderr)")
        let again = try await CLITests.run(["lake", "migrate", "--from", "data/lake", "--to", lakeURL], environment: s3, in: folder)
        #expect(again.stdout.contains("copied 0 objects (0 bytes)") && again.stdout.contains("2 already there"), "\(again.stdout)")

        let local = try await CLITests.run(["transform"], environment: s3, in: folder)
        #expect(local.status == 0, "\(local.stderr)")
        let remote = try await CLITests.run(
            ["transform", "--lake", lakeURL, "--warehouse", "sqlite:s3.sqlite"], environment: s3, in: folder)
        #expect(remote.status == 0 && remote.stdout.contains("transformed 4 objects"), "\(remote.stdout) \(remote.stderr)")
        let exportArguments = ["export", "--symbol", "BTCUSDT", "--format", "csv"]
        let fromLocal = try await CLITests.run(exportArguments, environment: s3, in: folder)
        let fromS3 = try await CLITests.run(
            exportArguments + ["--warehouse", "sqlite:s3.sqlite", "--lake", lakeURL], environment: s3, in: folder)
        #expect(fromLocal.status == 0 && fromLocal.stdout.split(separator: "\n").count >= 290)
        // The S3 warehouse also holds the second extract's newer candles; the shared ones are byte-identical.
        #expect(fromS3.stdout.hasPrefix(fromLocal.stdout), "exports differ")

        let status = try await CLITests.run(["status", "--lake", lakeURL, "--warehouse", "sqlite:s3.sqlite"], environment: s3, in: folder)
        #expect(status.stdout.contains("lake bucket \(prefix)crypto-raw: 4 objects"), "\(status.stdout) \(status.stderr)")
        #expect(!status.stdout.contains(configuration.credentials.secretAccessKey))

        // Back to a folder: the same bytes.
        let back = try await CLITests.run(["lake", "migrate", "--from", lakeURL, "--to", "copy"], environment: s3, in: folder)
        #expect(back.status == 0 && back.stdout.contains("copied 4 objects"), "\(back.stdout) \(back.stderr)")
        for object in try FileManager.default.subpathsOfDirectory(atPath: folder.path + "/data/lake") where object.hasSuffix(".json") {
            #expect(
                FileManager.default.contents(atPath: folder.path + "/data/lake/" + object)
                    == FileManager.default.contents(atPath: folder.path + "/copy/" + object), "\(object)")
        }

        var wrong = s3
        wrong["CRYPTOPIPE_S3_SECRET_KEY"] = "wrong-secret-value"
        let refused = try await CLITests.run(
            ["transform", "--lake", lakeURL, "--warehouse", "sqlite:s3.sqlite"], environment: wrong, in: folder)
        CLITests.expectOneLineError(refused, status: 1, containing: "SignatureDoesNotMatch")
        #expect(!refused.stderr.contains("wrong-secret-value"))
    }
}

/// The binary with a MySQL warehouse (a private MariaDB from scripts/test).
@Suite(.enabled(if: MySQLTestServer.isAvailable, Comment(rawValue: MySQLTestServer.skipReason)))
struct MySQLCLITests {
    @Test func theSameLakeTransformedIntoSQLiteAndMySQLExportsByteIdentically() async throws {
        let folder = try TemporaryDirectory("cli-mysql")
        defer { folder.remove() }
        let exchange = SimulatedExchange(
            configuration: .init(seed: 21, symbols: [try Symbol("BTCUSDT"), try Symbol("ETHUSDT")], historyMinutes: 3_000))
        try await MySQLTestServer.withWarehouse { _, configuration in
            let password = try #require(configuration.password)
            var withoutPassword = configuration
            withoutPassword.password = nil
            let mysqlURL = withoutPassword.description
            let mysql = ["CRYPTOPIPE_MYSQL_PASSWORD": password, "CRYPTOPIPE_LOG_LEVEL": "warning"]
            try await SimulatorServer.withRunning(exchange) { baseURL in
                var env = mysql
                env["CRYPTOPIPE_EXCHANGE_URL"] = baseURL
                let extract = try await CLITests.run(["extract", "--initial-candles", "2500"], environment: env, in: folder)
                #expect(extract.status == 0, "\(extract.stderr)")
            }
            let sqlite = try await CLITests.run(["transform"], environment: mysql, in: folder)
            #expect(sqlite.status == 0, "\(sqlite.stderr)")
            // Three pages of k-lines and a depth snapshot per symbol.
            let transform = try await CLITests.run(["transform", "--warehouse", mysqlURL], environment: mysql, in: folder)
            #expect(transform.status == 0 && transform.stdout.contains("transformed 8 objects"), "\(transform.stdout)\(transform.stderr)")

            for interval in ["1m", "1h", "1d"] {
                for format in ["csv", "json"] {
                    for symbol in ["BTCUSDT", "ETHUSDT"] {
                        let arguments = ["export", "--symbol", symbol, "--interval", interval, "--format", format, "--include-open"]
                        let fromSQLite = try await CLITests.run(arguments, environment: mysql, in: folder)
                        let fromMySQL = try await CLITests.run(arguments + ["--warehouse", mysqlURL], environment: mysql, in: folder)
                        #expect(fromSQLite.status == 0 && fromMySQL.status == 0, "\(fromMySQL.stderr)")
                        #expect(fromSQLite.stdout.count > 100, "\(interval) \(format): \(fromSQLite.stdout)")
                        #expect(fromSQLite.stdout == fromMySQL.stdout, "\(symbol) \(interval) \(format) exports differ")
                    }
                }
            }

            let status = try await CLITests.run(["status", "--warehouse", mysqlURL], environment: mysql, in: folder)
            #expect(status.status == 0 && status.stdout.contains("warehouse \(mysqlURL)"), "\(status.stdout)\(status.stderr)")
            #expect(!status.stdout.contains(password) && !status.stderr.contains(password))

            // A wrong password is one line naming the server, never the password.
            let wrong = try await CLITests.run(
                ["status", "--warehouse", mysqlURL], environment: ["CRYPTOPIPE_MYSQL_PASSWORD": "not-the-password"], in: folder)
            CLITests.expectOneLineError(wrong, status: 1, containing: "Access denied")
            #expect(!wrong.stderr.contains("not-the-password"))
        }
    }
}
