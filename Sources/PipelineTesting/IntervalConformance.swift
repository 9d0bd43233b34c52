import ExchangeSimulator
public import MarketData
public import Warehouse

/// Candles of every interval, formed by ``CandleReader`` from what each backend stores, against the simulator's own
/// candles of the same minutes (which it folds the way Binance does).
extension WarehouseConformance {
    /// 2024-01-25T00:00Z: a Thursday, so the first week and month are partial.
    static let intervalStart: Int64 = 1_706_140_800_000
    /// 2024-03-05T00:00Z: 40 days later, across the leap February.
    static let intervalEnd: Int64 = 1_709_596_800_000
    /// 2024-02-11T03:40Z: the minute an outage cuts short (it closes at 03:40:54.773); the next 90 minutes are missing.
    static let outageMinute: Int64 = 1_707_622_800_000
    /// 2024-02-20T10:00Z: an hour in which nothing trades.
    static let quietHour: Int64 = 1_708_423_200_000

    /// 40 days of minutes: a seeded random walk with one minute in ten without trades, a quiet hour, and an outage.
    public static func intervalMinutes(seed: UInt64 = 24) -> [Kline] {
        var generator = SeededGenerator(seed: seed)
        var minutes: [Kline] = []
        minutes.reserveCapacity(57_600)
        var close: Int128 = 4_300_000_000_000  // 43000.00000000
        var open = intervalStart
        while open < intervalEnd {
            defer { open += 60_000 }
            if open > outageMinute && open <= outageMinute + 90 * 60_000 { continue }
            let closeTime = open == outageMinute ? open + 54_773 : open + 59_999
            let quiet = (quietHour..<quietHour + 3_600_000).contains(open) || Int.random(in: 0..<10, using: &generator) == 0
            if quiet {
                let price = ExactDecimal(units: close)
                minutes.append(
                    Kline(
                        openTime: open, open: price, high: price, low: price, close: price, volume: .zero, closeTime: closeTime,
                        quoteVolume: .zero, tradeCount: 0, takerBuyBaseVolume: .zero, takerBuyQuoteVolume: .zero))
                continue
            }
            let first = close + Int128(Int.random(in: -20_000_000...20_000_000, using: &generator))
            let last = first + Int128(Int.random(in: -90_000_000...90_000_000, using: &generator))
            let high = max(first, last) + Int128(Int.random(in: 0...30_000_000, using: &generator))
            let low = min(first, last) - Int128(Int.random(in: 0...30_000_000, using: &generator))
            let volume = Int128(Int.random(in: 1...500_000_000, using: &generator))
            let taker = volume / Int128(Int.random(in: 1...4, using: &generator))
            minutes.append(
                Kline(
                    openTime: open, open: ExactDecimal(units: first), high: ExactDecimal(units: high), low: ExactDecimal(units: low),
                    close: ExactDecimal(units: last), volume: ExactDecimal(units: volume), closeTime: closeTime,
                    quoteVolume: ExactDecimal(units: volume * 43_000 + 7), tradeCount: Int64.random(in: 1...400, using: &generator),
                    takerBuyBaseVolume: ExactDecimal(units: taker), takerBuyQuoteVolume: ExactDecimal(units: taker * 43_000 + 3)))
            close = last
        }
        return minutes
    }

    /// Loads ``intervalMinutes(seed:)`` as final candles (one import, as `cryptopipe import` would) and rolls up.
    static func loadIntervalMinutes(_ warehouse: any Warehouse) async throws -> [Kline] {
        let minutes = intervalMinutes()
        _ = try await warehouse.importKlines([
            KlineImport(
                batch: KlineBatch(minutes), symbol: btc, capturedAt: intervalEnd + 60_000,
                object: ProcessedObject(bucket: "import", key: "import/BTCUSDT/intervals.zip#1", processedAt: 1))
        ])
        _ = try await warehouse.rollUpPending()
        return minutes
    }

    /// The simulator's candles of `interval` over the same minutes.
    static func exchangeCandles(_ minutes: [Kline], _ interval: Interval) -> [Kline] {
        ReplayMarket(candles: [btc: minutes]).klines(
            btc, interval: interval, startTime: interval.openTime(containing: intervalStart), endTime: .max, now: .max, limit: .max)
    }

