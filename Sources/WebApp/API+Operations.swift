import Exchange
import HTTPTypes
import Hummingbird
import MarketData
import Pipeline
import Warehouse

/// The scheduler, the tracked symbols and the effective configuration.
extension API {
    func scheduler(_ request: Request, _ context: some RequestContext) async throws -> Response {
        // Without a running scheduler (`cryptopipe serve`), another process may be running the jobs: read them afresh.
        let scheduler = services.scheduler
        try await scheduling { () throws(SchedulerError) in
            if await scheduler.isRunning { try await scheduler.prepare() } else { try await scheduler.reload() }
        }
        let states = await services.scheduler.states()
        let running = await services.scheduler.isRunning
        return Response.json { json in
            json.object { json in
                json.key("scheduler_running")
                json.bool(running)
                json.key("jobs")
                json.array { json in
                    for state in states { Self.write(state, to: &json) }
                }
            }
        }
    }

    static func write(_ state: JobState, to json: inout JSONWriter) {
        json.object { json in
            json.key("name")
            json.string(state.name.rawValue)
            json.key("enabled")
            json.bool(state.enabled)
            json.key("running")
            json.bool(state.running)
            json.key("schedule")
            json.object { json in
                json.key("kind")
                json.string(state.schedule.kind.rawValue)
                switch state.schedule {
                case .every(let seconds):
                    json.key("interval_seconds")
                    json.int(seconds)
                case .weekly(let weekday, let minute):
                    json.key("weekday")
                    json.string(JobSchedule.weekdayNames[weekday])
                    json.key("time")
                    json.string(JobSchedule.timeText(minuteOfDay: minute))
                }
                json.key("description")
                json.string(state.schedule.description)
            }
            json.time("next_run_at", "next_run_at_iso", state.nextRunAt)
            json.time("updated_at", "updated_at_iso", state.updatedAt)
            json.key("last_run")
            if let run = state.lastRun { write(run, to: &json) } else { json.null() }
        }
    }

    private func jobName(_ context: some RequestContext) async throws -> JobName {
        let name = JobName(rawValue: context.parameters.get("job") ?? "")
        let names = await services.scheduler.jobNames
        guard names.contains(name) else {
            throw APIError.notFound("unknown_job", "no job named '\(name)'; jobs are \(names.map(\.rawValue).joined(separator: ", "))")
        }
        return name
    }

    func setJobEnabled(_ enabled: Bool, _ request: Request, _ context: WebRequestContext) async throws -> Response {
        try requireAdmin(request, context)
        let name = try await jobName(context)
        let state = try await scheduling { () throws(SchedulerError) in try await services.scheduler.setEnabled(name, enabled) }
        return Response.json { json in Self.write(state, to: &json) }
    }

    func triggerJob(_ request: Request, _ context: WebRequestContext) async throws -> Response {
        try requireAdmin(request, context)
        let name = try await jobName(context)
        let result = try await scheduling { () throws(SchedulerError) in try await services.scheduler.trigger(name) }
        return Response.json(status: .accepted) { json in
            json.object { json in
                json.key("job")
                json.string(name.rawValue)
                json.key("status")
                json.string(result.rawValue)
                json.key("message")
                json.string("the run is recorded in /api/ingestion/logs when it finishes")
            }
        }
    }

    struct ScheduleChange: Decodable {
        var interval_seconds: Int?
        var weekday: String?
        var time: String?
    }

    func patchJob(_ request: Request, _ context: WebRequestContext) async throws -> Response {
        try requireAdmin(request, context)
        let name = try await jobName(context)
        let expected = "{\"interval_seconds\": 60} for interval jobs or {\"weekday\": \"sunday\", \"time\": \"02:00\"} for weekly ones"
        let change = try await request.decodeJSON(ScheduleChange.self, context: context, expected: expected)
        let schedule: JobSchedule
        switch (change.interval_seconds, change.weekday, change.time) {
        case (let seconds?, nil, nil):
            schedule = .every(seconds: seconds)
        case (nil, let weekdayText?, let timeText?):
            guard let weekday = JobSchedule.weekday(parsing: weekdayText) else {
                throw APIError.badRequest("invalid_weekday", "weekday must be sunday … saturday, not '\(weekdayText)'")
            }
            guard let minute = JobSchedule.minuteOfDay(parsing: timeText) else {
                throw APIError.badRequest("invalid_time", "time must be HH:MM in UTC (00:00-23:59), not '\(timeText)'")
            }
            schedule = .weekly(weekday: weekday, minuteOfDay: minute)
        default:
            throw APIError.badRequest("invalid_body", "give \(expected)")
        }
        let state = try await scheduling { () throws(SchedulerError) in try await services.scheduler.setSchedule(name, schedule) }
        return Response.json { json in Self.write(state, to: &json) }
    }

