import MarketData

/// The RSI and MACD panes under the candlestick chart (same slots, so they line up), and the order-book depth chart.
enum PaneCharts {
    struct Frame: Sendable {
        var width: Double = 900
        var height: Double = 120
        var left: Double = 28
        var right: Double = 72
        var top: Double = 8
        var bottom: Double = 8
    }

    static func points(_ series: [Double?], slots: BandScale, scale: LinearScale) -> String {
        var points: [String] = []
        for (index, value) in series.enumerated() {
            guard let value, value.isFinite else { continue }
            points.append(SVG.number(slots.center(index)) + "," + SVG.number(scale.position(value)))
        }
        return points.joined(separator: " ")
    }

    /// RSI on a fixed 0…100 scale with the 30 and 70 guides.
    static func rsi(_ values: [Double?], frame: Frame = Frame(), label: String) -> String {
        let slots = BandScale(count: values.count, start: frame.left, end: frame.width - frame.right)
        let scale = LinearScale(covering: [0, 100], from: frame.height - frame.bottom, to: frame.top)
        var svg = SVG(width: frame.width, height: frame.height, label: label, className: "chart rsi")
        svg.open("g", [("class", "axis")])
        for level in [30.0, 50, 70] {
            let y = SVG.number(scale.position(level))
            svg.element(
                "line",
                [
                    ("class", level == 50 ? "" : "guide"), ("x1", SVG.number(frame.left)), ("x2", SVG.number(frame.width - frame.right)),
                    ("y1", y), ("y2", y),
                ])
            svg.element(
                "text", [("x", SVG.number(frame.width - frame.right + 6)), ("y", SVG.number(scale.position(level) + 4))],
                content: SVG.fixed(level, decimals: 0))
        }
        svg.close("g")
        let line = points(values, slots: slots, scale: scale)
        if !line.isEmpty { svg.element("polyline", [("class", "line rsi"), ("points", line)]) }
        return svg.finish()
    }

    /// MACD and signal lines with the histogram as bars around zero.
    static func macd(_ macd: [Double?], signal: [Double?], histogram: [Double?], frame: Frame = Frame(), label: String) -> String {
        let slots = BandScale(count: macd.count, start: frame.left, end: frame.width - frame.right)
        let all = (macd + signal + histogram).compactMap { $0 }
        let scale = LinearScale(covering: all, from: frame.height - frame.bottom, to: frame.top, includeZero: true)
        var svg = SVG(width: frame.width, height: frame.height, label: label, className: "chart macd")
        let zero = scale.position(0)
        svg.open("g", [("class", "axis")])
        svg.element(
            "line",
            [
                ("x1", SVG.number(frame.left)), ("x2", SVG.number(frame.width - frame.right)), ("y1", SVG.number(zero)),
                ("y2", SVG.number(zero)),
            ])
        let ticks = scale.ticks(count: 3)
        let step = ticks.count > 1 ? ticks[1] - ticks[0] : 0
        for tick in ticks {
            svg.element(
                "text", [("x", SVG.number(frame.width - frame.right + 6)), ("y", SVG.number(scale.position(tick) + 4))],
                content: SVG.priceLabel(tick, step: step))
        }
        svg.close("g")
        let width = slots.bodyWidth
        var bars = (up: "", down: "")
        for (index, value) in histogram.enumerated() {
            guard let value, value.isFinite else { continue }
            let y = scale.position(value)
            let bar = SVG.rectanglePath(
                .init(x: slots.center(index) - width / 2, y: min(y, zero), width: width, height: max(abs(zero - y), 0.5)))
            if value >= 0 { bars.up += bar } else { bars.down += bar }
        }
        for (name, d) in [("hist up", bars.up), ("hist down", bars.down)] where !d.isEmpty {
            svg.element("path", [("class", name), ("d", d)])
        }
        for (name, series) in [("macd", macd), ("signal", signal)] {
            let line = points(series, slots: slots, scale: scale)
            if !line.isEmpty { svg.element("polyline", [("class", "line \(name)"), ("points", line)]) }
        }
        return svg.finish()
    }

    /// Cumulative bid and ask quantity by price: bids step down to the left of the best bid, asks up to the right.
    static func depth(bids: [PriceLevel], asks: [PriceLevel], frame: Frame = Frame(height: 260, bottom: 24), label: String) -> String {
        var svg = SVG(width: frame.width, height: frame.height, label: label, className: "chart depth-chart")
        guard !bids.isEmpty || !asks.isEmpty else { return svg.finish() }
        func cumulative(_ levels: [PriceLevel]) -> [(price: Double, total: Double)] {
            var total = 0.0
            return levels.map { level in
                total += level.quantity.doubleValue
                return (level.price.doubleValue, total)
            }
        }
        let bidSteps = cumulative(bids)
        let askSteps = cumulative(asks)
        let prices = (bidSteps + askSteps).map(\.price)
        let x = LinearScale(covering: prices, from: frame.left, to: frame.width - frame.right)
        let y = LinearScale(
            covering: (bidSteps + askSteps).map(\.total), from: frame.height - frame.bottom, to: frame.top, includeZero: true)
        let base = y.position(0)
        func path(_ steps: [(price: Double, total: Double)]) -> String {
            guard let first = steps.first else { return "" }
            var d = "M\(SVG.number(x.position(first.price))),\(SVG.number(base))"
            var previous = 0.0
            for step in steps {
                d += " L\(SVG.number(x.position(step.price))),\(SVG.number(y.position(previous)))"
                d += " L\(SVG.number(x.position(step.price))),\(SVG.number(y.position(step.total)))"
                previous = step.total
            }
            let last = steps[steps.count - 1]
            d += " L\(SVG.number(x.position(last.price))),\(SVG.number(base)) Z"
            return d
        }
        svg.open("g", [("class", "axis")])
        let ticks = x.ticks(count: 6)
        let step = ticks.count > 1 ? ticks[1] - ticks[0] : 0
        for tick in ticks {
            svg.element(
                "text", [("x", SVG.number(x.position(tick))), ("y", SVG.number(frame.height - 6)), ("text-anchor", "middle")],
                content: SVG.priceLabel(tick, step: step))
        }
        for tick in y.ticks(count: 4) {
            let position = y.position(tick)
            svg.element(
                "line",
                [
                    ("x1", SVG.number(frame.left)), ("x2", SVG.number(frame.width - frame.right)), ("y1", SVG.number(position)),
                    ("y2", SVG.number(position)),
                ])
            svg.element(
                "text", [("x", SVG.number(frame.width - frame.right + 6)), ("y", SVG.number(position + 4))], content: Display.grouped(tick))
        }
        svg.close("g")
        if !bidSteps.isEmpty { svg.element("path", [("class", "depth bids"), ("d", path(bidSteps))]) }
        if !askSteps.isEmpty { svg.element("path", [("class", "depth asks"), ("d", path(askSteps))]) }
        return svg.finish()
    }

    /// A small line of closes for a dashboard card.
    static func sparkline(_ closes: [Double], rising: Bool, label: String) -> String {
        let width = 240.0
        let height = 48.0
        var svg = SVG(width: width, height: height, label: label, className: "sparkline " + (rising ? "up" : "down"))
        guard closes.count > 1 else { return svg.finish() }
        let x = LinearScale(covering: [0, Double(closes.count - 1)], from: 1, to: width - 1)
        let y = LinearScale(covering: closes, from: height - 2, to: 2)
        let points = closes.enumerated().map { SVG.number(x.position(Double($0.offset))) + "," + SVG.number(y.position($0.element)) }
        svg.element("polyline", [("points", points.joined(separator: " "))])
        return svg.finish()
    }
}
