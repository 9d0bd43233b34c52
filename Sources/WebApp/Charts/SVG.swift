import MarketData

/// Builds SVG text: elements with attributes, coordinates rounded to 0.01 px, text escaped.
struct SVG {
    private(set) var text = ""

    init(width: Double, height: Double, label: String, className: String) {
        text.reserveCapacity(16_384)
        text += "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"\(Self.escape(className))\" viewBox=\"0 0 \(Self.number(width)) "
        text += "\(Self.number(height))\" role=\"img\" aria-label=\"\(Self.escape(label))\">"
    }

    mutating func element(_ name: String, _ attributes: [(String, String)], content: String? = nil) {
        text += "<\(name)"
        for (key, value) in attributes { text += " \(key)=\"\(Self.escape(value))\"" }
        if let content {
            text += ">\(Self.escape(content))</\(name)>"
        } else {
            text += "/>"
        }
    }

    mutating func open(_ name: String, _ attributes: [(String, String)] = []) {
        text += "<\(name)"
        for (key, value) in attributes { text += " \(key)=\"\(Self.escape(value))\"" }
        text += ">"
    }

    mutating func close(_ name: String) { text += "</\(name)>" }

    mutating func finish() -> String {
        text += "</svg>"
        return text
    }

    /// A pixel coordinate with at most two decimals and no trailing zeros.
    static func number(_ value: Double) -> String {
        guard value.isFinite else { return "0" }
        let hundredths = (value * 100).rounded()
        if hundredths == hundredths.rounded(.towardZero), Swift.abs(hundredths) < 1e15 {
            let integer = Int64(hundredths)
            let sign = integer < 0 ? "-" : ""
            let magnitude = integer.magnitude
            let whole = magnitude / 100
            let fraction = magnitude % 100
            if fraction == 0 { return sign + String(whole) }
            let digits = fraction % 10 == 0 ? String(fraction / 10) : (fraction < 10 ? "0" : "") + String(fraction)
            return sign + String(whole) + "." + digits
        }
        return String(value)
    }

    static func escape(_ text: String) -> String { MarkupText.escape(text) }

    /// A rectangle as a path segment (`M x,y h w v h h -w z`), the form the chart's script draws too.
    static func rectanglePath(_ rect: CandlestickLayout.Rect) -> String {
        "M\(number(rect.x)),\(number(rect.y))h\(number(rect.width))v\(number(rect.height))h\(number(-rect.width))z"
    }

    /// A price label with as many decimals as the tick step needs (at most 8).
    static func priceLabel(_ value: Double, step: Double) -> String {
        var decimals = 0
        var scaled = step
        while decimals < 8, scaled.isFinite, Swift.abs(scaled - scaled.rounded()) > 1e-9 * max(1, Swift.abs(scaled)) {
            scaled *= 10
            decimals += 1
        }
        return fixed(value, decimals: decimals)
    }

    /// `value` with exactly `decimals` digits after the point (0…15, clamped), rounded half away from zero.
    static func fixed(_ value: Double, decimals requested: Int) -> String {
        guard value.isFinite else { return "–" }
        // Past 15 digits `Int64(factor)` and the units stop being exact (and past 18 trap); below 0 the loop would.
        let decimals = min(max(requested, 0), 15)
        var factor = 1.0
        for _ in 0..<decimals { factor *= 10 }
        let units = (Swift.abs(value) * factor).rounded()
        let sign = value < 0 && units != 0 ? "-" : ""
        guard units < 9e15 else { return String(value) }
        let integer = Int64(units)
        let divisor = Int64(factor)
        var text = sign + String(integer / divisor)
        if decimals > 0 {
            let fraction = String(integer % divisor)
            text += "." + String(repeating: "0", count: decimals - fraction.count) + fraction
        }
        return text
    }

