import ExchangeSimulator
import Logging
import MarketData
import Pipeline
import PipelineTesting
import Testing
import Warehouse

/// The adoption algorithm on an in-memory source: resumable after a stop, and idempotent.
struct AdoptionTests {
    static let btc = try! Symbol("BTCUSDT")
    static let start: Int64 = 1_772_323_200_000

    /// The original's rows of 300 minutes, each stored five seconds after it closed.
    struct Source: OriginalDatabase {
        let rows: [OriginalMinuteRow]
        var identity: String { "memory/legacy" }

        static func dateTime(_ time: Int64) -> String {
            UTCTime.iso8601(time / 1_000 * 1_000).prefix(19).replacingOccurrences(of: "T", with: " ")
        }

        init() {
            let market = SyntheticMarket(seed: 4, symbols: [AdoptionTests.btc])
            rows = (0..<300).compactMap { market.minuteCandle(AdoptionTests.btc, minuteOpen: AdoptionTests.start + Int64($0) * 60_000) }.map
            {
                OriginalMinuteRow(
                    symbol: "BTCUSDT", openTime: Self.dateTime($0.openTime), open: "\($0.open)", high: "\($0.high)", low: "\($0.low)",
                    close: "\($0.close)", volume: "\($0.volume)", quoteVolume: "\($0.quoteVolume)", tradeCount: $0.tradeCount,
                    takerBuyVolume: "\($0.takerBuyBaseVolume)", takerBuyQuoteVolume: "\($0.takerBuyQuoteVolume)",
                    createdAt: Self.dateTime($0.closeTime + 5_001))
            }
        }

        func counts(
            minutesAfter: OriginalCursor?, snapshotsAfter: OriginalCursor?
        ) async throws(AdoptionError) -> (
            minutes: Int, snapshots: Int, otherIntervals: Int
        ) {
            (try await minutes(after: minutesAfter, limit: .max).count, 0, 0)
        }

        func minutes(after cursor: OriginalCursor?, limit: Int) async throws(AdoptionError) -> [OriginalMinuteRow] {
            Array(rows.filter { cursor == nil || ($0.symbol, $0.openTime) > (cursor!.symbol, cursor!.time) }.prefix(limit))
        }

        func snapshots(after cursor: OriginalCursor?, limit: Int) async throws(AdoptionError) -> [OriginalBookRow] { [] }
        func extractionMetadata() async throws(AdoptionError) -> [OriginalExtractionRow] { [] }
        /// One fetch, ten minutes before the first minute: the ledger covers every minute and none was caught open.
        func klineFetchTimes(symbol: String) async throws(AdoptionError) -> [Int64] { [AdoptionTests.start - 600_000] }
        func aggregatesWithoutMinutes() async throws(AdoptionError) -> [OriginalPeriodsWithoutMinutes] { [] }
    }

    @Test func aStoppedAdoptionContinuesWhereItStoppedAndARepeatWritesNothing() async throws {
        let folder = try TemporaryDirectory("adopt")
        defer { folder.remove() }
        let warehouse = try SQLiteWarehouse(path: folder.path + "/warehouse.sqlite")
        try await warehouse.migrate()
        let source = Source()
        let adopter = Adopter(
            source: source, warehouse: warehouse, clock: PipelineClock(now: { Self.start + 86_400_000 }), logger: Logger(label: "test"),
            minutesPerPage: 70)

        // Stopped after two pages.
        var pages = 0
        let stopped = try await adopter.run(progress: { _ in pages += 1 }, isCancelled: { pages >= 2 })
        #expect(stopped.interrupted && stopped.minutesRead == 140 && stopped.minutesWritten == 140)

        var seen: [AdoptionProgress] = []
        let resumed = try await adopter.run(progress: { seen.append($0) })
        #expect(!resumed.interrupted && resumed.resumed && resumed.minutesRead == 160 && resumed.minutesWritten == 160)
        #expect(seen.last.map { $0.done == 160 && $0.total == 160 } == true)
        let stored = try await warehouse.klines(symbol: Self.btc, interval: .oneMinute, from: 0, to: .max, includeOpen: true, limit: nil)
        #expect(stored.count == 300 && stored.allSatisfy(\.isFinal))
        #expect(
            try await warehouse.klines(symbol: Self.btc, interval: .oneHour, from: 0, to: .max, includeOpen: false, limit: nil).count == 5)

        // A finished adoption run again reads the source whole: the upserts write nothing.
        let repeated = try await adopter.run()
        #expect(repeated.minutesRead == 300 && repeated.minutesWritten == 0)
    }
}
