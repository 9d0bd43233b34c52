import Analytics
import MarketData
import Warehouse

/// The candles of one chart window with their indicators, and where the window stands in the stored history: what the
/// Analytics page draws and embeds, and what `/api/chart/{symbol}` answers when the chart scrolls to an older or newer
/// window. Both come from here, so a window looks the same however it was reached.
///
/// The indicators are computed over ``API/indicatorWarmUp`` candles before the window as well, so each value is the
/// settled one the indicators endpoint gives for that candle, wherever the window starts.
struct ChartWindow: Sendable {
    /// The most candles one window holds (and the most a chart shows at once).
    static let maximumCandles = 1_000

    /// Which candles to show: those opening in `[from, to]`, at most `limit` (the oldest first); from `from` on when
    /// there is no `to`; the newest `limit` opening at or before `to` (or of all) when there is no `from`.
    struct Request: Sendable, Hashable {
        var interval: Interval
        var from: Int64?
        var to: Int64?
        var limit: Int
    }

    let symbol: Symbol
    let interval: Interval
    let candles: [StoredKline]
    /// Indicator values aligned with `candles` (`nil` while an indicator still needs more candles).
    let indicators: ChartIndicators
    /// No stored candle of this interval opens before the first one.
    let reachesOldest: Bool
    /// No stored candle of this interval opens after the last one.
    let reachesNewest: Bool
    /// `[from, to]` held more than `limit` candles: the first `limit` are here.
    let truncated: Bool
    /// The most candles the window could hold (the request's limit, at most ``maximumCandles``).
    let limit: Int

    static func load(
        symbol: Symbol, _ request: Request, from reader: CandleReader
    ) async throws(WarehouseError) -> ChartWindow {
        let limit = min(max(request.limit, 1), maximumCandles)
        var candles: [StoredKline]
        var truncated = false
        var readPastLimit = false
        if let from = request.from {
            let to = request.to ?? .max
            // One more than the limit tells whether the window was cut short.
            candles = try await reader.klines(
                symbol: symbol, interval: request.interval, from: from, to: to, includeOpen: true, limit: limit + 1)
            if candles.count > limit {
                candles.removeLast(candles.count - limit)
                readPastLimit = true
                truncated = request.to != nil
            }
        } else {
            candles = try await reader.recentKlines(
                symbol: symbol, interval: request.interval, endingAt: request.to ?? .max, includeOpen: true, limit: limit)
        }
        var warmUp: [StoredKline] = []
        // Known without asking: the newest candles were read (no `to`), or the read from `from` on held no more.
        var reachesNewest = request.to == nil && (request.from == nil || !readPastLimit)
        if let first = candles.first?.kline.openTime, let last = candles.last?.kline.openTime {
            // Open times come from the warehouse (years 1970 to 9999), so neither step can overflow; checked all the same.
            if first > 0 {
                warmUp = try await reader.recentKlines(
                    symbol: symbol, interval: request.interval, endingAt: first - 1, includeOpen: true, limit: API.indicatorWarmUp)
            }
            if request.to != nil, !truncated, last < .max {
                reachesNewest = try await reader.klines(
                    symbol: symbol, interval: request.interval, from: last + 1, to: .max, includeOpen: true, limit: 1
                ).isEmpty
            }
        }
        let closes = (warmUp + candles).map(\.kline.close.doubleValue)
        return ChartWindow(
            symbol: symbol, interval: request.interval, candles: candles,
            indicators: ChartIndicators(closes: closes, dropping: warmUp.count), reachesOldest: warmUp.isEmpty,
            reachesNewest: reachesNewest, truncated: truncated, limit: limit)
    }

    var firstOpenTime: Int64? { candles.first?.kline.openTime }
    var lastOpenTime: Int64? { candles.last?.kline.openTime }

    /// The coarser intervals whose stored history can reach further back than this one's: the hourly and daily
    /// roll-ups outlive the minutes' retention, so a chart that reached its first minute can carry on in hours or days.
    var olderHistoryIntervals: [Interval] {
        switch CandleReader.source(of: interval) {
        case .oneMinute: [.oneHour, .oneDay]
        case .oneHour: [.oneDay]
        default: []
        }
    }

    /// The window as JSON: what `/api/chart/{symbol}` answers and what the Analytics page embeds for its script.
    func write(to json: inout JSONWriter) {
        json.object { json in
            json.seriesHeader(symbol, interval, count: candles.count)
            json.key("reaches_oldest")
            json.bool(reachesOldest)
            json.key("reaches_newest")
            json.bool(reachesNewest)
            json.key("truncated")
            json.bool(truncated)
            json.key("candles")
            json.array { json in
                for index in candles.indices { writeCandle(index, to: &json) }
            }
        }
    }

    private func writeCandle(_ index: Int, to json: inout JSONWriter) {
        let kline = candles[index].kline
        json.object { json in
            json.key("open_time")
            json.int(kline.openTime)
            json.prices(of: kline)
            json.key("closed")
            json.bool(candles[index].isFinal)
            indicators.write(at: index, to: &json)
        }
    }
}

/// RSI(14), MACD(12, 26, 9) and Bollinger Bands(20, 2) of a chart's candles.
struct ChartIndicators: Sendable, Hashable {
    var rsi: [Double?]
    var macd: [Double?]
    var signal: [Double?]
    var histogram: [Double?]
    var upper: [Double?]
    var middle: [Double?]
    var lower: [Double?]

    /// Computed over all `closes`; the first `dropping` (the warm-up before the window) are then left out.
    init(closes: [Double], dropping warmUp: Int) {
        let macd = Indicators.macd(closes)
        let bands = Indicators.bollingerBands(closes)
        let window = { (series: [Double?]) in Array(series.dropFirst(warmUp)) }
        rsi = window(Indicators.rsi(closes))
        self.macd = window(macd.macd)
        signal = window(macd.signal)
        histogram = window(macd.histogram)
        upper = window(bands.upper)
        middle = window(bands.middle)
        lower = window(bands.lower)
    }

    /// The series under the names both the chart and the indicators endpoint use.
    var named: KeyValuePairs<StaticString, [Double?]> {
        [
            "rsi": rsi, "macd": macd, "macd_signal": signal, "macd_histogram": histogram, "bollinger_upper": upper,
            "bollinger_middle": middle, "bollinger_lower": lower,
        ]
    }

    /// The values at `index` as members of an object.
    func write(at index: Int, to json: inout JSONWriter) {
        for (name, series) in named {
            json.key(name)
            json.double(series[index])
        }
    }
}
