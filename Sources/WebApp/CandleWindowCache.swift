import MarketData
import Synchronization
import Warehouse

/// Stored candles rendered as JSON, a window of the series at a time, so `GET /api/candlestick` for any `limit`
/// candles ending anywhere in a window is answered by copying bytes, not by reading and encoding hundreds of rows.
///
/// The response cache helps only when a URL repeats; a chart scrolled through history, or scripts paging by `end`,
/// ask for a different window each time. A window holds every stored candle of one series opening in
/// `[from, through]` (the newest four times `limit`, at most ``maximumWindowCandles``, up to `through`), so the newest
/// `limit` candles up to any `end` in it are a slice of it when at least `limit` of them are in the window (or the
/// window reaches the series' start). A miss reads at most four times what it was asked for, so requests made to miss
/// cost a small multiple of the reads they would cost without the cache.
/// Like the response cache, it starts over when the warehouse's data version changes, so an answer is never stale.
///
/// Only the stored intervals (1m, 1h, 1d) are held: their candles are rows, the same whatever `end` a read stops at;
/// the formed ones (15m, 4h, 1w, …) are not, as the newest may be formed from fewer parts.
final class CandleWindowCache: Sendable {
    /// One series' candles opening in `[from, through]`, rendered.
    struct Window: Sendable {
        var series: Series
        /// `Int64.min` when the window holds the series from its first candle.
        var from: Int64
        var through: Int64
        var openTimes: [Int64]
        /// `[c₀,c₁,…]`: the candles as JSON objects, in an array.
        var text: [UInt8]
        /// Where each candle's object ends in `text`; it starts after the byte before (`[` or `,`) the previous end.
        var ends: [Int]
        var lastUsed: UInt64

        /// What the window holds (the arrays' capacities: the writer reserves ahead), with a fixed cost for its
        /// bookkeeping, so many small windows count too.
        var bytes: Int { text.capacity + (openTimes.capacity + ends.capacity) * 8 + 256 }

        /// Whether this window answers every request `other` does.
        func covers(_ other: Window) -> Bool { from <= other.from && through >= other.through }

        /// The text of the newest `limit` candles opening at or before `end`, when the window knows them all.
        func slice(endingAt end: Int64, limit: Int) -> (count: Int, text: ArraySlice<UInt8>)? {
            guard end <= through, end >= from else { return nil }
            let upper = Self.upperBound(openTimes, end)
            guard upper >= limit || from == .min else { return nil }
            let lower = max(0, upper - limit)
            guard upper > lower else { return (0, []) }
            let start = lower == 0 ? 1 : ends[lower - 1] + 1
            return (upper - lower, text[start..<ends[upper - 1]])
        }

        /// The count of `times` (ascending) at or before `value`.
        static func upperBound(_ times: [Int64], _ value: Int64) -> Int {
            var (low, high) = (0, times.count)
            while low < high {
                let middle = (low + high) / 2
                if times[middle] <= value { low = middle + 1 } else { high = middle }
            }
            return low
        }
    }

    struct Series: Hashable {
        var symbol: Symbol
        var interval: Interval
    }

    private struct State {
        var version: Int64 = .min
        var windows: [Series: [Window]] = [:]
        var count = 0
        var bytes = 0
        var clock: UInt64 = 0
    }

    private let state = Mutex(State())
    /// Bounds memory and the windows searched: the least recently used windows go first.
    let maximumBytes: Int
    let maximumWindows: Int
    /// Candles a window holds at most: three times the largest `limit`.
    static let maximumWindowCandles = 3 * ChartWindow.maximumCandles

    init(maximumBytes: Int = 48 << 20, maximumWindows: Int = 1_024) {
        self.maximumBytes = maximumBytes
        self.maximumWindows = maximumWindows
    }

    /// Candles a window read for `limit` holds: four times `limit` (so its middle half of `end`s are answered from it),
    /// at most ``maximumWindowCandles``.
    static func windowCandles(for limit: Int) -> Int { min(maximumWindowCandles, 4 * limit) }

    /// Whether candles of `interval` are held (the stored intervals).
    static func holds(_ interval: Interval) -> Bool {
        CandleReader.source(of: interval) == interval && interval.milliseconds != nil
    }

