public import MarketData
import Synchronization

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
    /// Complete candles formed from minutes before, so a later request reads only the minutes of newer ones.
    public let formed: FormedCandleCache?

    public init(_ store: any StoredCandles, formed: FormedCandleCache? = nil) {
        self.store = store
        self.formed = formed
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
        guard interval != .oneSecond else { return [] }
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
        var candles = try await form(parts, symbol: symbol, interval: interval, includeOpen: true)
        // A limited read may stop inside a candle: the last one is then dropped, unless it is one of the first `limit`.
        if let partsLimit, parts.count == partsLimit, let limit, candles.count > limit { candles.removeLast() }
        if !includeOpen { candles.removeAll { !$0.isFinal } }
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
        guard limit > 0, endingAt >= 0, interval != .oneSecond else { return [] }
        let last = interval.openTime(containing: Self.clamped(endingAt))
        if source == .oneMinute, let formed {
            return try await recentFromMinutes(
                symbol: symbol, interval: interval, last: last, includeOpen: includeOpen, limit: limit, formed: formed)
        }
        // One candle more than asked for in case the newest is open and left out, one more for the oldest being cut.
        let partsLimit = (limit + 2) * Self.partsPerCandle(interval)
        let parts = try await store.recentKlines(
            symbol: symbol, interval: source, endingAt: interval.nextOpenTime(after: last) - 1, includeOpen: true, limit: partsLimit)
        var candles = try await form(parts, symbol: symbol, interval: interval, includeOpen: true)
        // The oldest candle may be missing parts the limit cut off.
        if parts.count == partsLimit, !candles.isEmpty { candles.removeFirst() }
        if !includeOpen { candles.removeAll { !$0.isFinal } }
        return Array(candles.suffix(limit))
    }

    /// ``recentKlines(symbol:interval:endingAt:includeOpen:limit:)`` for an interval formed from minutes, taking the
    /// complete candles it formed before from `formed` and reading only the minutes of the others.
    ///
    /// Walks back period by period from `last`; runs of periods not in the cache are read with one query each (at most
    /// `limit + 2` periods at a time). The walk stops at the period of the oldest stored minute, so a candle whose
    /// minutes retention deleted is not served from the cache either.
    func recentFromMinutes(
        symbol: Symbol, interval: Interval, last: Int64, includeOpen: Bool, limit: Int, formed: FormedCandleCache
    ) async throws(WarehouseError) -> [StoredKline] {
        // The walk runs between the periods of the oldest and the newest stored minute (`last` may be year 9999).
        guard
            let oldest = try await store.klines(
                symbol: symbol, interval: .oneMinute, from: 0, to: .max, includeOpen: true, limit: 1
            ).first?.kline.openTime,
            let newest = try await store.recentKlines(
                symbol: symbol, interval: .oneMinute, endingAt: interval.nextOpenTime(after: last) - 1, includeOpen: true, limit: 1
            ).first?.kline.openTime
        else { return [] }
        let floor = interval.openTime(containing: oldest)
        let last = min(last, interval.openTime(containing: newest))
        var newestFirst: [StoredKline] = []
        /// How many of `newestFirst` the caller gets: all, or the final ones.
        var kept = 0
        var run: (newest: Int64, oldest: Int64, periods: Int)?
        /// Reads the pending run's minutes; returns how many candles they formed.
        func readRun() async throws(WarehouseError) -> Int {
            guard let pending = run else { return 0 }
            run = nil
            let parts = try await store.klines(
                symbol: symbol, interval: .oneMinute, from: pending.oldest, to: interval.nextOpenTime(after: pending.newest) - 1,
                includeOpen: true, limit: nil)
            let candles = try await form(parts, symbol: symbol, interval: interval, includeOpen: true)
            formed.keep(candles, symbol: symbol, interval: interval, parts: parts)
            newestFirst.append(contentsOf: candles.reversed())
            kept += includeOpen ? candles.count : candles.count { $0.isFinal }
            return candles.count
        }
        var period = last
        while kept < limit, period >= floor {
            if let cached = formed.candle(symbol: symbol, interval: interval, openTime: period) {
                _ = try await readRun()
                newestFirst.append(StoredKline(kline: cached, isFinal: true))
                kept += 1
                period = interval.openTime(containing: period - 1)
                continue
            }
            run = (newest: run?.newest ?? period, oldest: period, periods: (run?.periods ?? 0) + 1)
            guard let pending = run, pending.periods > limit - kept else {
                period = interval.openTime(containing: period - 1)
                continue
            }
            // Enough periods for the rest: read them. Where they held fewer candles (a stretch without minutes), the
            // walk jumps to the newest minute before them instead of stepping through the empty periods one by one.
            let candles = try await readRun()
            if candles < pending.periods {
                guard
                    let previous = try await store.recentKlines(
                        symbol: symbol, interval: .oneMinute, endingAt: pending.oldest - 1, includeOpen: true, limit: 1
                    ).first?.kline.openTime
                else { break }
                period = interval.openTime(containing: previous)
            } else {
                period = interval.openTime(containing: pending.oldest - 1)
            }
        }
        _ = try await readRun()
        let answer = includeOpen ? newestFirst : newestFirst.filter(\.isFinal)
        return Array(answer.prefix(limit).reversed())
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
                throw WarehouseError(.invalidData, operation: "form the \(interval) candles of \(symbol)", detail: error.description)
            }
            if let candle { candles.append(StoredKline(kline: candle, isFinal: isFinal)) }
        }
        return candles
    }

    static func clamped(_ time: Int64) -> Int64 { min(max(time, 0), UTCTime.latest) }
}

