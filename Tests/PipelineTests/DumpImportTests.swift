import ExchangeSimulator
import Foundation
import Logging
import MarketData
import Pipeline
import PipelineTesting
import Synchronization
import Testing
import Warehouse

/// `cryptopipe import`: data.binance.vision dumps into the warehouse, verified, idempotent and resumable.
struct DumpImportTests {
    static let btc = try! Symbol("BTCUSDT")
    static let day0: Int64 = 1_704_067_200_000  // 2024-01-01
    static let market = SyntheticMarket(seed: 11, symbols: [btc])

    static func day(_ index: Int) -> [Kline] {
        let open = day0 + Int64(index) * 86_400_000
        return (0..<1_440).compactMap { market.minuteCandle(btc, minuteOpen: open + Int64($0) * 60_000) }
    }

    static func dateName(_ index: Int) -> String { String(UTCTime.iso8601(day0 + Int64(index) * 86_400_000).prefix(10)) }

    struct Fixture {
        let folder: TemporaryDirectory
        let dumps: String
        let warehouse: SQLiteWarehouse
        var importer: DumpImporter { DumpImporter(warehouse: warehouse, logger: Logger(label: "test")) }

        init() async throws {
            folder = try TemporaryDirectory("import")
            dumps = folder.path + "/dumps"
            try FileManager.default.createDirectory(atPath: dumps, withIntermediateDirectories: true)
            warehouse = try SQLiteWarehouse(path: folder.path + "/warehouse.sqlite")
            try await warehouse.migrate()
        }

        func run(_ paths: [String]? = nil, cancelAfter: Int? = nil) async throws -> ImportReport {
            let files = try DumpImporter.plan(paths: paths ?? [dumps], symbol: nil)
            let calls = Mutex(0)
            return try await importer.importFiles(
                files, progress: { _ in calls.withLock { $0 += 1 } },
                isCancelled: { cancelAfter.map { limit in calls.withLock { $0 } > limit } ?? false })
        }

        func stored(_ interval: Interval) async throws -> [Kline] {
            try await warehouse.klines(symbol: btc, interval: interval, from: 0, to: .max, includeOpen: true, limit: nil).map(\.kline)
        }
    }

    @Test func zippedDailyFilesLoadExactlyWithRollUpsAndReRunsChangeNothing() async throws {
        let fixture = try await Fixture()
        defer { fixture.folder.remove() }
        for index in 0..<3 { try DumpWriter.writeZip(Self.day(index), symbol: Self.btc, name: Self.dateName(index), into: fixture.dumps) }
        let report = try await fixture.run()
        #expect(report.failures.isEmpty && report.filesImported == 3 && report.rowsWritten == 3 * 1_440)
        #expect(try await fixture.stored(.oneMinute) == (0..<3).flatMap { Self.day($0) })
        // Hours and days equal the simulator's own 1h and 1d candles (Binance's rule), all final.
        let end = Self.day0 + 3 * 86_400_000 - 1
        let hours = Self.market.klines(Self.btc, interval: .oneHour, startTime: Self.day0, endTime: end, now: .max, limit: 1_000)
        let days = Self.market.klines(Self.btc, interval: .oneDay, startTime: Self.day0, endTime: end, now: .max, limit: 10)
        #expect(hours.count == 72 && days.count == 3)
        #expect(try await fixture.stored(.oneHour) == hours)
        #expect(try await fixture.stored(.oneDay) == days)
        let finals = try await fixture.warehouse.klines(
            symbol: Self.btc, interval: .oneDay, from: 0, to: .max, includeOpen: false, limit: nil)
        #expect(finals.count == 3)

        // Same files again: skipped by the ledger.
        let again = try await fixture.run()
        #expect(again.filesSkipped == 3 && again.filesImported == 0)
        // Ledger cleared (or another process importing the same files): rows are upserted, nothing changes.
        try await fixture.warehouse.execute("DELETE FROM processed_files")
        let reloaded = try await fixture.run()
        #expect(reloaded.filesImported == 3 && reloaded.rowsWritten == 0)
        #expect(try await fixture.warehouse.tableCounts()["fact_klines"] == 3 * 1_440)
        #expect(try await fixture.stored(.oneHour) == hours)
    }

    @Test func csvWithMicrosecondsAndSymbolFromTheCommandLine() async throws {
        let fixture = try await Fixture()
        defer { fixture.folder.remove() }
        let path = fixture.dumps + "/history.csv"
        try Data(DumpWriter.csv(Self.day(0), microseconds: true)).write(to: URL(fileURLWithPath: path))
        #expect(throws: ImportError.self) { try DumpImporter.plan(paths: [path], symbol: nil) }
        let files = try DumpImporter.plan(paths: [path], symbol: Self.btc)
        let report = try await fixture.importer.importFiles(files)
        #expect(report.rowsWritten == 1_440)
        #expect(try await fixture.stored(.oneMinute) == Self.day(0))
    }

