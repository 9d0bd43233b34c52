import Hummingbird
import MarketData
import Pipeline
import Warehouse

/// Pipeline, Scheduler and Settings, and the form actions behind them.
extension Pages {
    func pipeline(_ request: Request) async -> Response {
        await render(request, title: "Pipeline", current: "/pipeline") { _ in
            let query = request.query
            let page = try query.integer("page", in: 1...1_000_000, default: 1)
            let jobs = await services.scheduler.jobNames
            let (job, status) = try query.jobRunFilter(jobs: jobs)
            let now = api.now
            let exchange = try await api.exchangeTime()
            let symbols = try await services.symbols.symbols()
            var html = HTML()

            html.raw("<div class=\"panel\"><h2>Freshness</h2>")
            if let warning = exchange.reading.flatMap(API.clockWarning) {
                html.element("div", "class=\"error\" role=\"alert\"", "Clock: \(warning).")
            }
            if symbols.isEmpty {
                html.raw("<div class=\"empty\">No symbols are tracked. Add one on <a href=\"/settings\">Settings</a>.</div>")
            } else {
                html.raw("<table><tr><th>Symbol</th><th>Newest closed candle</th><th class=\"num\">Lag</th><th>Last k-line fetch</th>")
                html.raw("<th>Latest order book</th><th class=\"num\">Gaps open</th><th class=\"num\">Exchange-empty</th></tr>")
                for symbol in symbols {
                    let freshness = try await Freshness.read(symbol, from: services.warehouse, at: exchange.now)
                    let state = try await services.warehouse.extractionState(symbol: symbol, type: .klines)
                    let gaps = try await services.warehouse.gaps(symbol: symbol)
                    html.raw("<tr>")
                    html.raw("<td><a href=\"/analytics?symbol=\(symbol)\">\(symbol)</a></td>")
                    html.element("td", "", Display.time(freshness.newestClosedOpenTime))
                    html.element("td", "class=\"num\"", Display.age(freshness.klineLagSeconds))
                    html.element("td", "", Display.time(state?.lastFetchTime))
                    html.element("td", "", Display.time(freshness.latestBookCapturedAt))
                    html.element("td", "class=\"num\"", String(gaps.filter { $0.status == .open }.count))
                    html.element("td", "class=\"num\"", String(gaps.filter { $0.status == .exchangeEmpty }.count))
                    html.raw("</tr>")
                }
                html.raw("</table>")
            }
            let usage = services.exchangeUsage.snapshot
            html.raw("<p class=\"muted\">Request weight: ")
            html.text(
                usage.usedWeight.map { "\($0) of \(usage.weightLimit) this minute (\(Display.time(usage.usedWeightAt)))" }
                    ?? "no request yet")
            html.text(usage.isBanned(at: now) ? " · BANNED until \(Display.time(usage.bannedUntil))" : "")
            html.text(usage.isRateLimited(at: now) ? " · rate limited until \(Display.time(usage.rateLimitedUntil))" : "")
            html.text(" · \(usage.requests) requests, \(usage.failures) failed")
            html.text(
                exchange.reading.map { reading in
                    " · \(ExchangeClockSync.describe(reading.offsetMilliseconds)) "
                        + "(measured \(Display.time(reading.measuredAt)), round trip \(reading.roundTripMilliseconds) ms)"
                } ?? " · exchange clock not measured yet")
            html.raw("</p></div>")

            var gaps: [KlineGap] = []
            for symbol in symbols { gaps += try await services.warehouse.gaps(symbol: symbol) }
            html.raw("<div class=\"panel\"><h2>Gaps</h2>")
            if gaps.isEmpty {
                html.raw("<div class=\"empty\">No gaps recorded. The gap-fill job looks for missing minutes every hour.</div>")
            } else {
                let newest = gaps.sorted { $0.updatedAt > $1.updatedAt }.prefix(20)
                html.raw(
                    "<table><tr><th>Symbol</th><th>From</th><th>To</th><th class=\"num\">Minutes</th><th>Status</th><th>Updated</th></tr>")
                for gap in newest {
                    html.raw("<tr>")
                    html.element("td", "", gap.symbol.rawValue)
                    html.element("td", "", Display.time(gap.range.from))
                    html.element("td", "", Display.time(gap.range.to))
                    html.element("td", "class=\"num\"", Display.count(Int(gap.range.minutes)))
                    html.raw("<td><span class=\"badge \(gap.status.rawValue)\">\(gap.status.rawValue)</span></td>")
                    html.element("td", "", Display.time(gap.updatedAt))
                    html.raw("</tr>")
                }
                html.raw("</table>")
                if gaps.count > newest.count {
                    html.element(
                        "p", "class=\"muted\"", "The 20 most recently updated of \(gaps.count) gaps; /api/gaps/{symbol} lists them all.")
                }
            }
            html.raw("</div>")

            let figures = try await api.warehouseFigures()
            let ledger = figures.value.ledger
            let counts = figures.value.tableCounts
            html.raw("<div class=\"two\"><div class=\"panel\"><h2>Warehouse</h2><table><tr><th>Table</th><th class=\"num\">Rows</th></tr>")
            for (table, count) in counts.sorted(by: { $0.key < $1.key }) {
                html.raw("<tr>")
                html.element("td", "", table)
                html.element("td", "class=\"num\"", Display.count(count))
                html.raw("</tr>")
            }
            html.raw("</table><p class=\"muted\">")
            html.text("Counted \(Display.time(figures.computedAt)); recounted at most once a minute. ")
            html.text(
                "\(ledger.processedFiles) files processed (\(ledger.processedRows) rows read, \(ledger.duplicatesSkipped) duplicates skipped), "
                    + "\(ledger.rejectedFiles) rejected, \(ledger.archivedFiles) archived; last load \(Display.time(ledger.lastProcessedAt))"
            )
            html.raw("</p></div><div class=\"panel\"><h2>Data lake</h2>")
            do {
                let lake = try await api.lakeStatistics.snapshot(now: now)
                html.raw(
                    "<table><tr><th>Bucket</th><th class=\"num\">Objects</th><th class=\"num\">Bytes</th><th class=\"num\">Days</th></tr>")
                for bucket in lake.buckets {
                    html.raw("<tr>")
                    html.element("td", "", bucket.name)
                    html.element("td", "class=\"num\"", Display.count(bucket.objects))
                    html.element("td", "class=\"num\"", Display.count(bucket.bytes))
                    html.element("td", "class=\"num\"", String(bucket.days))
                    html.raw("</tr>")
                }
                html.raw("</table>")
                html.element("p", "class=\"muted\"", "Counted \(Display.time(lake.computedAt)); recounted at most once a minute.")
            } catch {
                services.logger.error("cannot list the data lake", metadata: ["error": "\(error)"])
                html.element("div", "class=\"error\"", "Cannot list the lake right now; the server's log has the detail.")
            }
            html.raw("</div></div>")

            let pageSize = 25
            let runs = try await services.warehouse.jobRuns(JobRunQuery(page: page, pageSize: pageSize, job: job, status: status))
            html.raw("<div class=\"panel\"><h2>Ingestion log</h2><form class=\"controls\" method=\"get\" action=\"/pipeline\">")
            html.raw("<label>Job <select name=\"job\"><option value=\"\">all</option>")
            for name in jobs { html.raw("<option\(name == job ? " selected" : "")>\(HTML.escape(name.rawValue))</option>") }
            html.raw("</select></label><label>Status <select name=\"status\"><option value=\"\">all</option>")
            for option in JobRunStatus.allCases {
                html.raw("<option\(option == status ? " selected" : "")>\(option.rawValue)</option>")
            }
            html.raw("</select></label><button type=\"submit\">Filter</button></form>")
            if runs.runs.isEmpty {
                html.raw(
                    "<div class=\"empty\">No job runs\(job != nil || status != nil ? " match these filters" : " yet: they appear once cryptopipe run has started").</div>"
                )
            } else {
                html.raw("<table><tr><th>Started</th><th>Job</th><th>Trigger</th><th>Status</th><th class=\"num\">Duration</th>")
                html.raw("<th class=\"num\">Files</th><th class=\"num\">Rows</th><th>Error</th></tr>")
                for run in runs.runs {
                    html.raw("<tr>")
                    html.element("td", "", Display.time(run.startedAt))
                    html.element("td", "", run.job.rawValue)
                    html.element("td", "", run.trigger.rawValue)
                    html.raw("<td><span class=\"badge \(run.status.rawValue)\">\(run.status.rawValue)</span></td>")
                    html.element("td", "class=\"num\"", run.finishedAt.map { "\($0 - run.startedAt) ms" } ?? "running")
                    html.element("td", "class=\"num\"", String(run.files))
                    html.element("td", "class=\"num\"", String(run.rows))
                    html.element("td", "", run.error ?? "")
                    html.raw("</tr>")
                }
                html.raw("</table>")
            }
            let pages = max(1, (runs.total + pageSize - 1) / pageSize)
            func link(_ target: Int) -> String {
                var query = "page=\(target)"
                if let job { query += "&job=\(FormData.escapeQuery(job.rawValue))" }
                if let status { query += "&status=\(status.rawValue)" }
                return "/pipeline?\(query)"
            }
            html.raw("<div class=\"pager\">")
            if page > 1 { html.raw("<a href=\"\(link(page - 1))\">← newer</a>") }
            html.text("page \(page) of \(pages) · \(runs.total) runs")
            if page < pages { html.raw("<a href=\"\(link(page + 1))\">older →</a>") }
            html.raw("</div></div>")
            return html.text
        }
    }

