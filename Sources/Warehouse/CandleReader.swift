public import MarketData

/// The stored candles every interval is formed from: 1m rows, and the hourly and daily roll-ups.
public protocol StoredCandles: Sendable {
    /// Stored candles of `interval` opening in `[from, to]`, ascending: 1m from `fact_klines`, 1h from
    /// `hourly_klines`, 1d from `daily_klines`.
    func klines(
        symbol: Symbol, interval: Interval, from: Int64, to: Int64, includeOpen: Bool, limit: Int?
    ) async throws(WarehouseError) -> [StoredKline]
    /// The newest `limit` stored candles of `interval` (1m, 1h or 1d) opening at or before `endingAt`, ascending.
    func recentKlines(
        symbol: Symbol, interval: Interval, endingAt: Int64, includeOpen: Bool, limit: Int
    ) async throws(WarehouseError) -> [StoredKline]
}

/// Candles of every Binance interval from 1m to 1M, formed from the stored ones by Binance's rule
/// (``KlineRollup``: minutes without trades do not set open, high or low; sums are exact; a period whose last part was
/// cut short closes where it did).
///
/// The rule is written here once, for every backend: 1m, 1h and 1d are read as stored; 3m–30m are folded from minutes;
/// 2h–12h from the hourly roll-ups and 3d, 1w and 1M from the daily ones, which cover those intervals exactly, are far
/// fewer rows than the minutes, and outlive the minutes' retention. Nothing is materialised: a 15m candle costs reading
/// its 15 minutes, and the API keeps the answer until the data changes.
///
/// A formed candle is final once its last part is: every stored part in it is final and the symbol has a final part
/// at or after the period's last one (as the hourly and daily roll-ups decide), so the newest candle of each interval
/// stays open until its close.
public struct CandleReader: Sendable {
    public let store: any StoredCandles

    public init(_ store: any StoredCandles) {
        self.store = store
    }

    /// The intervals candles can be formed for: every Binance k-line interval from 1m to 1M.
    public static let intervals: [Interval] = Interval.minuteAndLonger

    /// The stored interval `interval`'s candles are formed from (itself for 1m, 1h and 1d).
    public static func source(of interval: Interval) -> Interval {
        switch interval {
        case .oneSecond, .oneMinute, .threeMinutes, .fiveMinutes, .fifteenMinutes, .thirtyMinutes: .oneMinute
        case .oneHour, .twoHours, .fourHours, .sixHours, .eightHours, .twelveHours: .oneHour
        case .oneDay, .threeDays, .oneWeek, .oneMonth: .oneDay
        }
    }

    /// At most this many stored parts make one candle of `interval` (31 days for a month).
    static func partsPerCandle(_ interval: Interval) -> Int {
        let source = source(of: interval)
        guard let length = interval.milliseconds, let part = source.milliseconds else { return 31 }
        return Int(length / part)
    }

    /// Candles opening in `[from, to]`, ascending, at most `limit` (the oldest first).
    public func klines(
        symbol: Symbol, interval: Interval, from: Int64, to: Int64, includeOpen: Bool, limit: Int?
    ) async throws(WarehouseError) -> [StoredKline] {
        let source = Self.source(of: interval)
        guard source != interval else {
            return try await store.klines(symbol: symbol, interval: interval, from: from, to: to, includeOpen: includeOpen, limit: limit)
        }
        // Outside input: clamped to the years candles may have, so the calendar arithmetic below cannot overflow.
        let (from, to) = (Self.clamped(from), Self.clamped(to))
        guard from <= to else { return [] }
        var first = interval.openTime(containing: from)
        if first < from { first = interval.nextOpenTime(after: first) }
        let last = interval.openTime(containing: to)
        guard first <= last else { return [] }
        let partsLimit = limit.map { ($0 + 1) * Self.partsPerCandle(interval) }
        let parts = try await store.klines(
            symbol: symbol, interval: source, from: first, to: interval.nextOpenTime(after: last) - 1, includeOpen: true, limit: partsLimit)
        var candles = try await form(parts, symbol: symbol, interval: interval, includeOpen: includeOpen)
        // A limited read may stop inside a candle: the last one is then dropped, unless it is one of the first `limit`.
        if let partsLimit, parts.count == partsLimit, let limit, candles.count > limit { candles.removeLast() }
        if let limit, candles.count > limit { candles.removeLast(candles.count - limit) }
        return candles
    }

    /// The newest `limit` candles opening at or before `endingAt`, ascending.
    public func recentKlines(
        symbol: Symbol, interval: Interval, endingAt: Int64, includeOpen: Bool, limit: Int
    ) async throws(WarehouseError) -> [StoredKline] {
        let source = Self.source(of: interval)
        guard source != interval else {
            return try await store.recentKlines(
                symbol: symbol, interval: interval, endingAt: endingAt, includeOpen: includeOpen, limit: limit)
        }
        guard limit > 0, endingAt >= 0 else { return [] }
        let last = interval.openTime(containing: Self.clamped(endingAt))
        // One candle more than asked for in case the newest is open and left out, one more for the oldest being cut.
        let partsLimit = (limit + 2) * Self.partsPerCandle(interval)
        let parts = try await store.recentKlines(
            symbol: symbol, interval: source, endingAt: interval.nextOpenTime(after: last) - 1, includeOpen: true, limit: partsLimit)
        var candles = try await form(parts, symbol: symbol, interval: interval, includeOpen: includeOpen)
        // The oldest candle may be missing parts the limit cut off.
        if parts.count == partsLimit, !candles.isEmpty { candles.removeFirst() }
        return Array(candles.suffix(limit))
    }

    /// Folds ascending stored parts into candles of `interval`.
    func form(
        _ parts: [StoredKline], symbol: Symbol, interval: Interval, includeOpen: Bool
    ) async throws(WarehouseError)
        -> [StoredKline]
    {
        guard !parts.isEmpty else { return [] }
        let source = Self.source(of: interval)
        let newestFinal =
            try await store.recentKlines(
                symbol: symbol, interval: source, endingAt: .max, includeOpen: false, limit: 1
            ).first?.kline.openTime ?? .min
        var candles: [StoredKline] = []
        candles.reserveCapacity(parts.count / max(1, Self.partsPerCandle(interval) / 2) + 1)
        var start = parts.startIndex
        while start < parts.endIndex {
            let open = interval.openTime(containing: parts[start].kline.openTime)
            let next = interval.nextOpenTime(after: open)
            var end = start + 1
            while end < parts.endIndex, parts[end].kline.openTime < next { end += 1 }
            let group = parts[start..<end]
            start = end
            let lastPart = source.openTime(containing: next - 1)
            let isFinal = newestFinal >= lastPart && group.allSatisfy(\.isFinal)
            guard includeOpen || isFinal else { continue }
            let candle: Kline?
            do {
                candle = try KlineRollup.combineChecked(
                    group.lazy.map(\.kline), openTime: open, closeTime: next - 1, partDuration: source.milliseconds)
            } catch {
                throw WarehouseError(operation: "form the \(interval) candles of \(symbol)", detail: error.description)
            }
            if let candle { candles.append(StoredKline(kline: candle, isFinal: isFinal)) }
        }
        return candles
    }

    static func clamped(_ time: Int64) -> Int64 { min(max(time, 0), UTCTime.latest) }
}