    @Test func anImportStoppedHalfWayIsCompletedByRunningItAgain() async throws {
        let fixture = try await Fixture()
        defer { fixture.folder.remove() }
        // More than one transaction's worth of days, so the stop lands between transactions.
        let days = DumpImporter.rowsPerTransaction / 1_440 + 5
        for index in 0..<days {
            try DumpWriter.writeZip(Self.day(index), symbol: Self.btc, name: Self.dateName(index), into: fixture.dumps)
        }
        let first = try await fixture.run(cancelAfter: 1)
        #expect(first.interrupted && first.filesImported > 0 && first.filesImported < days)
        let rest = try await fixture.run()
        #expect(!rest.interrupted && rest.filesSkipped == first.filesImported && rest.filesImported == days - first.filesImported)
        #expect(try await fixture.warehouse.tableCounts()["fact_klines"] == days * 1_440)
        #expect(try await fixture.stored(.oneDay).count == days)
        #expect(try await fixture.stored(.oneHour).count == days * 24)
    }

    @Test func damagedFilesAreRefusedWithFileAndLineAndTheOthersLoad() async throws {
        let fixture = try await Fixture()
        defer { fixture.folder.remove() }
        try DumpWriter.writeZip(Self.day(0), symbol: Self.btc, name: Self.dateName(0), into: fixture.dumps)
        // Wrong checksum.
        let tampered = try DumpWriter.writeZip(Self.day(1), symbol: Self.btc, name: Self.dateName(1), into: fixture.dumps)
        try Data("\(String(repeating: "0", count: 64))  x.zip\n".utf8).write(to: URL(fileURLWithPath: tampered + ".CHECKSUM"))
        // Corrupt zip (no checksum to catch it first).
        let corrupt = try DumpWriter.writeZip(Self.day(2), symbol: Self.btc, name: Self.dateName(2), into: fixture.dumps, checksum: false)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: corrupt))
        for index in 60..<90 { bytes[index] ^= 0x5A }
        try bytes.write(to: URL(fileURLWithPath: corrupt))
        // Wrong column count on line 3, and a non-numeric field on line 2.
        var rows = DumpWriter.csv(Array(Self.day(3).prefix(5)))
        let lines = rows.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        rows = Array(lines[0]) + [10] + Array(lines[1]) + [10] + Array(lines[2].dropLast(2)) + [10] + Array(lines[3]) + [10]
        try Data(rows).write(to: URL(fileURLWithPath: fixture.dumps + "/BTCUSDT-1m-\(Self.dateName(3)).csv"))
        var text = String(decoding: DumpWriter.csv(Array(Self.day(4).prefix(3))), as: UTF8.self)
        text = text.replacingOccurrences(of: "\n", with: "\nx", options: [], range: text.range(of: "\n"))
        try Data(text.utf8).write(to: URL(fileURLWithPath: fixture.dumps + "/BTCUSDT-1m-\(Self.dateName(4)).csv"))

        let report = try await fixture.run()
        #expect(report.filesImported == 1)
        let messages = Dictionary(uniqueKeysWithValues: report.failures.map { (($0.file as NSString).lastPathComponent, $0.message) })
        #expect(messages.count == 4)
        #expect(messages[(tampered as NSString).lastPathComponent]?.contains("SHA-256") == true)
        #expect(messages[(corrupt as NSString).lastPathComponent]?.contains("zip") == true)
        #expect(messages["BTCUSDT-1m-\(Self.dateName(3)).csv"]?.hasPrefix("line 3: expected 12 columns") == true)
        #expect(messages["BTCUSDT-1m-\(Self.dateName(4)).csv"]?.hasPrefix("line 2: open time") == true)
        #expect(try await fixture.stored(.oneMinute) == Self.day(0))
    }

    @Test func filesOfOtherIntervalsAndUnknownIntervalsAreRefusedUpFront() throws {
        let folder = try TemporaryDirectory("import-plan")
        defer { folder.remove() }
        for name in ["BTCUSDT-1h-2024-01-01.csv", "BTCUSDT-7m-2024-01-01.csv"] {
            let path = folder.path + "/" + name
            try Data().write(to: URL(fileURLWithPath: path))
            #expect(throws: ImportError.self) { try DumpImporter.plan(paths: [path], symbol: nil) }
        }
        #expect(throws: ImportError.self) { try DumpImporter.plan(paths: [folder.path + "/missing.zip"], symbol: nil) }
    }
}
