public import MarketData
public import Warehouse

/// How far behind the exchange the stored data is, defined once for `status`, the API, the pages and `/metrics`.
///
/// K-lines: the time since the newest closed 1m candle ended (its open time plus one minute), so a pipeline that
/// stores every minute as it closes shows a lag under a minute plus the finality margin. Order books: the time since
/// the newest snapshot was captured. Never negative (a clock a little behind the exchange's shows 0).
public struct Freshness: Sendable, Hashable {
    /// Open time of the newest closed 1m candle stored, `nil` when none is.
    public var newestClosedOpenTime: Int64?
    /// Capture time of the newest order-book snapshot stored, `nil` when none is.
    public var latestBookCapturedAt: Int64?
    /// When the lags were measured.
    public var measuredAt: Int64

    public init(newestClosedOpenTime: Int64?, latestBookCapturedAt: Int64?, measuredAt: Int64) {
        self.newestClosedOpenTime = newestClosedOpenTime
        self.latestBookCapturedAt = latestBookCapturedAt
        self.measuredAt = measuredAt
    }

    /// Milliseconds since the newest closed candle ended.
    public var klineLagMilliseconds: Int64? { newestClosedOpenTime.map { Self.lag(since: $0, plus: 60_000, at: measuredAt) } }
    /// Milliseconds since the newest order book was captured.
    public var depthLagMilliseconds: Int64? { latestBookCapturedAt.map { Self.lag(since: $0, plus: 0, at: measuredAt) } }

    /// Whole seconds, as the API and the pages show them.
    public var klineLagSeconds: Int64? { klineLagMilliseconds.map { $0 / 1_000 } }
    public var depthLagSeconds: Int64? { depthLagMilliseconds.map { $0 / 1_000 } }

    /// `now - (time + offset)`, at least 0; times come from the warehouse (1970–9999), so nothing overflows, but a
    /// value outside that range saturates rather than trapping.
    static func lag(since time: Int64, plus offset: Int64, at now: Int64) -> Int64 {
        let (end, endOverflows) = time.addingReportingOverflow(offset)
        guard !endOverflows else { return 0 }
        let (lag, lagOverflows) = now.subtractingReportingOverflow(end)
        return lagOverflows ? (end < 0 ? .max : 0) : max(0, lag)
    }

    /// Reads a symbol's freshness from the warehouse: two indexed lookups, one without `books` (the order book's
    /// capture time is then `nil`).
    public static func read(
        _ symbol: Symbol, from warehouse: any StoredCandles & OrderBookStore, at now: Int64, books: Bool = true
    ) async throws(WarehouseError) -> Freshness {
        let newest = try await warehouse.recentKlines(
            symbol: symbol, interval: .oneMinute, endingAt: .max, includeOpen: false, limit: 1
        ).last?.kline.openTime
        let book = books ? try await warehouse.latestOrderBook(symbol: symbol, levels: 0)?.capturedAt : nil
        return Freshness(newestClosedOpenTime: newest, latestBookCapturedAt: book, measuredAt: now)
    }
}
