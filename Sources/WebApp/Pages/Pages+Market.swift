import Analytics
import Hummingbird
import MarketData
import Pipeline
import Warehouse

/// The Dashboard, and the order-book panel of Analytics.
extension Pages {
    func dashboard(_ request: Request) async -> Response {
        if request.query.string("fragment") == "live" {
            do {
                return Response.html(try await dashboardLive(requestID: requestID(of: request)))
            } catch {
                let id = requestID(of: request)
                services.logger.error("dashboard refresh failed", metadata: ["http.request_id": "\(id)", "error": "\(error)"])
                return Response.html(
                    "<div class=\"error\">Refresh failed (request \(id)); the server's log has the detail.</div>",
                    status: .serviceUnavailable)
            }
        }
        return await render(request, title: "Dashboard", current: "/") { _ in
            "<div id=\"live\" data-refresh=\"15\" data-source=\"/?fragment=live\">"
                + (try await dashboardLive(requestID: requestID(of: request))) + "</div>"
        }
    }

    /// Cards and pipeline health: the part that refreshes every 15 s.
    func dashboardLive(requestID: String) async throws -> String {
        let symbols = try await services.symbols.symbols()
        var html = HTML()
        html.raw(try await healthSummary(requestID: requestID))
        if symbols.isEmpty {
            html.raw("<div class=\"empty\">No symbols are tracked. Add one on <a href=\"/settings\">Settings</a>.</div>")
            return html.text
        }
        html.raw("<div class=\"grid\">")
        for symbol in symbols {
            let minutes = try await services.warehouse.recentKlines(
                symbol: symbol, interval: .oneMinute, endingAt: Int64.max, includeOpen: false, limit: TickerStatistics.windowMinutes
            ).map(\.kline)
            html.raw("<div class=\"card\">")
            guard let stats = TickerStatistics(minutes: minutes) else {
                html.raw("<div class=\"symbol\"><a href=\"/analytics?symbol=\(symbol)\">\(symbol)</a></div>")
                html.element("p", "class=\"muted\"", "No candles yet: the next extract-transform run fetches them.")
                html.raw("</div>")
                continue
            }
            let rising = stats.priceChange.units >= 0
            let direction = rising ? "up" : "down"
            html.raw("<div class=\"symbol\"><a href=\"/analytics?symbol=\(symbol)\">\(symbol)</a>")
            html.raw("<span class=\"\(direction)\">\(HTML.escape(Display.percent(stats.priceChangePercent)))%</span></div>")
            html.element("div", "class=\"price\" data-live-price=\"\(symbol)\"", Display.decimal(stats.lastPrice))
            // Every 15th minute of the day: about 96 points.
            let closes = stride(from: 0, to: minutes.count, by: 15).map { minutes[$0].close.doubleValue } + [stats.lastPrice.doubleValue]
            html.raw(PaneCharts.sparkline(closes, rising: rising, label: "\(symbol) last 24 hours"))
            html.raw("<dl>")
            for (name, value) in [
                ("24h change", (rising ? "+" : "") + Display.decimal(stats.priceChange)), ("24h high", Display.decimal(stats.highPrice)),
                ("24h low", Display.decimal(stats.lowPrice)), ("Volume", Display.grouped(stats.volume.doubleValue)),
                ("Quote volume", Display.grouped(stats.quoteVolume.doubleValue)), ("Trades", Display.count(Int(stats.tradeCount))),
            ] {
                html.element("dt", "", name)
                html.element("dd", "", value)
            }
            html.raw("</dl>")
            if stats.minuteCount < TickerStatistics.windowMinutes {
                html.element("p", "class=\"muted\"", "Over \(stats.minuteCount) stored minutes (less than a day).")
            }
            html.raw("</div>")
        }
        html.raw("</div>")
        return html.text
    }

    /// Warehouse, lake and exchange at a glance, with the last extract-transform run.
    func healthSummary(requestID: String) async throws -> String {
        let components = await api.componentStatuses(at: api.now, requestID: requestID)
        let lastRun = try await services.warehouse.jobRuns(JobRunQuery(page: 1, pageSize: 1, job: PipelineJobs.extractTransform)).runs.first
        var html = HTML()
        html.raw("<div class=\"panel\"><h2>Pipeline health</h2><table><tr>")
        for component in components {
            html.raw("<td><strong>\(component.name.capitalized)</strong> ")
            html.raw("<span class=\"badge \(component.status)\">\(component.status)</span>")
            if let detail = component.detail { html.element("div", "class=\"muted\"", detail) }
            html.raw("</td>")
        }
        html.raw("<td><strong>Last extract-transform</strong> ")
        if let lastRun {
            html.raw("<span class=\"badge \(lastRun.status.rawValue)\">\(lastRun.status.rawValue)</span>")
            html.element("div", "class=\"muted\"", "\(Display.time(lastRun.startedAt)) · \(lastRun.rows) rows")
        } else {
            html.raw("<span class=\"badge unknown\">never</span><div class=\"muted\">start <code>cryptopipe run</code> to fetch data</div>")
        }
        html.raw("</td></tr></table></div>")
        return html.text
    }

    func orderBookPanel(_ symbol: Symbol) async throws -> String {
        var html = HTML()
        html.raw("<div class=\"two\"><div class=\"panel\"><h2>Order book depth</h2>")
        guard let book = try await services.warehouse.latestOrderBook(symbol: symbol, levels: 100) else {
            html.raw("<div class=\"empty\">No order book of \(symbol) is stored yet.</div></div></div>")
            return html.text
        }
        html.raw(PaneCharts.depth(bids: book.bids, asks: book.asks, label: "\(symbol) cumulative bids and asks"))
        html.element("p", "class=\"muted\"", "Snapshot \(Display.time(book.capturedAt)), update id \(book.lastUpdateId)")
        html.raw("</div><div class=\"panel\"><h2>Top 20</h2><table><tr><th class=\"num\">Bid qty</th><th class=\"num\">Bid</th>")
        html.raw("<th class=\"num\">Ask</th><th class=\"num\">Ask qty</th></tr>")
        for index in 0..<min(20, max(book.bids.count, book.asks.count)) {
            let bid = index < book.bids.count ? book.bids[index] : nil
            let ask = index < book.asks.count ? book.asks[index] : nil
            html.raw("<tr>")
            html.element("td", "class=\"num\"", bid.map { Display.decimal($0.quantity) } ?? "")
            html.element("td", "class=\"num up\"", bid.map { Display.decimal($0.price) } ?? "")
            html.element("td", "class=\"num down\"", ask.map { Display.decimal($0.price) } ?? "")
            html.element("td", "class=\"num\"", ask.map { Display.decimal($0.quantity) } ?? "")
            html.raw("</tr>")
        }
        html.raw("</table>")
        if let bid = book.bids.first?.price, let ask = book.asks.first?.price {
            html.element("p", "class=\"muted\"", "Spread \(Display.decimal(ask - bid)) · mid \(API.half(of: bid + ask))")
        }
        html.raw("</div></div>")
        return html.text
    }
}