    func scheduler(_ request: Request, error: String? = nil) async -> Response {
        await render(request, title: "Scheduler", current: "/scheduler", error: error) { visitor in
            let scheduler = services.scheduler
            let running = await scheduler.isRunning
            if running { try await scheduler.prepare() } else { try await scheduler.reload() }
            let states = await scheduler.states()
            let blocker = visitor.changeBlocker
            var html = HTML()
            if !running {
                html.raw(
                    "<div class=\"empty\">Jobs do not run in this process (<code>cryptopipe serve</code>): schedule changes are saved ")
                html.raw("for <code>cryptopipe run</code>, and “Run now” needs it.</div>")
            }
            if let blocker { html.element("div", "class=\"empty\"", blocker) }
            html.raw(
                "<div class=\"panel\"><table><tr><th>Job</th><th>Schedule</th><th>State</th><th>Last run</th><th>Next run</th><th>Actions</th></tr>"
            )
            for state in states {
                let disabled = blocker == nil ? "" : " disabled"
                html.raw("<tr><td><strong>\(HTML.escape(state.name.rawValue))</strong></td><td>")
                html.raw("<form class=\"inline\" method=\"post\" action=\"/scheduler/\(state.name)/schedule\">\(visitor.csrfField)")
                switch state.schedule {
                case .every(let seconds):
                    html.raw("every <input type=\"number\" name=\"interval_seconds\" min=\"\(JobSchedule.minimumIntervalSeconds)\" ")
                    html.raw("max=\"\(JobSchedule.maximumIntervalSeconds)\" value=\"\(seconds)\" class=\"seconds\"\(disabled)> s")
                case .weekly(let weekday, let minute):
                    html.raw("<select name=\"weekday\"\(disabled)>")
                    for (index, name) in JobSchedule.weekdayNames.enumerated() {
                        html.raw("<option value=\"\(name)\"\(index == weekday ? " selected" : "")>\(name.capitalized)</option>")
                    }
                    html.raw(
                        "</select> <input type=\"time\" name=\"time\" value=\"\(JobSchedule.timeText(minuteOfDay: minute))\"\(disabled)> UTC"
                    )
                }
                html.raw(" <button class=\"secondary\" type=\"submit\"\(disabled)>Save</button></form></td>")
                html.raw("<td><span class=\"badge \(state.enabled ? "ok" : "unknown")\">\(state.enabled ? "enabled" : "disabled")</span>")
                if state.running { html.raw(" <span class=\"badge running\">running</span>") }
                html.raw("</td><td>")
                if let run = state.lastRun {
                    html.raw("<span class=\"badge \(run.status.rawValue)\">\(run.status.rawValue)</span> ")
                    html.text("\(Display.time(run.startedAt)) · \(run.rows) rows")
                    if let error = run.error { html.element("div", "class=\"muted\"", error) }
                } else {
                    html.text("never")
                }
                html.raw("</td>")
                html.element("td", "", state.nextRunAt.map { Display.time($0) } ?? (state.enabled ? "—" : "disabled"))
                html.raw(
                    "<td><form class=\"inline\" method=\"post\" action=\"/scheduler/\(state.name)/\(state.enabled ? "disable" : "enable")\">"
                )
                html.raw(
                    "\(visitor.csrfField)<button class=\"secondary\" type=\"submit\"\(disabled)>\(state.enabled ? "Disable" : "Enable")</button></form> "
                )
                html.raw("<form class=\"inline\" method=\"post\" action=\"/scheduler/\(state.name)/trigger\">\(visitor.csrfField)")
                html.raw("<button type=\"submit\"\(disabled)>Run now</button></form></td></tr>")
            }
            html.raw("</table></div>")
            return html.text
        }
    }