    /// Windows held and their bytes, for tests.
    var usage: (windows: Int, bytes: Int) { state.withLock { ($0.count, $0.bytes) } }

    /// The candles of `interval` (one ``holds(_:)``) opening at or before `end`, the newest `limit` of them, as a JSON
    /// array's elements, with their count; a window is read with `read(through, count)` (the newest `count` candles
    /// opening at or before `through`) when none holds them. `nil` for a `limit` larger than a window.
    func candles(
        symbol: Symbol, interval: Interval, endingAt end: Int64, limit: Int, version: Int64,
        read: (_ through: Int64, _ count: Int) async throws -> [StoredKline]
    ) async throws -> (count: Int, text: ArraySlice<UInt8>)? {
        let series = Series(symbol: symbol, interval: interval)
        if let hit = lookup(series, end, limit, version) { return hit }
        let candles = Self.windowCandles(for: limit)
        guard limit >= 1, limit <= candles else { return nil }
        // Reaching past `end`, so the ends around it (a chart scrolled either way) fall in the same window.
        let step = interval.milliseconds ?? 60_000
        let ahead = Int64(candles - limit) / 2 * step
        let (shifted, overflow) = end.addingReportingOverflow(ahead)
        let through = overflow ? Int64.max : shifted
        let window = Self.render(series, through: through, count: candles, candles: try await read(through, candles))
        // The version was taken before the read, so a window may hold data newer than its version, never older.
        store(window, version: version)
        return window.slice(endingAt: end, limit: limit)
    }

    private func lookup(_ series: Series, _ end: Int64, _ limit: Int, _ version: Int64) -> (count: Int, text: ArraySlice<UInt8>)? {
        state.withLock { state in
            guard state.version == version, let windows = state.windows[series] else { return nil }
            for index in windows.indices {
                if let hit = windows[index].slice(endingAt: end, limit: limit) {
                    state.clock += 1
                    state.windows[series]?[index].lastUsed = state.clock
                    return hit
                }
            }
            return nil
        }
    }

    private func store(_ window: Window, version: Int64) {
        state.withLock { state in
            // A read that began before a newer version's windows were stored must not wipe them; versions only grow.
            guard version >= state.version else { return }
            if state.version != version { state = State(version: version, clock: state.clock) }
            // A window without candles (an `end` before the series) is answered as quickly by a read.
            guard !window.openTimes.isEmpty, window.bytes <= maximumBytes else { return }
            // Clients polling the same chart all miss at once after a change: one window serves them all.
            guard !(state.windows[window.series]?.contains { $0.covers(window) } ?? false) else { return }
            while state.bytes + window.bytes > maximumBytes || state.count >= maximumWindows, evictLeastRecentlyUsed(&state) {}
            state.clock += 1
            var window = window
            window.lastUsed = state.clock
            state.windows[window.series, default: []].append(window)
            state.count += 1
            state.bytes += window.bytes
        }
    }

    /// Drops the window used longest ago; `false` when there is none.
    private func evictLeastRecentlyUsed(_ state: inout State) -> Bool {
        var oldest: (series: Series, index: Int, used: UInt64)?
        for (series, windows) in state.windows {
            for (index, window) in windows.enumerated() where window.lastUsed < oldest?.used ?? .max {
                oldest = (series, index, window.lastUsed)
            }
        }
        guard let oldest, let removed = state.windows[oldest.series]?.remove(at: oldest.index) else { return false }
        if state.windows[oldest.series]?.isEmpty == true { state.windows[oldest.series] = nil }
        state.count -= 1
        state.bytes -= removed.bytes
        return true
    }

    /// The window of `candles`, the newest `count` opening at or before `through`.
    static func render(_ series: Series, through: Int64, count: Int, candles: [StoredKline]) -> Window {
        var json = JSONWriter(capacity: 2 + candles.count * 420)
        var ends: [Int] = []
        ends.reserveCapacity(candles.count)
        json.array { json in
            for candle in candles {
                API.write(candle, to: &json)
                ends.append(json.bytes.count)
            }
        }
        return Window(
            series: series, from: candles.count < count ? .min : candles.first?.kline.openTime ?? .min,
            through: through, openTimes: candles.map(\.kline.openTime), text: json.bytes, ends: ends, lastUsed: 0)
    }
}
