public import MarketData

/// Plays back real 1m candles (from data.binance.vision dumps) as a market: a candle is served once it has opened on
/// the simulator's clock, longer intervals are folded from the minutes with Binance's rule, and the order book is
/// made up around the last price.
///
/// A dump holds only final candles, so the minute in progress is served with its final values (its close time still
/// lies ahead, so clients treat it as open).
public struct ReplayMarket: SimulatedMarket {
    public let symbols: [Symbol]
    /// Per symbol, 1m candles by ascending open time.
    let candles: [Symbol: [Kline]]
    /// Per symbol, exchangeInfo's tick and step for these candles.
    let rules: [Symbol: TradingRules]

    /// `candles` per symbol, in any order; repeats of an open time keep the last.
    public init(candles: [Symbol: [Kline]]) {
        var sorted: [Symbol: [Kline]] = [:]
        for (symbol, list) in candles {
            var byOpen: [Int64: Kline] = [:]
            for candle in list { byOpen[candle.openTime] = candle }
            sorted[symbol] = byOpen.values.sorted { $0.openTime < $1.openTime }
        }
        self.candles = sorted
        self.rules = sorted.mapValues(Self.rules(for:))
        self.symbols = sorted.filter { !$0.value.isEmpty }.keys.sorted()
    }

    /// Open time of the first and the last candle over every symbol; `nil` without candles.
    public var span: ClosedRange<Int64>? {
        let firsts = candles.values.compactMap(\.first?.openTime)
        let lasts = candles.values.compactMap(\.last?.openTime)
        guard let first = firsts.min(), let last = lasts.max() else { return nil }
        return first...last
    }

    public func minuteCandle(_ symbol: Symbol, minuteOpen: Int64) -> Kline? {
        guard let list = candles[symbol] else { return nil }
        let index = Self.firstIndex(in: list, openingAtOrAfter: minuteOpen)
        return index < list.count && list[index].openTime == minuteOpen ? list[index] : nil
    }

    public func klines(_ symbol: Symbol, interval: Interval, startTime: Int64, endTime: Int64, now: Int64, limit: Int) -> [Kline] {
        // Nothing opens after the recording's last candle: the walk over longer intervals stops there.
        guard let list = candles[symbol], let lastOpen = list.last?.openTime else { return [] }
        let end = min(endTime, now, lastOpen)
        if interval == .oneMinute {
            var result: [Kline] = []
            var index = Self.firstIndex(in: list, openingAtOrAfter: startTime)
            while index < list.count, list[index].openTime <= end, result.count < limit {
                result.append(list[index])
                index += 1
            }
            return result
        }
        var result: [Kline] = []
        var open = interval.openTime(containing: startTime)
        if open < startTime { open = interval.nextOpenTime(after: open) }
        while open <= end, result.count < limit {
            if let candle = folded(list, interval: interval, open: open, now: now) { result.append(candle) }
            open = interval.nextOpenTime(after: open)
        }
        return result
    }

    public func latestKlines(_ symbol: Symbol, interval: Interval, endTime: Int64, now: Int64, limit: Int) -> [Kline] {
        guard let list = candles[symbol], let lastOpen = list.last?.openTime else { return [] }
        let end = min(endTime, now, lastOpen)
        if interval == .oneMinute {
            let stop = Self.firstIndex(in: list, openingAtOrAfter: end + 1)
            return Array(list[max(0, stop - limit)..<stop])
        }
        // Walk back from the interval containing `end` until `limit` candles are found or the data ends.
        var result: [Kline] = []
        var open = interval.openTime(containing: end)
        let first = list.first?.openTime ?? .max
        while result.count < limit, interval.nextOpenTime(after: open) > first {
            if let candle = folded(list, interval: interval, open: open, now: now) { result.append(candle) }
            open = interval.openTime(containing: open - 1)
        }
        return result.reversed()
    }

    public func bookAnchor(_ symbol: Symbol, at time: Int64) -> BookAnchor? {
        guard let last = latestKlines(symbol, interval: .oneMinute, endTime: time, now: time, limit: 1).first?.close, last.units > 0 else {
            return nil
        }
        // The price's own last digit is the tick: 42000.01 ticks by 0.01.
        var tick: Int128 = 1
        while tick < 100_000_000, last.units % (tick * 10) == 0 { tick *= 10 }
        // Quantities between 0.001 and about 3.
        return BookAnchor.around(price: last.units, tick: tick, spreadLevels: 1, lot: 100_000, typicalLots: 1_000)
    }

    /// The candle of `interval` opening at `open` from the minutes opened by `now`; `nil` when it has none.
    private func folded(_ list: [Kline], interval: Interval, open: Int64, now: Int64) -> Kline? {
        let close = interval.nextOpenTime(after: open) - 1
        var index = Self.firstIndex(in: list, openingAtOrAfter: open)
        var minutes: [Kline] = []
        while index < list.count, list[index].openTime <= min(close, now) {
            minutes.append(list[index])
            index += 1
        }
        guard !minutes.isEmpty else { return nil }
        // A last minute cut short by maintenance closes the longer candle there too, as on Binance.
        return KlineRollup.combine(minutes, openTime: open, closeTime: close, partDuration: 60_000)
    }

    /// Binary search: the index of the first candle opening at or after `time` (`list.count` when none does).
    static func firstIndex(in list: [Kline], openingAtOrAfter time: Int64) -> Int {
        var low = 0
        var high = list.count
        while low < high {
            let middle = (low + high) / 2
            if list[middle].openTime < time { low = middle + 1 } else { high = middle }
        }
        return low
    }
}
