import MarketData

/// A candle as the chart draws it: prices as `Double` (display only; stored values stay exact).
struct ChartCandle: Sendable, Hashable {
    var openTime: Int64
    var open: Double
    var high: Double
    var low: Double
    var close: Double
    var volume: Double

    init(openTime: Int64, open: Double, high: Double, low: Double, close: Double, volume: Double) {
        self.openTime = openTime
        self.open = open
        self.high = high
        self.low = low
        self.close = close
        self.volume = volume
    }

    init(_ kline: Kline) {
        self.init(
            openTime: kline.openTime, open: kline.open.doubleValue, high: kline.high.doubleValue, low: kline.low.doubleValue,
            close: kline.close.doubleValue, volume: kline.volume.doubleValue)
    }

    var isUp: Bool { close >= open }
}

/// The geometry of a candlestick chart with a volume pane below it, computed apart from the SVG text so it can be
/// tested: every candle's body and wick, every volume bar, and the axes' ticks.
struct CandlestickLayout: Sendable {
    struct Rect: Sendable, Hashable {
        var x: Double
        var y: Double
        var width: Double
        var height: Double
    }

    struct Wick: Sendable, Hashable {
        var x: Double
        var top: Double
        var bottom: Double
    }

    struct Tick: Sendable, Hashable {
        var value: Double
        var position: Double
    }

    struct Frame: Sendable, Hashable {
        var width: Double = 900
        var height: Double = 420
        /// Room for the price labels on the right and the time labels below.
        var left: Double = 28
        var right: Double = 72
        var top: Double = 10
        var bottom: Double = 24
        /// Share of the plot height given to volume bars.
        var volumeShare: Double = 0.22
        var gap: Double = 8
    }

    let frame: Frame
    let candles: [ChartCandle]
    let slots: BandScale
    let price: LinearScale
    let volume: LinearScale
    /// Pixel rows of the price pane and the volume pane.
    let pricePane: ClosedRange<Double>
    let volumePane: ClosedRange<Double>

    /// `extraPrices` (e.g. Bollinger Bands) are included in the price scale so overlays stay inside the pane.
    init(candles: [ChartCandle], extraPrices: [Double] = [], frame: Frame = Frame()) {
        self.frame = frame
        self.candles = candles
        let plotBottom = frame.height - frame.bottom
        let volumeHeight = (plotBottom - frame.top) * frame.volumeShare
        pricePane = frame.top...(plotBottom - volumeHeight - frame.gap)
        volumePane = (plotBottom - volumeHeight)...plotBottom
        slots = BandScale(count: candles.count, start: frame.left, end: frame.width - frame.right)
        price = LinearScale(
            covering: candles.flatMap { [$0.high, $0.low] } + extraPrices, from: pricePane.upperBound, to: pricePane.lowerBound)
        volume = LinearScale(covering: candles.map(\.volume), from: volumePane.upperBound, to: volumePane.lowerBound, includeZero: true)
    }

    /// Open-to-close body; a candle that opened and closed at the same price is a 1 px line.
    func body(_ index: Int) -> Rect {
        let candle = candles[index]
        let top = price.position(max(candle.open, candle.close))
        let bottom = price.position(min(candle.open, candle.close))
        let width = slots.bodyWidth
        return Rect(x: slots.center(index) - width / 2, y: top, width: width, height: max(bottom - top, 1))
    }

    /// High-to-low line through the slot's centre.
    func wick(_ index: Int) -> Wick {
        let candle = candles[index]
        return Wick(x: slots.center(index), top: price.position(candle.high), bottom: price.position(candle.low))
    }

    func volumeBar(_ index: Int) -> Rect {
        let top = volume.position(candles[index].volume)
        let width = slots.bodyWidth
        return Rect(x: slots.center(index) - width / 2, y: top, width: width, height: volumePane.upperBound - top)
    }

    var priceTicks: [Tick] { price.ticks().map { Tick(value: $0, position: price.position($0)) } }

