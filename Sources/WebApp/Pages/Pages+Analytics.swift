import Hummingbird
import MarketData
import Warehouse

/// Analytics: one window of candles (`?symbol=&interval=&from=&to=`) drawn on the server, which the page's script then
/// lets people pan, zoom and scroll back through (`/api/chart/{symbol}` supplies the windows around it).
extension Pages {
    func analytics(_ request: Request) async -> Response {
        await render(request, title: "Analytics", current: "/analytics") { _ in
            let symbols = try await services.symbols.symbols()
            let query = request.query
            let interval = try query.interval()
            // The from/to form sends empty fields when they are left blank: those mean "not given".
            let from = try query.time(nonEmpty: "from")
            let to = try query.time(nonEmpty: "to")
            if let from, let to, from > to {
                throw APIError.badRequest("invalid_range", "from must not be after to")
            }
            let limit = try query.integer(
                "limit", in: 1...ChartWindow.maximumCandles, default: from != nil && to != nil ? ChartWindow.maximumCandles : 120)
            let symbol: Symbol
            if let text = query.string("symbol") {
                do {
                    symbol = try Symbol(asciiUppercased(text))
                } catch {
                    throw APIError.badRequest(
                        "invalid_symbol", "'\(shown(text))' is not a symbol: expected letters and digits such as BTCUSDT")
                }
            } else if let first = symbols.first {
                symbol = first
            } else {
                return "<div class=\"empty\">No symbols are tracked. Add one on <a href=\"/settings\">Settings</a>.</div>"
            }
            var html = HTML()
            html.raw(analyticsControls(symbols: symbols, symbol: symbol, interval: interval, from: from, to: to))
            html.raw(try await rangeLinks(symbol: symbol, interval: interval))
            let window = try await ChartWindow.load(
                symbol: symbol, .init(interval: interval, from: from, to: to, limit: limit), from: api.candleReader)
            guard let first = window.firstOpenTime, let last = window.lastOpenTime else {
                if from != nil || to != nil {
                    html.raw("<div class=\"empty\">No \(interval.rawValue) candles of \(symbol) open in this window. ")
                    html.raw("<a href=\"\(analyticsLink(symbol, interval, limit: 120))\">Show the newest</a>.</div>")
                } else {
                    html.raw("<div class=\"empty\">No \(interval.rawValue) candles of \(symbol) are stored yet. ")
                    html.raw("Candles of every interval appear once their first minutes are loaded.</div>")
                }
                return html.text
            }
            html.raw(chartPanel(window, first: first, last: last))
            html.raw(try await orderBookPanel(symbol))
            return html.text
        }
    }

    /// Symbol, interval and a from/to pair (UTC, to the minute); the pair is filled in only when the URL gave a window,
    /// so changing the symbol of the newest candles stays on the newest.
    private func analyticsControls(symbols: [Symbol], symbol: Symbol, interval: Interval, from: Int64?, to: Int64?) -> String {
        var html = HTML()
        html.raw("<form class=\"controls\" method=\"get\" action=\"/analytics\"><label>Symbol <select name=\"symbol\">")
        for option in Set(symbols + [symbol]).sorted() {
            html.raw("<option\(option == symbol ? " selected" : "")>\(option)</option>")
        }
        html.raw("</select></label><label>Interval <select name=\"interval\">")
        for option in QueryReader.servedIntervals {
            html.raw("<option\(option == interval ? " selected" : "")>\(option.rawValue)</option>")
        }
        html.raw("</select></label>")
        for (name, value) in [("from", from), ("to", to)] {
            let text = value.map { String(UTCTime.iso8601($0).prefix(16)) } ?? ""
            html.raw("<label>\(name.capitalized) <input type=\"datetime-local\" name=\"\(name)\" step=\"60\" value=\"\(text)\"></label>")
        }
        html.raw("<span class=\"muted\">UTC</span><button type=\"submit\">Show</button></form>")
        return html.text
    }