    func settings(_ request: Request, error: String? = nil) async -> Response {
        await render(request, title: "Settings", current: "/settings", error: error) { visitor in
            let symbols = try await services.symbols.symbols()
            let blocker = visitor.changeBlocker
            let disabled = blocker == nil ? "" : " disabled"
            var html = HTML()
            if let blocker { html.element("div", "class=\"empty\"", blocker) }
            html.raw("<div class=\"two\"><div class=\"panel\"><h2>Tracked symbols</h2>")
            if symbols.isEmpty {
                html.raw("<div class=\"empty\">No symbols are tracked: add one below, e.g. BTCUSDT.</div>")
            } else {
                html.raw("<table>")
                for symbol in symbols {
                    html.raw("<tr><td><a href=\"/analytics?symbol=\(symbol)\">\(symbol)</a></td><td>")
                    html.raw("<form class=\"inline\" method=\"post\" action=\"/settings/symbols/\(symbol)/remove\">\(visitor.csrfField)")
                    html.raw("<button class=\"danger\" type=\"submit\"\(disabled)>Remove</button></form></td></tr>")
                }
                html.raw("</table>")
            }
            html.raw("<form class=\"controls spaced\" method=\"post\" action=\"/settings/symbols\">\(visitor.csrfField)")
            html.raw(
                "<label>Add symbol <input name=\"symbol\" placeholder=\"SOLUSDT\" pattern=\"[A-Za-z0-9]{5,20}\" required\(disabled)></label>"
            )
            html.raw("<button type=\"submit\"\(disabled)>Add</button></form>")
            html.element(
                "p", "class=\"muted\"", "New symbols are checked against the exchange's exchangeInfo; removing one keeps its stored data.")
            html.raw(
                "</div><div class=\"panel\"><h2>Effective configuration</h2><table><tr><th>Setting</th><th>Value</th><th>From</th></tr>")
            for entry in services.configuration {
                html.raw("<tr>")
                html.element("td", "", entry.name)
                html.element("td", "", entry.value.isEmpty ? "(not set)" : entry.value)
                html.element("td", "class=\"muted\"", entry.source)
                html.raw("</tr>")
            }
            html.raw("</table></div></div>")
            return html.text
        }
    }

