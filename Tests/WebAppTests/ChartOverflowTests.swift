import MarketData
import Testing

@testable import WebApp

/// Charts of extreme values (NaN, infinities, prices near Double's limits, times near Int64.max) draw without
/// trapping and without non-finite coordinates.
struct ChartOverflowTests {
    static let frame = ChartTests.frame

    /// Every number in the SVG's attributes, as text.
    static func coordinates(_ svg: String) -> [String] {
        svg.split(separator: "\"").enumerated().filter { $0.offset % 2 == 1 }.map { String($0.element) }
            .filter { $0.first.map { $0.isNumber || $0 == "-" } ?? false }
    }

    @Test func pricesAtDoublesLimitsMapInsideThePane() {
        let big = Double.greatestFiniteMagnitude
        let candles = [
            ChartTests.candle(0, -big, big, -big, big, volume: big), ChartTests.candle(1, 0, 1, -1, 0.5, volume: 0),
            ChartTests.candle(2, .nan, .infinity, -.infinity, .nan, volume: .nan),
        ]
        let layout = CandlestickLayout(candles: candles, frame: Self.frame)
        #expect(layout.price.lower == -big && layout.price.upper == big)
        // The full range maps onto the pane; zero lands in its middle.
        #expect(layout.price.position(big) == 0 && layout.price.position(-big) == 80 && layout.price.position(0) == 40)
        #expect(layout.wick(0).top == 0 && layout.wick(0).bottom == 80)
        #expect(layout.volumeBar(0).height == 30)
        let svg = layout.svg(interval: .oneMinute, label: "extreme")
        #expect(!svg.contains("nan") && !svg.contains("inf"))
        #expect(!layout.priceTicks.isEmpty && layout.priceTicks.allSatisfy { $0.position.isFinite })
    }

    @Test func aFlatRangeAtTheLargestDoubleStaysFinite() {
        let big = Double.greatestFiniteMagnitude
        let scale = LinearScale(covering: [big, big], from: 100, to: 0)
        #expect(scale.upper == big && scale.lower < big && scale.lower.isFinite)
        #expect(scale.position(big) == 0)
        let flat = LinearScale(covering: [-big], from: 100, to: 0)
        #expect(flat.lower == -big && flat.position(-big) == 100)
    }

    @Test func timesNearInt64MaxLabelTheAxisWithoutTrapping() {
        var candle = ChartTests.candle(0, 1, 2, 0.5, 1.5, volume: 1)
        candle.openTime = .max
        let layout = CandlestickLayout(candles: [candle], frame: Self.frame)
        #expect(layout.timeTicks(interval: .oneDay).map(\.time) == [.max])
        let svg = layout.svg(interval: .oneDay, label: "far future")
        #expect(svg.contains(">\(SVG.timeLabel(.max, interval: .oneDay))</text>"))
    }

    @Test func slotLookupAndLabelsAcceptAnyInput() {
        let slots = BandScale(count: 3, start: 0, end: 1e-300)
        #expect(slots.index(at: 0) == 0 && slots.index(at: .nan) == nil && slots.index(at: .infinity) == nil)
        // Slots too narrow to divide by (their width rounds to zero): no slot, rather than `Int(.nan)`.
        let tiny = BandScale(count: 2, start: 0, end: 5e-324)
        #expect(tiny.index(at: 0) == nil)
        #expect(SVG.fixed(1.5, decimals: -3) == "2" && SVG.fixed(1.5, decimals: 40) == "1.500000000000000")
        #expect(SVG.fixed(.nan, decimals: 2) == "–" && SVG.number(.infinity) == "0")
        #expect(SVG.priceLabel(.greatestFiniteMagnitude, step: .nan).isEmpty == false)
    }

    @Test func paneChartsOfExtremeValuesHaveFiniteCoordinates() {
        let big = Double.greatestFiniteMagnitude
        let macd = PaneCharts.macd([big, -big, nil], signal: [.nan, 0, big], histogram: [big, -big, .infinity], label: "macd")
        let depth = PaneCharts.depth(
            bids: [PriceLevel(price: ExactDecimal(units: .max), quantity: ExactDecimal(units: .max))],
            asks: [PriceLevel(price: ExactDecimal(units: .min), quantity: ExactDecimal(units: .max))], label: "depth")
        let spark = PaneCharts.sparkline([big, -big, .nan], rising: true, label: "spark")
        for svg in [macd, depth, spark] {
            #expect(!svg.contains("nan") && !svg.contains("inf"), "\(svg)")
            #expect(Self.coordinates(svg).allSatisfy { Double($0)?.isFinite ?? true })
        }
    }
}