    /// Last hour, day, week, month and all stored history, each as a plain from/to link (at an interval that shows it in
    /// at most 1,000 candles), so a range is bookmarkable and works without the script.
    private func rangeLinks(symbol: Symbol, interval: Interval) async throws -> String {
        // The exchange's "now" rests on a stored offset; kept to the times a query may name, so every link is valid.
        let now = min(max(try await api.exchangeTime().now, 0), QueryValue.latestTime)
        var html = HTML()
        html.raw("<nav class=\"ranges\" aria-label=\"Time range\">Range")
        for range in ChartRange.all {
            let from: Int64
            if let span = range.span {
                from = max(0, now - span)
            } else {
                guard let oldest = try await oldestStoredTime(symbol) else { continue }
                from = oldest
            }
            guard from < now else { continue }
            let shown = ChartRange.interval(showing: now - from, current: interval)
            html.raw("<a href=\"\(analyticsLink(symbol, shown, from: from, to: now))\" title=\"\(range.title) at \(shown.rawValue)\">")
            html.raw("\(range.name)</a>")
        }
        html.raw("</nav>")
        return html.text
    }

    /// The open time of the symbol's oldest stored candle: a daily roll-up (they outlive the minutes) or a minute.
    private func oldestStoredTime(_ symbol: Symbol) async throws -> Int64? {
        var oldest: Int64?
        for interval in [Interval.oneDay, .oneMinute] {
            let first = try await api.candleReader.store.klines(
                symbol: symbol, interval: interval, from: 0, to: .max, includeOpen: true, limit: 1
            ).first?.kline.openTime
            if let first { oldest = min(oldest ?? first, first) }
        }
        return oldest
    }

    /// The chart (price with Bollinger Bands and volume, RSI, MACD) of `window`, its data for the script, and the links
    /// that move the window without the script.
    private func chartPanel(_ window: ChartWindow, first: Int64, last: Int64) -> String {
        let symbol = window.symbol
        let interval = window.interval
        let count = window.candles.count
        let candles = window.candles.map { ChartCandle($0.kline) }
        let indicators = window.indicators
        let layout = CandlestickLayout(candles: candles, extraPrices: (indicators.upper + indicators.lower).compactMap { $0 })
        var html = HTML()
        html.raw("<div class=\"panel\"><h2>\(symbol) · \(interval.rawValue) ")
        html.element("span", "class=\"muted\" id=\"chart-span\"", "\(Display.time(first)) to \(Display.time(last)) · \(count) candles")
        html.raw("</h2>")
        if window.truncated {
            html.element(
                "p", "class=\"notice\"",
                "The window holds more than \(window.limit) \(interval.rawValue) candles: these are its first \(window.limit). "
                    + (window.limit < ChartWindow.maximumCandles
                        ? "A larger limit (up to \(ChartWindow.maximumCandles)) or a longer interval shows more of it."
                        : "A longer interval shows all of it."))
        }
        html.raw("<div class=\"readout\" id=\"readout\">Hover the chart for open, high, low, close and volume.</div>")
        let pane = PaneCharts.Frame()
        let frame = layout.frame
        let geometry = [
            frame.width, frame.height, frame.left, frame.right, frame.top, frame.bottom, frame.volumeShare, frame.gap, pane.height,
            pane.top, pane.bottom,
        ].map(SVG.number).joined(separator: " ")
        html.raw(
            "<div class=\"chart-view\" id=\"chart-view\" role=\"group\" data-readout=\"readout\" data-frame=\"\(geometry)\" "
                + "data-candles=\"\(ChartView.minimumCandles) \(ChartWindow.maximumCandles)\" "
                + "data-interval-ms=\"\(TimeTicks.length(of: interval))\" "
                + "aria-label=\"\(symbol) \(interval.rawValue) chart\">")
        html.raw(
            layout.svg(
                interval: interval, bands: (upper: indicators.upper, middle: indicators.middle, lower: indicators.lower),
                label: "\(symbol) \(interval.rawValue) candlesticks with Bollinger Bands"))
        html.raw("<h2>RSI (14)</h2>")
        html.raw(PaneCharts.rsi(indicators.rsi, label: "RSI 14"))
        html.raw("<h2>MACD (12, 26, 9)</h2>")
        html.raw(PaneCharts.macd(indicators.macd, signal: indicators.signal, histogram: indicators.histogram, label: "MACD 12 26 9"))
        html.raw("</div>")
        html.raw(navigationLinks(window, first: first, last: last))
        if let newest = window.candles.last {
            func latest(_ series: [Double?]) -> String { series.last.flatMap { $0 }.map { SVG.fixed($0, decimals: 2) } ?? "—" }
            html.element(
                "p", "class=\"muted\"",
                "Newest candle shown \(Display.time(newest.kline.openTime))\(newest.isFinal ? "" : " (still open)"); latest RSI "
                    + latest(indicators.rsi) + ", MACD " + latest(indicators.macd) + " (signal " + latest(indicators.signal) + ")")
        }
        if indicators.macd.allSatisfy({ $0 == nil }) {
            html.element(
                "p", "class=\"muted\"",
                "RSI needs 15 candles and MACD 34 up to the one shown; their panes fill in where there are enough.")
        }
        var data = JSONWriter(capacity: 256 + count * 360)
        window.write(to: &data)
        // A data block, not a script: the policy (`script-src 'self'`) lets the page's own script read it. Nothing in it
        // can end the element early, but `</` is written as `<\/` all the same.
        let json = String(decoding: data.bytes, as: UTF8.self).replacingOccurrences(of: "</", with: "<\\/")
        html.raw("<script type=\"application/json\" id=\"chart-data\">\(json)</script>")
        html.raw("</div>")
        return html.text
    }