    func listSymbols(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let symbols = try await services.symbols.symbols()
        return Self.symbolsResponse(symbols, status: .ok)
    }

    static func symbolsResponse(_ symbols: [Symbol], status: HTTPResponse.Status) -> Response {
        Response.json(status: status) { json in
            json.object { json in
                json.key("symbols")
                json.array { json in
                    for symbol in symbols { json.string(symbol.rawValue) }
                }
            }
        }
    }

    struct SymbolAddition: Decodable {
        var symbol: String
    }

    func addSymbol(_ request: Request, _ context: WebRequestContext) async throws -> Response {
        try requireAdmin(request, context)
        let addition = try await request.decodeJSON(SymbolAddition.self, context: context, expected: "{\"symbol\": \"SOLUSDT\"}")
        let symbol: Symbol
        do {
            symbol = try Symbol(asciiUppercased(addition.symbol))
        } catch {
            throw APIError.badRequest("invalid_symbol", "'\(addition.symbol)' is not a symbol: expected letters and digits such as BTCUSDT")
        }
        let before = try await services.symbols.symbols()
        do {
            let symbols = try await services.symbols.add(symbol, validatingWith: services.exchange)
            return Self.symbolsResponse(symbols, status: before.contains(symbol) ? .ok : .created)
        } catch {
            switch error.code {
            case .notListed, .notTrading: throw APIError.badRequest("unknown_symbol", error.description)
            case .notTracked: throw APIError.notFound("not_tracked", error.description)
            case .exchangeUnavailable: throw APIError(.badGateway, code: "exchange_unavailable", error.description)
            default: throw APIError(.serviceUnavailable, code: "warehouse_unavailable", error.description)
            }
        }
    }

    func removeSymbol(_ request: Request, _ context: WebRequestContext) async throws -> Response {
        try requireAdmin(request, context)
        let symbol = try pathSymbol(context)
        do {
            return Self.symbolsResponse(try await services.symbols.remove(symbol), status: .ok)
        } catch {
            switch error.code {
            case .notTracked: throw APIError.notFound("not_tracked", "\(symbol) is not tracked")
            default: throw APIError(.serviceUnavailable, code: "warehouse_unavailable", error.description)
            }
        }
    }

    func configuration(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let symbols = try await services.symbols.symbols()
        return Response.json { json in
            json.object { json in
                json.key("settings")
                json.array { json in
                    for entry in services.configuration {
                        json.object { json in
                            json.key("name")
                            json.string(entry.name)
                            json.key("value")
                            json.string(entry.value)
                            json.key("source")
                            json.string(entry.source)
                            json.key("secret")
                            json.bool(entry.secret)
                        }
                    }
                }
                json.key("tracked_symbols")
                json.array { json in
                    for symbol in symbols { json.string(symbol.rawValue) }
                }
                json.key("admin_enabled")
                json.bool(services.adminToken != nil)
            }
        }
    }
}

extension SchedulerError {
    var apiError: APIError {
        switch kind {
        case .unknownJob: APIError.notFound("unknown_job", description)
        case .wrongScheduleKind: APIError.badRequest("wrong_schedule_kind", description)
        case .invalidSchedule: APIError.badRequest("invalid_schedule", description)
        case .alreadyRunning: APIError(.conflict, code: "already_running", description)
        case .notRunning: APIError(.conflict, code: "scheduler_not_running", description)
        case .storage: APIError(.serviceUnavailable, code: "warehouse_unavailable", description)
        }
    }
}

/// Runs a scheduler call, answering its failure with the matching API error.
func scheduling<T>(_ body: () async throws(SchedulerError) -> T) async throws(APIError) -> T {
    do {
        return try await body()
    } catch {
        throw error.apiError
    }
}