    // MARK: Form actions

    func jobAction(_ request: Request, _ context: some RequestContext, _ action: String) async throws -> Response {
        try await formAction(request, back: "/scheduler", page: { await scheduler($0, error: $1) }) { form in
            let name = JobName(rawValue: context.parameters.get("job") ?? "")
            let scheduler = services.scheduler
            switch action {
            case "enable", "disable":
                _ = try await scheduling { () throws(SchedulerError) in try await scheduler.setEnabled(name, action == "enable") }
                return action == "enable" ? .jobEnabled : .jobDisabled
            case "trigger":
                let result = try await scheduling { () throws(SchedulerError) in try await scheduler.trigger(name) }
                return result == .started ? .jobStarted : .jobQueued
            default:
                let schedule: JobSchedule
                if let text = form["interval_seconds"] {
                    guard let seconds = Int(text) else {
                        throw APIError.badRequest("invalid_schedule", "'\(shown(text))' is not a number of seconds")
                    }
                    schedule = .every(seconds: seconds)
                } else if let weekday = form["weekday"].flatMap(JobSchedule.weekday(parsing:)),
                    let minute = form["time"].flatMap(JobSchedule.minuteOfDay(parsing:))
                {
                    schedule = .weekly(weekday: weekday, minuteOfDay: minute)
                } else {
                    throw APIError.badRequest("invalid_schedule", "give an interval in seconds, or a weekday and a time (HH:MM)")
                }
                _ = try await scheduling { () throws(SchedulerError) in try await scheduler.setSchedule(name, schedule) }
                return .scheduleSaved
            }
        }
    }

    func addSymbol(_ request: Request) async throws -> Response {
        try await formAction(request, back: "/settings", page: { await settings($0, error: $1) }) { form in
            let text = (form["symbol"] ?? "").trimmingCharacters(in: .whitespaces)
            let symbol: Symbol
            do {
                symbol = try Symbol(asciiUppercased(text))
            } catch {
                throw APIError.badRequest("invalid_symbol", "'\(shown(text))' is not a symbol: expected letters and digits such as BTCUSDT")
            }
            do {
                _ = try await services.symbols.add(symbol, validatingWith: services.exchange)
            } catch let error as SymbolRegistryError {
                switch error.code {
                case .notListed, .notTrading, .notTracked: throw APIError.badRequest("symbol_not_added", error.description)
                // Server-side failures go to the error middleware, which answers with a request id only.
                case .exchangeUnavailable: throw APIError(.badGateway, code: "exchange_unavailable", error.description)
                default: throw APIError(.serviceUnavailable, code: "warehouse_unavailable", error.description)
                }
            }
            return .symbolAdded
        }
    }

    func removeSymbol(_ request: Request, _ context: some RequestContext) async throws -> Response {
        try await formAction(request, back: "/settings", page: { await settings($0, error: $1) }) { _ in
            let symbol = try pathSymbol(context)
            do {
                _ = try await services.symbols.remove(symbol)
            } catch let error as SymbolRegistryError {
                switch error.code {
                case .notTracked: throw APIError.badRequest("symbol_not_removed", error.description)
                default: throw APIError(.serviceUnavailable, code: "warehouse_unavailable", error.description)
                }
            }
            return .symbolRemoved
        }
    }
}