    /// A time label fitting the span a chart of the interval covers: `HH:MM` for 1m candles (1000 of them are under a
    /// day), `MM-DD HH:MM` from 3m to 12h, `YYYY-MM-DD` for days and weeks, `YYYY-MM` for months.
    static func timeLabel(_ epochMilliseconds: Int64, interval: Interval) -> String {
        let iso = UTCTime.iso8601(epochMilliseconds)  // 2024-01-31T12:34:00.000Z
        let date = iso.prefix(10)
        let time = iso.dropFirst(11).prefix(5)
        switch interval {
        case .oneSecond, .oneMinute: return String(time)
        case .threeMinutes, .fiveMinutes, .fifteenMinutes, .thirtyMinutes, .oneHour, .twoHours, .fourHours, .sixHours, .eightHours,
            .twelveHours:
            return String(date.dropFirst(5)) + " " + time
        case .oneDay, .threeDays, .oneWeek: return String(date)
        case .oneMonth: return String(date.prefix(7))
        }
    }
}

extension CandlestickLayout {
    /// The chart as SVG: grid and price axis, Bollinger Bands (when given), wicks and bodies coloured by direction,
    /// volume bars, time axis. The candles' exact values for the hover read-out travel with the page's chart data.
    func svg(interval: Interval, bands: (upper: [Double?], middle: [Double?], lower: [Double?])? = nil, label: String) -> String {
        var svg = SVG(width: frame.width, height: frame.height, label: label, className: "chart candles")
        let plotLeft = frame.left
        let plotRight = frame.width - frame.right
        let ticks = priceTicks
        let step = ticks.count > 1 ? ticks[1].value - ticks[0].value : 0
        svg.open("g", [("class", "axis price")])
        for tick in ticks {
            svg.element(
                "line",
                [
                    ("x1", SVG.number(plotLeft)), ("x2", SVG.number(plotRight)), ("y1", SVG.number(tick.position)),
                    ("y2", SVG.number(tick.position)),
                ])
            svg.element(
                "text", [("x", SVG.number(plotRight + 6)), ("y", SVG.number(tick.position + 4))],
                content: SVG.priceLabel(tick.value, step: step))
        }
        svg.close("g")
        if let bands {
            svg.open("g", [("class", "bands")])
            for (name, series) in [("upper", bands.upper), ("middle", bands.middle), ("lower", bands.lower)] {
                let points = polyline(series)
                if !points.isEmpty { svg.element("polyline", [("class", "band \(name)"), ("points", points), ("fill", "none")]) }
            }
            svg.close("g")
        }
        // One path per kind and direction instead of elements per candle: a thousand candles stay a handful of
        // elements, which the browser's script redraws on every frame of a pan or zoom in the same form.
        var wicks = (up: "", down: "")
        var bodies = (up: "", down: "")
        var volumes = ""
        for index in candles.indices {
            let wick = wick(index)
            let body = body(index)
            let segment = "M\(SVG.number(wick.x)),\(SVG.number(wick.top))V\(SVG.number(wick.bottom))"
            let box = SVG.rectanglePath(body)
            if candles[index].isUp {
                wicks.up += segment
                bodies.up += box
            } else {
                wicks.down += segment
                bodies.down += box
            }
            volumes += SVG.rectanglePath(volumeBar(index))
        }
        svg.open("g", [("class", "series")])
        for (name, d) in [
            ("wick up", wicks.up), ("wick down", wicks.down), ("body up", bodies.up), ("body down", bodies.down), ("volume", volumes),
        ] where !d.isEmpty {
            svg.element("path", [("class", name), ("d", d)])
        }
        svg.close("g")
        svg.open("g", [("class", "axis time")])
        for tick in timeTicks(interval: interval) {
            svg.element(
                "text", [("x", SVG.number(tick.position)), ("y", SVG.number(frame.height - 6)), ("text-anchor", "middle")],
                content: TimeTicks.label(tick.time, interval: interval))
        }
        svg.close("g")
        return svg.finish()
    }

    /// `x,y` pairs of the defined points of an overlay series aligned with the candles.
    func polyline(_ series: [Double?]) -> String {
        var points: [String] = []
        for (index, value) in series.enumerated() where index < candles.count {
            guard let value, value.isFinite else { continue }
            points.append(SVG.number(slots.center(index)) + "," + SVG.number(price.position(value)))
        }
        return points.joined(separator: " ")
    }
}