    static let intervalChecks: [ConformanceCheck<any Warehouse>] = [
        ConformanceCheck("every interval from 1m to 1M equals the exchange's own candles, outage and leap February included") {
            warehouse in
            let minutes = try await loadIntervalMinutes(warehouse)
            let reader = CandleReader(warehouse)
            for interval in CandleReader.intervals {
                let formed = try await reader.klines(symbol: btc, interval: interval, from: 0, to: .max, includeOpen: true, limit: nil)
                let expected = exchangeCandles(minutes, interval)
                try require(!expected.isEmpty && formed.map(\.kline) == expected, "\(interval): \(difference(formed, expected))")
                // Every candle whose last part is stored is final; the one the data stops inside is still open.
                for (index, candle) in formed.enumerated() {
                    let complete = interval.nextOpenTime(after: candle.kline.openTime) <= intervalEnd
                    try require(candle.isFinal == complete, "\(interval) candle \(index) final: \(candle.isFinal)")
                }
            }
            // The outage: the minute cut short closes its hour, 2h, 4h and 6h candles early, as Binance's do.
            for interval in [Interval.oneHour, .twoHours, .fourHours] {
                let candle = try await reader.klines(
                    symbol: btc, interval: interval, from: interval.openTime(containing: outageMinute),
                    to: interval.openTime(containing: outageMinute), includeOpen: true, limit: 1)
                try require(candle.first?.kline.closeTime == outageMinute + 54_773, "\(interval) closes at the outage")
            }
            // Weeks open on Monday 00:00 UTC; February 2024 has 29 days.
            let weeks = try await reader.klines(symbol: btc, interval: .oneWeek, from: 0, to: .max, includeOpen: true, limit: nil)
            let week: Int64 = 7 * 86_400_000
            let monday: Int64 = 4 * 86_400_000
            let mondays = weeks.allSatisfy { ($0.kline.openTime - monday) % week == 0 }
            try require(mondays && weeks.count == 7, "weeks: \(weeks.map(\.kline.openTime))")
            let months = try await reader.klines(symbol: btc, interval: .oneMonth, from: 0, to: .max, includeOpen: true, limit: nil)
            try require(
                months.map(\.kline.openTime) == [1_704_067_200_000, 1_706_745_600_000, 1_709_251_200_000]
                    && months[1].kline.closeTime == 1_709_251_199_999,
                "months: \(months.map { ($0.kline.openTime, $0.kline.closeTime) })")
            try require(months[1].isFinal && !months[2].isFinal, "February is final and March open")
        },
        ConformanceCheck("limits, ranges and the newest open candle of every formed interval") { warehouse in
            let minutes = try await loadIntervalMinutes(warehouse)
            let reader = CandleReader(warehouse)
            // The next day's first minute, final, and its second still open, as a cycle stores them mid-minute.
            var next = minutes[minutes.count - 1]
            (next.openTime, next.closeTime) = (intervalEnd, intervalEnd + 59_999)
            var open = next
            (open.openTime, open.closeTime) = (intervalEnd + 60_000, intervalEnd + 119_999)
            _ = try await warehouse.loadKlines(
                [next, open], symbol: btc, interval: .oneMinute, capturedAt: intervalEnd + 90_000, object: object("open.json"))
            _ = try await warehouse.rollUpPending()
            for interval in [Interval.threeMinutes, .fifteenMinutes, .thirtyMinutes, .fourHours, .oneWeek, .oneMonth] {
                let all = exchangeCandles(minutes + [next, open], interval)
                let recent = try await reader.recentKlines(symbol: btc, interval: interval, endingAt: .max, includeOpen: true, limit: 5)
                // Hours and days hold final minutes only, so the newest candle formed from them leaves the open minute out.
                let count = min(5, all.count)
                let compared = CandleReader.source(of: interval) == .oneMinute ? count : count - 1
                try require(
                    recent.count == count && Array(recent.map(\.kline).prefix(compared)) == Array(all.suffix(5).prefix(compared)),
                    "\(interval) recent: \(difference(recent, Array(all.suffix(5))))")
                try require(recent.last.map { !$0.isFinal } == true, "\(interval): the newest candle is not open")
                let closed = try await reader.recentKlines(symbol: btc, interval: interval, endingAt: .max, includeOpen: false, limit: 2)
                try require(closed.count == 2 && closed.allSatisfy(\.isFinal), "\(interval): closed candles only")
                let middle = all[all.count / 2]
                let ranged = try await reader.klines(
                    symbol: btc, interval: interval, from: middle.openTime - 1, to: .max, includeOpen: false, limit: 2)
                let closedFromMiddle = all[(all.count / 2)...].filter { interval.nextOpenTime(after: $0.openTime) <= intervalEnd + 60_000 }
                try require(ranged.map(\.kline) == Array(closedFromMiddle.prefix(2)), "\(interval) range from the middle")
                let before = try await reader.recentKlines(
                    symbol: btc, interval: interval, endingAt: middle.openTime + 1, includeOpen: false, limit: 3)
                try require(before.map(\.kline) == Array(all[..<(all.count / 2 + 1)].suffix(3)), "\(interval) ending in the middle")
            }
        },
        ConformanceCheck("candles formed with the cache of complete ones equal those formed from every minute") { warehouse in
            let minutes = try await loadIntervalMinutes(warehouse)
            let plain = CandleReader(warehouse)
            let cache = FormedCandleCache()
            let cached = CandleReader(warehouse, formed: cache)
            func compare(_ label: String) async throws {
                for interval in [Interval.threeMinutes, .fiveMinutes, .fifteenMinutes, .thirtyMinutes] {
                    for (endingAt, limit) in [(Int64.max, 500), (outageMinute + 3_600_000, 40), (intervalStart + 86_400_000, 1_000)] {
                        for includeOpen in [true, false] {
                            let expected = try await plain.recentKlines(
                                symbol: btc, interval: interval, endingAt: endingAt, includeOpen: includeOpen, limit: limit)
                            let formed = try await cached.recentKlines(
                                symbol: btc, interval: interval, endingAt: endingAt, includeOpen: includeOpen, limit: limit)
                            try require(
                                formed == expected,
                                "\(label) \(interval) ending \(endingAt) limit \(limit): \(difference(formed, expected.map(\.kline)))")
                        }
                    }
                }
            }
            try await compare("first read")
            try require(cache.count > 1_000, "nothing kept: \(cache.count)")
            try await compare("from the cache")
            // New minutes, the newest still open, and a gap inside the outage filled: only new minutes are read.
            var next = minutes[minutes.count - 1]
            (next.openTime, next.closeTime) = (intervalEnd, intervalEnd + 59_999)
            var open = next
            (open.openTime, open.closeTime) = (intervalEnd + 60_000, intervalEnd + 119_999)
            var filled = next
            (filled.openTime, filled.closeTime) = (outageMinute + 60_000, outageMinute + 119_999)
            _ = try await warehouse.loadKlines(
                [filled, next, open], symbol: btc, interval: .oneMinute, capturedAt: intervalEnd + 90_000, object: object("new.json"))
            try await compare("after new minutes")
            _ = try await warehouse.deleteMinuteData(before: intervalStart + 10 * 86_400_000)
            try await compare("after retention")
            // A week without minutes: the walk jumps over it rather than reading it period by period, and still agrees.
            _ = try await warehouse.loadKlines(
                [next], symbol: eth, interval: .oneMinute, capturedAt: intervalEnd + 90_000, object: object("eth-late.json"))
            _ = try await warehouse.loadKlines(
                Array(minutes.prefix(1_440)), symbol: eth, interval: .oneMinute, capturedAt: intervalEnd, object: object("eth.json"))
            for interval in [Interval.threeMinutes, .thirtyMinutes] {
                let expected = try await plain.recentKlines(
                    symbol: eth, interval: interval, endingAt: .max, includeOpen: false, limit: 1_000)
                let formed = try await cached.recentKlines(
                    symbol: eth, interval: interval, endingAt: .max, includeOpen: false, limit: 1_000)
                // The lone minute's candle is still open; the day's candles are all there.
                let day = Int(1_440 * 60_000 / (interval.milliseconds ?? 1))
                try require(
                    formed == expected && formed.count == day,
                    "\(interval) across a hole: \(formed.count) formed, \(expected.count) expected, \(day) in the day")
            }
        },
        ConformanceCheck("intervals of hours and longer reach back past the minutes' retention") { warehouse in
            _ = try await loadIntervalMinutes(warehouse)
            let reader = CandleReader(warehouse)
            let longer: [Interval] = [.twoHours, .fourHours, .twelveHours, .threeDays, .oneWeek, .oneMonth]
            var before: [Interval: [StoredKline]] = [:]
            for interval in longer {
                before[interval] = try await reader.klines(
                    symbol: btc, interval: interval, from: 0, to: .max, includeOpen: true, limit: nil)
            }
            _ = try await warehouse.deleteMinuteData(before: intervalEnd)
            try require(
                try await warehouse.klines(symbol: btc, interval: .oneMinute, from: 0, to: .max, includeOpen: true, limit: nil).isEmpty,
                "minutes left")
            for interval in longer {
                let after = try await reader.klines(symbol: btc, interval: interval, from: 0, to: .max, includeOpen: true, limit: nil)
                try require(!after.isEmpty && after == before[interval], "\(interval) changed when the minutes went")
            }
            try require(
                try await reader.klines(symbol: btc, interval: .fifteenMinutes, from: 0, to: .max, includeOpen: true, limit: nil).isEmpty,
                "15m candles without minutes")
        },
    ]

    /// The first candle that differs, for a failure message.
    static func difference(_ formed: [StoredKline], _ expected: [Kline]) -> String {
        guard let index = zip(formed.map(\.kline), expected).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset
        else {
            return "\(formed.count) candles formed, \(expected.count) expected"
        }
        return "candle \(index) differs: formed \(formed[index].kline), expected \(expected[index])"
    }
}
