import MarketData

/// The Analytics page's time-range selector: the last hour, day, week or month, or all stored history, each at an
/// interval that shows it in at most ``ChartWindow/maximumCandles`` candles.
struct ChartRange: Sendable, Hashable {
    let name: String
    let title: String
    /// How far back from now the range starts; `nil` for all stored history.
    let span: Int64?

    static let all: [ChartRange] = [
        ChartRange(name: "1H", title: "Last hour", span: 3_600_000),
        ChartRange(name: "1D", title: "Last day", span: 86_400_000),
        ChartRange(name: "1W", title: "Last week", span: 7 * 86_400_000),
        ChartRange(name: "1M", title: "Last 30 days", span: 30 * 86_400_000),
        ChartRange(name: "All", title: "All stored history", span: nil),
    ]

    /// The interval to show `span` milliseconds in: `current` when it gives between 1 and 1,000 candles, otherwise the
    /// finest served interval that gives at most 1,000 (a month at 1m would be 43,200 candles; an hour at 1d, none).
    static func interval(showing span: Int64, current: Interval) -> Interval {
        let limit = Int64(ChartWindow.maximumCandles)
        if let length = current.milliseconds, span >= length, span / length <= limit { return current }
        let fitting = QueryValue.servedIntervals.filter { interval in
            guard let length = interval.milliseconds else { return true }
            return span / length <= limit
        }
        return fitting.first ?? .oneMonth
    }
}
