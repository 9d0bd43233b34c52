import MarketData
import Testing

@testable import Warehouse

/// A period whose candle cannot be computed (a sum overflows, or it ends past `Int64.max`) stays pending and is
/// reported; every other period is rolled up.
struct RollupOverflowTests {
    static let btc = try! Symbol("BTCUSDT")
    /// 2024-01-01T00:00:00Z.
    static let day: Int64 = 1_704_067_200_000
    static let hugeVolume = try! ExactDecimal(parsing: String(repeating: "9", count: 29))

    static func minute(_ openTime: Int64, volume: ExactDecimal = ExactDecimal(1), closeTime: Int64? = nil) -> Kline {
        Kline(
            openTime: openTime, open: ExactDecimal(10), high: ExactDecimal(11), low: ExactDecimal(9), close: ExactDecimal(10),
            volume: volume, closeTime: closeTime ?? openTime + 59_999, quoteVolume: volume, tradeCount: 1, takerBuyBaseVolume: volume,
            takerBuyQuoteVolume: volume)
    }

    /// The roll-up's storage steps over arrays, for one symbol.
    final class MemoryRollupStore: RollupStore {
        struct Mark: Hashable, Comparable {
            var period: RollupPeriod
            var openTime: Int64
            static func < (a: Mark, b: Mark) -> Bool { (a.period.rawValue, a.openTime) < (b.period.rawValue, b.openTime) }
        }
        var marks: Set<Mark> = []
        var minutes: [Kline] = []
        var rows: [RollupTable: [Int64: (candle: Kline, minuteCount: Int64, isFinal: Bool)]] = [:]

        func pending(period: RollupPeriod) throws -> [(symbol: String, openTime: Int64)] {
            marks.filter { $0.period == period }.sorted().map { ("BTCUSDT", $0.openTime) }
        }
        func clearPending(period: RollupPeriod) throws { marks = marks.filter { $0.period != period } }
        func markPending(symbol: Symbol, period: RollupPeriod, openTimes: Set<Int64>) throws {
            for time in openTimes { marks.insert(Mark(period: period, openTime: time)) }
        }
        func newestFinalMinute(_ symbol: String) throws -> Int64 { minutes.map(\.openTime).max() ?? .min }
        func parts(symbol: Symbol, interval: Interval, from: Int64, to: Int64) throws -> [Kline] {
            let candles = interval == .oneMinute ? minutes : (rows[.hourly] ?? [:]).values.map(\.candle)
            return candles.filter { (from...to).contains($0.openTime) }.sorted { $0.openTime < $1.openTime }
        }
        func minuteCount(symbol: Symbol, from: Int64, to: Int64) throws -> Int64 {
            (rows[.hourly] ?? [:]).filter { (from...to).contains($0.key) }.values.reduce(0) { $0 + $1.minuteCount }
        }
        func storedHour(symbol: Symbol, openTime: Int64) throws -> (minuteCount: Int64, isFinal: Bool)? {
            rows[.hourly]?[openTime].map { ($0.minuteCount, $0.isFinal) }
        }
        func store(_ table: RollupTable, symbol: Symbol, candle: Kline, minuteCount: Int64, isFinal: Bool) throws {
            rows[table, default: [:]][candle.openTime] = (candle, minuteCount, isFinal)
        }
        func deleteOpen(_ table: RollupTable, symbol: Symbol, openTime: Int64) throws {
            if rows[table]?[openTime]?.isFinal == false { rows[table]?[openTime] = nil }
        }
    }

    @Test func anHourWhoseVolumesOverflowStaysPendingWithItsDay() throws {
        let store = MemoryRollupStore()
        let (first, second) = (Self.day, Self.day + 3_600_000)
        // The first hour is ordinary; the second holds twenty minutes of 10²⁹ volume, more than Int128 units hold.
        store.minutes =
            (0..<60).map { Self.minute(first + Int64($0) * 60_000) }
            + (0..<60).map { Self.minute(second + Int64($0) * 60_000, volume: $0 < 20 ? Self.hugeVolume : ExactDecimal(1)) }
        try store.markPending(symbol: Self.btc, period: .hour, openTimes: [first, second])

        var failures: [RollupFailure] = []
        let report = try RollupAlgorithm.rollUpPending(store, failures: &failures)
        #expect(report == RollupReport(hours: 1, days: 0))
        #expect(failures.map(\.openTime) == [second] && failures.first?.period == .hour)
        #expect(failures.first?.description.contains("volume of the candle opening at \(second) overflows") == true)
        #expect(store.rows[.hourly]?.keys.sorted() == [first] && store.rows[.daily] == nil)
        // The hour and its day wait for a roll-up that can compute them.
        #expect(store.marks == [.init(period: .hour, openTime: second), .init(period: .day, openTime: Self.day)])

        // Once the minutes are corrected (a reload upserts them), both are rolled up.
        store.minutes = store.minutes.map { Self.minute($0.openTime) }
        failures = []
        #expect(try RollupAlgorithm.rollUpPending(store, failures: &failures) == RollupReport(hours: 1, days: 1))
        #expect(failures.isEmpty && store.marks.isEmpty)
        #expect(store.rows[.daily]?[Self.day]?.candle.volume == ExactDecimal(120))
    }

    @Test func anHourEndingPastInt64MaxStaysPending() throws {
        let store = MemoryRollupStore()
        let last = Interval.oneHour.openTime(containing: .max)
        store.minutes = [Self.minute(last, closeTime: .max), Self.minute(Self.day)]
        try store.markPending(symbol: Self.btc, period: .hour, openTimes: [Self.day, last])
        var failures: [RollupFailure] = []
        let report = try RollupAlgorithm.rollUpPending(store, failures: &failures)
        #expect(report.hours == 1 && report.days == 1)
        #expect(failures.map(\.openTime) == [last] && failures.first?.reason == .periodOutOfRange)
        #expect(store.marks.contains(.init(period: .hour, openTime: last)))
        #expect(RollupAlgorithm.runs(of: [.min, 0, .max], maximumGap: 3_600_000) == [[.min], [0], [.max]])
    }

    @Test func anImportedHourTheBatchCouldNotRollUpIsLeftPending() {
        let minutes = (0..<20).map { Self.minute(Self.day + Int64($0) * 60_000, volume: Self.hugeVolume) }
        let batch = KlineBatch(minutes)
        #expect(batch.hours.isEmpty)
        let plan = RollupAlgorithm.importPlan(batch.klines, hours: batch.hours, capturedAt: Self.day + 86_400_000)
        #expect(plan.complete.isEmpty && plan.pendingHours == [Self.day])
    }
}