    /// Older, newer and newest windows, zoom in and out, and, at the first stored candle, the coarser intervals whose
    /// history reaches further back: the script updates them as the view moves; without it they are the navigation.
    private func navigationLinks(_ window: ChartWindow, first: Int64, last: Int64) -> String {
        let symbol = window.symbol
        let interval = window.interval
        let count = window.candles.count
        var html = HTML()
        let zoomedIn = max(min(ChartView.minimumCandles, count), count / 2)
        let skip = (count - zoomedIn) / 2
        let links: [(move: String, title: String, href: String?)] = [
            ("older", "← Older", window.reachesOldest ? nil : analyticsLink(symbol, interval, to: first - 1, limit: count)),
            (
                "zoom-in", "+ Zoom in",
                zoomedIn < count
                    ? analyticsLink(
                        symbol, interval, from: window.candles[skip].kline.openTime, to: window.candles[skip + zoomedIn - 1].kline.openTime)
                    : nil
            ),
            (
                "zoom-out", "− Zoom out",
                count < ChartWindow.maximumCandles && !window.reachesOldest
                    ? analyticsLink(symbol, interval, to: last, limit: min(ChartWindow.maximumCandles, count * 2)) : nil
            ),
            ("newer", "Newer →", window.reachesNewest ? nil : analyticsLink(symbol, interval, from: last + 1, limit: count)),
            ("newest", "Newest ⇥", window.reachesNewest ? nil : analyticsLink(symbol, interval, limit: count)),
        ]
        html.raw("<nav class=\"pager chart-nav\" id=\"chart-nav\" aria-label=\"Move the chart\">")
        for link in links {
            // Every link is there, hidden where it leads nowhere, so the script can show it when the view moves.
            html.raw("<a data-move=\"\(link.move)\" href=\"\(link.href ?? "#")\"\(link.href == nil ? " hidden" : "")>\(link.title)</a>")
        }
        html.raw("</nav>")
        html.raw("<p class=\"muted\" id=\"chart-edge\"\(window.reachesOldest ? "" : " hidden")>")
        html.text("This is the first stored \(interval.rawValue) candle of \(symbol).")
        if !window.olderHistoryIntervals.isEmpty, first > 0 {
            html.raw(" Older history at ")
            html.raw(
                window.olderHistoryIntervals.map { coarser in
                    "<a data-interval=\"\(coarser.rawValue)\" href=\"\(analyticsLink(symbol, coarser, to: first - 1, limit: 120))\">"
                        + "\(coarser.rawValue)</a>"
                }.joined(separator: " · "))
            html.raw(" (the hourly and daily roll-ups outlive the minutes' retention).")
        }
        html.raw("</p>")
        return html.text
    }

    /// A link to the Analytics page of a window; times are written in ISO-8601 so a bookmark can be read.
    func analyticsLink(_ symbol: Symbol, _ interval: Interval, from: Int64? = nil, to: Int64? = nil, limit: Int? = nil) -> String {
        var link = "/analytics?symbol=\(symbol)&amp;interval=\(interval.rawValue)"
        if let from { link += "&amp;from=" + UTCTime.iso8601(from) }
        if let to { link += "&amp;to=" + UTCTime.iso8601(to) }
        if let limit { link += "&amp;limit=\(limit)" }
        return link
    }
}

/// What the chart's script allows when zooming: from about 20 candles to a whole window.
enum ChartView {
    static let minimumCandles = 20
}

extension QueryReader {
    /// Like ``time(_:)``, with an empty value (a form's blank field) read as not given.
    func time(nonEmpty name: String) throws(APIError) -> Int64? {
        guard let text = string(name), !text.isEmpty else { return nil }
        return try time(name)
    }
}
