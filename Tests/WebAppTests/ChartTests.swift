import MarketData
import Testing

@testable import WebApp

/// Geometry of the SVG candlestick chart for known data.
struct ChartTests {
    /// A 200 × 120 frame with no margins: price pane y 0…80 (volume share 0.25 of 120 = 30, gap 10), volume pane 90…120.
    static let frame = CandlestickLayout.Frame(
        width: 200, height: 120, left: 0, right: 0, top: 0, bottom: 0, volumeShare: 0.25, gap: 10)

    static func candle(_ index: Int, _ open: Double, _ high: Double, _ low: Double, _ close: Double, volume: Double) -> ChartCandle {
        ChartCandle(openTime: 1_704_067_200_000 + Int64(index) * 60_000, open: open, high: high, low: low, close: close, volume: volume)
    }

    @Test func candlesWicksAndVolumeBarsSitWhereTheirValuesSay() {
        // Prices span 100…120 over a pane 80 px tall: 4 px per unit. Four slots of 50 px.
        let candles = [
            Self.candle(0, 105, 110, 100, 108, volume: 10), Self.candle(1, 108, 120, 106, 104, volume: 20),
            Self.candle(2, 104, 104, 104, 104, volume: 0), Self.candle(3, 104, 112, 103, 111, volume: 5),
        ]
        let layout = CandlestickLayout(candles: candles, frame: Self.frame)
        #expect(layout.pricePane == 0...80 && layout.volumePane == 90...120)
        #expect(layout.slots.slotWidth == 50 && layout.slots.bodyWidth == 24)
        #expect(layout.price.position(120) == 0 && layout.price.position(100) == 80)
        // Up candle: body from the close (108 → y 48) down to the open (105 → y 60); wick 110…100 → y 40…80.
        #expect(layout.body(0) == .init(x: 13, y: 48, width: 24, height: 12))
        #expect(layout.wick(0) == .init(x: 25, top: 40, bottom: 80))
        // Down candle: body from the open (108) to the close (104 → y 64).
        #expect(layout.body(1) == .init(x: 63, y: 48, width: 24, height: 16))
        #expect(layout.wick(1) == .init(x: 75, top: 0, bottom: 56))
        #expect(candles[0].isUp && !candles[1].isUp)
        // Open = close: a 1 px body, never a zero-height one.
        #expect(layout.body(2).height == 1 && layout.wick(2).top == layout.wick(2).bottom)
        // Volume 0…20 over 30 px: 20 fills the pane, 10 half of it, 0 nothing.
        #expect(layout.volumeBar(1) == .init(x: 63, y: 90, width: 24, height: 30))
        #expect(layout.volumeBar(0).height == 15 && layout.volumeBar(2).height == 0)
        #expect(layout.slots.index(at: 60) == 1 && layout.slots.index(at: 200) == nil)
    }

    @Test func axesGetNiceTicksInsideTheRange() {
        let layout = CandlestickLayout(candles: [Self.candle(0, 101, 119, 100.3, 118, volume: 1)], frame: Self.frame)
        // 100.3…119 over about five ticks: a step of 5 (18.7 / 5 = 3.74, rounded up to a nice step).
        #expect(layout.priceTicks.map(\.value) == [105, 110, 115])
        #expect(layout.priceTicks.allSatisfy { layout.pricePane.contains($0.position) })
        #expect(LinearScale.niceStep(3.7) == 5 && LinearScale.niceStep(0.00042) == 0.0005 && LinearScale.niceStep(20) == 20)
        #expect(SVG.priceLabel(0.0005, step: 0.0005) == "0.0005" && SVG.priceLabel(43_250, step: 50) == "43250")
        #expect(SVG.timeLabel(1_704_067_260_000, interval: .oneMinute) == "00:01")
        #expect(SVG.timeLabel(1_704_067_260_000, interval: .oneHour) == "01-01 00:01")
        #expect(SVG.timeLabel(1_704_067_260_000, interval: .oneDay) == "2024-01-01")
    }

    @Test func aFlatMarketDrawsInTheMiddleWithoutDividingByZero() {
        let candles = (0..<5).map { Self.candle($0, 50, 50, 50, 50, volume: 0) }
        let layout = CandlestickLayout(candles: candles, frame: Self.frame)
        // 50 ± 1%: the price sits mid-pane, every body is a 1 px line, volume bars are empty.
        #expect(layout.price.lower == 49.5 && layout.price.upper == 50.5)
        #expect(layout.wick(0).top == 40 && layout.body(0).y == 40 && layout.body(0).height == 1)
        #expect((0..<5).allSatisfy { layout.volumeBar($0).height == 0 && layout.volumeBar($0).y == 120 })
        let svg = layout.svg(interval: .oneMinute, label: "flat")
        #expect(!svg.contains("nan") && !svg.contains("inf"))
        let zero = CandlestickLayout(candles: [Self.candle(0, 0, 0, 0, 0, volume: 0)], frame: Self.frame)
        #expect(zero.price.lower == -1 && zero.price.upper == 1)
    }

    @Test func aSingleCandleFillsOneCentredSlot() {
        let layout = CandlestickLayout(candles: [Self.candle(0, 10, 12, 9, 11, volume: 3)], frame: Self.frame)
        #expect(layout.slots.slotWidth == 200 && layout.slots.center(0) == 100)
        // Body capped at 24 px, centred.
        #expect(layout.body(0).x == 88 && layout.body(0).width == 24)
        #expect(layout.wick(0) == .init(x: 100, top: 0, bottom: 80))
        #expect(layout.timeTicks(interval: .oneMinute).map(\.position) == [100])
    }

    @Test func theSVGDrawsEachKindOfMarkAsOnePathWithTheBands() {
        let candles = [Self.candle(0, 105, 110, 100, 108, volume: 10), Self.candle(1, 108, 120, 106, 104, volume: 20)]
        let layout = CandlestickLayout(candles: candles, extraPrices: [125], frame: Self.frame)
        let svg = layout.svg(
            interval: .oneMinute, bands: (upper: [nil, 125], middle: [nil, 110], lower: [nil, 95]), label: "BTCUSDT <1m>")
        #expect(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\"") && svg.hasSuffix("</svg>"))
        // The same path forms the page's script draws: `M x,y h w v h h -w z` per body or bar, `M x,top V bottom` per wick.
        #expect(svg.contains("class=\"body up\" d=\"\(SVG.rectanglePath(layout.body(0)))\""))
        #expect(svg.contains("class=\"body down\" d=\"\(SVG.rectanglePath(layout.body(1)))\""))
        let wick = layout.wick(1)
        #expect(svg.contains("class=\"wick down\" d=\"M\(SVG.number(wick.x)),\(SVG.number(wick.top))V\(SVG.number(wick.bottom))\""))
        #expect(
            svg.contains("class=\"volume\" d=\"\(SVG.rectanglePath(layout.volumeBar(0)))\(SVG.rectanglePath(layout.volumeBar(1)))\""))
        #expect(SVG.rectanglePath(.init(x: 1.5, y: 2, width: 3.25, height: 4)) == "M1.5,2h3.25v4h-3.25z")
        #expect(svg.contains("aria-label=\"BTCUSDT &lt;1m&gt;\""))
        // The bands start where they are defined; the scale grew to 125 so they stay inside the pane.
        #expect(layout.price.upper == 125)
        #expect(svg.contains("class=\"band upper\" points=\"150,0\""))
        #expect(SVG.number(12.345) == "12.35" && SVG.number(-0.5) == "-0.5" && SVG.number(3) == "3" && SVG.number(0.05) == "0.05")
    }
}