    /// A time label's place: the candle's exact open time (a `Double` round trip of an outside time near `Int64.max`
    /// would not fit back into `Int64`).
    struct TimeTick: Sendable, Hashable {
        var time: Int64
        var position: Double
    }

    /// About six time labels, on candles opening at round UTC times (``TimeTicks``).
    func timeTicks(interval: Interval) -> [TimeTick] {
        TimeTicks(candles: candles.count, interval: interval).ticks(candles.map(\.openTime)).map { index in
            TimeTick(time: candles[index].openTime, position: slots.center(index))
        }
    }
}

/// Where the time axis puts its labels: on candles that open at a round UTC time (every 30 minutes, 3 hours, day,
/// Monday, month…), the step chosen so that about six fit; where the interval's candles cannot fall on such times
/// (3d, 1w), on every sixth of the candles counted from the epoch; on the first candle when none in view qualifies.
/// The page's script applies the same rule.
struct TimeTicks: Sendable, Hashable {
    enum Step: Sendable, Hashable {
        case fixed(Int64)
        case week
        case months(Int)
        case everyNth(Int)
    }

    static let minute: Int64 = 60_000
    static let hour: Int64 = 3_600_000
    static let day: Int64 = 86_400_000
    static let fixedSteps: [Int64] =
        [1, 2, 5, 10, 15, 30].map { $0 * minute } + [1, 2, 3, 6, 12].map { $0 * hour } + [1, 2].map { $0 * day }

    let step: Step
    /// The interval's length (30 days for a month).
    let length: Int64

    init(candles: Int, interval: Interval, labels: Int = 6) {
        let length = Self.length(of: interval)
        self.length = length
        let (span, overflow) = length.multipliedReportingOverflow(by: Int64(max(candles, 1)))
        let target = overflow ? Int64.max : span / Int64(labels)
        let every = Step.everyNth(max(1, candles / labels))
        if let fixed = Self.fixedSteps.first(where: { $0 >= target && $0 >= length && $0 % length == 0 }) {
            step = .fixed(fixed)
        } else if interval == .oneMonth || Self.day % length == 0 {
            // Candles of a day or shorter open on Mondays and on the first of each month; a month's on the first.
            if 7 * Self.day >= target, interval != .oneMonth {
                step = .week
            } else if let months = [1, 3, 6, 12].first(where: { Int64($0) * 30 * Self.day >= target }) {
                step = .months(months)
            } else {
                step = every
            }
        } else {
            step = every
        }
    }

    /// The length the rule counts an interval's candles in: a month's as 30 days.
    static func length(of interval: Interval) -> Int64 { interval.milliseconds ?? 30 * day }

    /// Indices of the candles (by open time) that get a label; the first when none would.
    func ticks(_ openTimes: [Int64]) -> [Int] {
        let ticks = openTimes.indices.filter { isTick(openTimes[$0]) }
        return ticks.isEmpty && !openTimes.isEmpty ? [0] : ticks
    }

    func isTick(_ openTime: Int64) -> Bool {
        switch step {
        case .fixed(let length): return openTime.isMultiple(of: length)
        // 1970-01-05, day 4 of the epoch, was a Monday.
        case .week: return openTime.isMultiple(of: Self.day) && (openTime / Self.day % 7 + 7) % 7 == 4
        case .months(let months):
            let date = CivilDate(epochMilliseconds: openTime)
            return openTime.isMultiple(of: Self.day) && date.day == 1 && (date.month - 1) % months == 0
        // Counted from the epoch, not from the first candle shown, so a label stays on its candle while the chart pans.
        case .everyNth(let every): return (openTime / length).isMultiple(of: Int64(every))
        }
    }

    /// The label of a tick: the interval's own form, but the date where a day begins within a chart of times of day.
    static func label(_ openTime: Int64, interval: Interval) -> String {
        let text = SVG.timeLabel(openTime, interval: interval)
        guard interval == .oneSecond || interval == .oneMinute, openTime.isMultiple(of: day) else { return text }
        return String(UTCTime.iso8601(openTime).dropFirst(5).prefix(5))
    }
}
