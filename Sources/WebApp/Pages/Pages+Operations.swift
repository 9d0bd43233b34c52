import Exchange
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
            let filter = try query.jobRunFilter(jobs: jobs)
            let now = api.now
            let overview = try await api.pipelineOverview(gaps: true)
            let figures = try await api.warehouseFigures()
            let lake: LakeStatisticsCache.Snapshot?
            do {
                lake = try await api.lakeStatistics.snapshot(now: now)
            } catch {
                services.logger.error("cannot list the data lake", metadata: ["error": "\(error)"])
                lake = nil
            }
            let runs = try await services.warehouse.jobRuns(
                JobRunQuery(page: page, pageSize: Self.ingestionLogPageSize, job: filter.job, status: filter.status))
            let streams = try await StreamStatus.load(from: services.warehouse)
            let cluster = try await WorkerCoordinator.overview(of: services.warehouse, at: now)
            var html = HTML()
            Self.freshnessPanel(overview, usage: services.exchangeUsage.snapshot, now: now, to: &html)
            Self.workersPanel(cluster, to: &html)
            if let streams { Self.streamsPanel(streams, now: now, to: &html) }
            Self.gapsPanel(overview.gaps, to: &html)
            html.raw("<div class=\"two\">")
            Self.warehousePanel(figures, to: &html)
            Self.lakePanel(lake, to: &html)
            html.raw("</div>")
            Self.ingestionLogPanel(runs, jobs: jobs, filter: filter, page: page, to: &html)
            return html.text
        }
    }

    /// Per symbol: the newest closed candle and its lag, the last fetch, the latest book and the gaps; then the
    /// exchange's weight, bans and clock.
    static func freshnessPanel(_ overview: PipelineOverview, usage: ExchangeUsage, now: Int64, to html: inout HTML) {
        html.raw("<div class=\"panel\"><h2>Freshness</h2>")
        if let warning = overview.clockReading.flatMap(API.clockWarning) {
            html.element("div", "class=\"error\" role=\"alert\"", "Clock: \(warning).")
        }
        if overview.symbols.isEmpty {
            html.raw("<div class=\"empty\">No symbols are tracked. Add one on <a href=\"/settings\">Settings</a>.</div>")
        } else {
            html.table(
                [
                    ("Symbol", false), ("Newest closed candle", false), ("Lag", true), ("Last k-line fetch", false),
                    ("Latest order book", false), ("Gaps open", true), ("Exchange-empty", true),
                ], overview.symbols
            ) { state in
                [
                    .markup("<a href=\"/analytics?symbol=\(state.symbol)\">\(state.symbol)</a>"),
                    .text(Display.time(state.freshness.newestClosedOpenTime)), .number(Display.age(state.freshness.klineLagSeconds)),
                    .text(Display.time(state.klines?.lastFetchTime)), .text(Display.time(state.freshness.latestBookCapturedAt)),
                    .number(String(state.openGaps)), .number(String(state.exchangeEmptyGaps)),
                ]
            }
        }
        html.raw("<p class=\"muted\">Request weight: ")
        html.text(
            usage.usedWeight.map { "\($0) of \(usage.weightLimit) this minute (\(Display.time(usage.usedWeightAt)))" } ?? "no request yet")
        html.text(usage.isBanned(at: now) ? " · BANNED until \(Display.time(usage.bannedUntil))" : "")
        html.text(usage.isRateLimited(at: now) ? " · rate limited until \(Display.time(usage.rateLimitedUntil))" : "")
        html.text(" · \(usage.requests) requests, \(usage.failures) failed")
        html.text(
            overview.clockReading.map { reading in
                " · \(ExchangeClockSync.describe(reading.offsetMilliseconds)) "
                    + "(measured \(Display.time(reading.measuredAt)), round trip \(reading.roundTripMilliseconds) ms)"
            } ?? " · exchange clock not measured yet")
        html.raw("</p></div>")
    }

    /// The `run` processes sharing this warehouse: their symbols, lease ages and singleton jobs.
    static func workersPanel(_ cluster: ClusterOverview, to html: inout HTML) {
        html.raw("<div class=\"panel\"><h2>Workers</h2>")
        guard !cluster.workers.isEmpty else {
            html.raw(
                "<div class=\"empty\">No worker has run on this warehouse in the last day: start <code>cryptopipe run</code>.</div></div>")
            return
        }
        let now = cluster.generatedAt
        func seconds(since time: Int64) -> Int64 {
            let (age, overflow) = now.subtractingReportingOverflow(time)
            return overflow ? 0 : max(0, age / 1_000)
        }
        html.table(
            [
                ("Worker", false), ("Host", false), ("State", false), ("Heartbeat", true), ("Symbols", true), ("Oldest lease held", true),
                ("Singleton jobs", false), ("Symbols held", false),
            ], cluster.workers
        ) { worker in
            let oldest = worker.symbols.map(\.lease.acquiredAt).min()
            return [
                .text(worker.record.id), .text("\(worker.record.host) (pid \(worker.record.processID))"),
                .markup(HTML.badge(worker.live ? "live" : "gone")),
                .number(Display.age(seconds(since: worker.record.heartbeatAt))), .number(String(worker.symbols.count)),
                .number(oldest.map { Display.age(seconds(since: $0)) } ?? "-"),
                .text(worker.jobs.map(\.name).joined(separator: ", ")),
                .text(worker.symbols.map(\.name).joined(separator: " ")),
            ]
        }
        html.raw(
            "<p class=\"muted\">Each tracked symbol is collected by one live worker; a worker's leases last \(cluster.workers.first.map { $0.record.leaseMilliseconds / 1_000 } ?? 15) s without renewal, then its symbols move to the others.</p></div>"
        )
    }

    /// The stream collector's connections, lag and per-symbol state, as it last saved them.
    static func streamsPanel(_ status: StreamStatus, now: Int64, to html: inout HTML) {
        html.raw("<div class=\"panel\"><h2>Streams</h2><p class=\"muted\">")
        html.text(
            "\(status.connections) connection\(status.connections == 1 ? "" : "s") to \(status.streamURL) · \(status.flushes) flushes · "
                + "lag from candle close to warehouse row: p50 \(status.lagP50Milliseconds.map { "\($0) ms" } ?? "-"), "
                + "p95 \(status.lagP95Milliseconds.map { "\($0) ms" } ?? "-") · saved \(Display.time(status.updatedAt))")
        if status.malformedMessages > 0 { html.text(" · \(status.malformedMessages) malformed messages skipped") }
        html.raw("</p>")
        html.table(
            [
                ("Symbol", false), ("Connected", false), ("Last event", false), ("Order book", false), ("Rebuilds", true),
                ("REST repairs", true), ("Newest candle written", false),
            ], status.symbols
        ) { state in
            [
                .text(state.symbol.rawValue), .text(state.connected ? "yes" : "no"), .text(Display.time(state.lastEvent)),
                .text(state.bookSynced ? "synced at \(state.bookUpdateId.map(String.init) ?? "-")" : "waiting for a snapshot"),
                .number(String(state.rebuilds)), .number(String(state.repairs)), .text(Display.time(state.lastWritten)),
            ]
        }
        html.raw("</div>")
    }

    /// The 20 most recently updated gaps.
    static func gapsPanel(_ gaps: [KlineGap], to html: inout HTML) {
        html.raw("<div class=\"panel\"><h2>Gaps</h2>")
        if gaps.isEmpty {
            html.raw("<div class=\"empty\">No gaps recorded. The gap-fill job looks for missing minutes every hour.</div>")
        } else {
            let newest = gaps.sorted { $0.updatedAt > $1.updatedAt }.prefix(20)
            html.table(
                [("Symbol", false), ("From", false), ("To", false), ("Minutes", true), ("Status", false), ("Updated", false)], newest
            ) { gap in
                [
                    .text(gap.symbol.rawValue), .text(Display.time(gap.range.from)), .text(Display.time(gap.range.to)),
                    .number(Display.count(Int(gap.range.minutes))), .markup(HTML.badge(gap.status.rawValue)),
                    .text(Display.time(gap.updatedAt)),
                ]
            }
            if gaps.count > newest.count {
                html.element(
                    "p", "class=\"muted\"", "The 20 most recently updated of \(gaps.count) gaps; /api/gaps/{symbol} lists them all.")
            }
        }
        html.raw("</div>")
    }

    /// Rows per table and the file ledgers, counted at most once a minute.
    static func warehousePanel(_ figures: SingleFlight<API.WarehouseStatistics>.Stamped, to html: inout HTML) {
        let ledger = figures.value.ledger
        html.raw("<div class=\"panel\"><h2>Warehouse</h2>")
        html.table([("Table", false), ("Rows", true)], figures.value.tableCounts.sorted { $0.key < $1.key }) { table in
            [.text(table.key), .number(Display.count(table.value))]
        }
        html.raw("<p class=\"muted\">")
        html.text("Counted \(Display.time(figures.computedAt)); recounted at most once a minute. ")
        html.text(
            "\(ledger.processedFiles) files processed (\(ledger.processedRows) rows read, \(ledger.duplicatesSkipped) duplicates skipped), "
                + "\(ledger.rejectedFiles) rejected, \(ledger.archivedFiles) archived; last load \(Display.time(ledger.lastProcessedAt))")
        html.raw("</p></div>")
    }

    /// Objects, bytes and days per bucket; `nil` when the lake could not be listed (the log has why).
    static func lakePanel(_ lake: LakeStatisticsCache.Snapshot?, to html: inout HTML) {
        html.raw("<div class=\"panel\"><h2>Data lake</h2>")
        if let lake {
            html.table([("Bucket", false), ("Objects", true), ("Bytes", true), ("Days", true)], lake.buckets) { bucket in
                [
                    .text(bucket.name), .number(Display.count(bucket.objects)), .number(Display.count(bucket.bytes)),
                    .number(String(bucket.days)),
                ]
            }
            html.element("p", "class=\"muted\"", "Counted \(Display.time(lake.computedAt)); recounted at most once a minute.")
        } else {
            html.element("div", "class=\"error\"", "Cannot list the lake right now; the server's log has the detail.")
        }
        html.raw("</div>")
    }

    static let ingestionLogPageSize = 25

    /// One page of job runs, with the job and status filters and links to the neighbouring pages.
    static func ingestionLogPanel(
        _ runs: JobRunPage, jobs: [JobName], filter: (job: JobName?, status: JobRunStatus?), page: Int, to html: inout HTML
    ) {
        html.raw("<div class=\"panel\"><h2>Ingestion log</h2><form class=\"controls\" method=\"get\" action=\"/pipeline\">")
        html.raw("<label>Job <select name=\"job\"><option value=\"\">all</option>")
        for name in jobs { html.raw("<option\(name == filter.job ? " selected" : "")>\(HTML.escape(name.rawValue))</option>") }
        html.raw("</select></label><label>Status <select name=\"status\"><option value=\"\">all</option>")
        for option in JobRunStatus.allCases {
            html.raw("<option\(option == filter.status ? " selected" : "")>\(option.rawValue)</option>")
        }
        html.raw("</select></label><button type=\"submit\">Filter</button></form>")
        if runs.runs.isEmpty {
            let filtered = filter.job != nil || filter.status != nil
            html.raw(
                "<div class=\"empty\">No job runs\(filtered ? " match these filters" : " yet: they appear once cryptopipe run has started").</div>"
            )
        } else {
            html.table(
                [
                    ("Started", false), ("Job", false), ("Worker", false), ("Trigger", false), ("Status", false), ("Duration", true),
                    ("Files", true), ("Rows", true), ("Error", false),
                ], runs.runs
            ) { run in
                [
                    .text(Display.time(run.startedAt)), .text(run.job.rawValue), .text(run.worker), .text(run.trigger.rawValue),
                    .markup(HTML.badge(run.status.rawValue)), .number(run.finishedAt.map { "\($0 - run.startedAt) ms" } ?? "running"),
                    .number(String(run.files)), .number(String(run.rows)), .text(run.error ?? ""),
                ]
            }
        }
        let pages = max(1, (runs.total + ingestionLogPageSize - 1) / ingestionLogPageSize)
        func link(_ target: Int) -> String {
            var query = "page=\(target)"
            if let job = filter.job { query += "&job=\(FormData.escapeQuery(job.rawValue))" }
            if let status = filter.status { query += "&status=\(status.rawValue)" }
            return "/pipeline?\(query)"
        }
        html.raw("<div class=\"pager\">")
        if page > 1 { html.raw("<a href=\"\(link(page - 1))\">← newer</a>") }
        html.text("page \(page) of \(pages) · \(runs.total) runs")
        if page < pages { html.raw("<a href=\"\(link(page + 1))\">older →</a>") }
        html.raw("</div></div>")
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
