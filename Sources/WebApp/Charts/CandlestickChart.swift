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

    /// About six time labels, on candles spread evenly across the chart.
    var timeTicks: [TimeTick] {
        guard !candles.isEmpty else { return [] }
        let every = max(1, candles.count / 6)
        return stride(from: 0, to: candles.count, by: every).map { TimeTick(time: candles[$0].openTime, position: slots.center($0)) }
    }
}