/// Candles formed from minutes that can no longer change, kept in memory: a candle whose every minute is stored and
/// final. Final minutes are never overwritten and a complete period cannot gain minutes, so such a candle stays true
/// until retention deletes its minutes (``CandleReader`` stops at the oldest stored minute, so it is not served past
/// that). Bounded: the oldest entries go first.
public final class FormedCandleCache: Sendable {
    struct Key: Hashable {
        var symbol: Symbol
        var interval: Interval
        var openTime: Int64
    }

    private struct State {
        var candles: [Key: Kline] = [:]
        var order: [Key] = []
        var head = 0
    }

    private let state = Mutex(State())
    private let capacity: Int

    /// `capacity` candles (100,000 by default: 200 symbols' 500 candles, about 20 MB).
    public init(capacity: Int = 100_000) {
        self.capacity = max(1, capacity)
    }

    func candle(symbol: Symbol, interval: Interval, openTime: Int64) -> Kline? {
        state.withLock { $0.candles[Key(symbol: symbol, interval: interval, openTime: openTime)] }
    }

    /// Keeps the complete, final candles among `candles`, formed from the ascending minutes `parts`.
    func keep(_ candles: [StoredKline], symbol: Symbol, interval: Interval, parts: [StoredKline]) {
        guard let length = interval.milliseconds else { return }
        let perCandle = Int(length / 60_000)
        var counts: [Int64: Int] = [:]
        // Only whole minutes count: a row off the minute grid cannot stand in for a minute still missing.
        for part in parts where part.isFinal && part.kline.openTime % 60_000 == 0 && part.kline.closeTime - part.kline.openTime < 60_000 {
            counts[interval.openTime(containing: part.kline.openTime), default: 0] += 1
        }
        let complete = candles.filter { $0.isFinal && counts[$0.kline.openTime] == perCandle }
        guard !complete.isEmpty else { return }
        state.withLock { state in
            for candle in complete {
                let key = Key(symbol: symbol, interval: interval, openTime: candle.kline.openTime)
                if state.candles.updateValue(candle.kline, forKey: key) == nil { state.order.append(key) }
            }
            while state.candles.count > capacity, state.head < state.order.count {
                state.candles[state.order[state.head]] = nil
                state.head += 1
            }
            // The evicted prefix is dropped now and then, so `order` does not grow without bound.
            if state.head > capacity {
                state.order.removeFirst(state.head)
                state.head = 0
            }
        }
    }

    public var count: Int { state.withLock { $0.candles.count } }
}
