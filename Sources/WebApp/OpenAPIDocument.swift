import MarketData
import Pipeline

/// A JSON value with ordered object members, for documents built in code.
indirect enum JSONValue: Sendable, Hashable {
    case string(String)
    case int(Int)
    case bool(Bool)
    case array([JSONValue])
    case object([(String, JSONValue)])

    static func == (lhs: JSONValue, rhs: JSONValue) -> Bool { lhs.encoded == rhs.encoded }
    func hash(into hasher: inout Hasher) { hasher.combine(encoded) }

    var encoded: [UInt8] {
        var writer = JSONWriter(capacity: 4_096)
        write(to: &writer)
        return writer.bytes
    }

    func write(to json: inout JSONWriter) {
        switch self {
        case .string(let text): json.string(text)
        case .int(let value): json.int(value)
        case .bool(let value): json.bool(value)
        case .array(let values): json.array { json in for value in values { value.write(to: &json) } }
        case .object(let members):
            json.object { json in
                for (key, value) in members {
                    json.key(dynamic: key)
                    value.write(to: &json)
                }
            }
        }
    }

    subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.0 == key }?.1
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral {
    init(stringLiteral value: String) { self = .string(value) }
    init(integerLiteral value: Int) { self = .int(value) }
    init(booleanLiteral value: Bool) { self = .bool(value) }
}

/// The OpenAPI 3.1 description of the JSON API. A test compares its operations with the routes the router registered
/// and calls each one, so it cannot drift from what is served.
enum OpenAPIDocument {
    // MARK: Schema helpers

    static func object(_ properties: [(String, JSONValue)], optional: Set<String> = []) -> JSONValue {
        .object([
            ("type", "object"),
            ("properties", .object(properties)),
            ("required", .array(properties.map(\.0).filter { !optional.contains($0) }.map { .string($0) })),
        ])
    }
    static let string: JSONValue = .object([("type", "string")])
    static let integer: JSONValue = .object([("type", "integer"), ("format", "int64")])
    static let boolean: JSONValue = .object([("type", "boolean")])
    static let number: JSONValue = .object([("type", .array(["number", "null"]))])
    static let decimal: JSONValue = .object([
        ("type", "string"), ("pattern", "^-?[0-9]+\\.[0-9]+$"), ("description", "An exact decimal, e.g. \"43250.12000000\""),
    ])
    static func nullable(_ type: String) -> JSONValue { .object([("type", .array([.string(type), "null"]))]) }
    static let nullableDecimal: JSONValue = .object([
        ("type", .array(["string", "null"])), ("pattern", "^-?[0-9]+\\.[0-9]+$"),
    ])
    static func array(_ items: JSONValue) -> JSONValue { .object([("type", "array"), ("items", items)]) }
    static func ref(_ name: String) -> JSONValue { .object([("$ref", .string("#/components/schemas/\(name)"))]) }
    static func nullableRef(_ name: String) -> JSONValue { .object([("oneOf", .array([ref(name), .object([("type", "null")])]))]) }
    static func enumeration(_ values: [String]) -> JSONValue {
        .object([("type", "string"), ("enum", .array(values.map { .string($0) }))])
    }

    /// `name` (epoch ms) and `name_iso` (ISO-8601), both present, nullable when `optional`.
    static func time(_ name: String, nullable isNullable: Bool = false) -> [(String, JSONValue)] {
        if isNullable {
            return [
                (name, nullable("integer")), (name + "_iso", .object([("type", .array(["string", "null"])), ("format", "date-time")])),
            ]
        }
        return [(name, integer), (name + "_iso", .object([("type", "string"), ("format", "date-time")]))]
    }

    // MARK: Components

    static var schemas: [(String, JSONValue)] {
        [
            (
                "Error",
                object([
                    (
                        "error",
                        object(
                            [
                                ("code", string), ("message", string),
                                (
                                    "request_id",
                                    .object([
                                        ("type", "string"),
                                        (
                                            "description",
                                            "Server-side failures (5xx) only: the id under which the server's log has the detail; also in the X-Request-Id header"
                                        ),
                                    ])
                                ),
                            ], optional: ["request_id"])
                    )
                ])
            ),
            (
                "Candle",
                object(
                    time("open_time") + time("close_time") + [
                        ("open", decimal), ("high", decimal), ("low", decimal), ("close", decimal), ("volume", decimal),
                        ("quote_volume", decimal), ("trades", integer), ("taker_buy_base_volume", decimal),
                        ("taker_buy_quote_volume", decimal), ("closed", boolean),
                    ])
            ),
            (
                "Candlesticks",
                object([
                    ("symbol", string), ("interval", enumeration(QueryValue.servedIntervals.map(\.rawValue))), ("count", integer),
                    ("candles", array(ref("Candle"))),
                ])
            ),
            ("PriceLevel", object([("price", decimal), ("quantity", decimal)])),
            (
                "OrderBook",
                object(
                    [("symbol", string)] + time("captured_at") + [
                        ("last_update_id", integer), ("best_bid", nullableDecimal), ("best_ask", nullableDecimal),
                        ("spread", nullableDecimal), ("mid", nullableDecimal), ("bids", array(ref("PriceLevel"))),
                        ("asks", array(ref("PriceLevel"))),
                    ])
            ),
            (
                "Statistics",
                object(
                    [("symbol", string)] + time("open_time") + time("close_time") + [
                        ("open_price", decimal), ("last_price", decimal), ("high_price", decimal), ("low_price", decimal),
                        ("price_change", decimal), ("price_change_percent", decimal), ("volume", decimal), ("quote_volume", decimal),
                        ("trades", integer), ("minutes", integer),
                    ])
            ),
            (
                "IndicatorPoint",
                object(
                    time("open_time") + [
                        ("close", decimal), ("rsi", number), ("macd", number), ("macd_signal", number), ("macd_histogram", number),
                        ("bollinger_upper", number), ("bollinger_middle", number), ("bollinger_lower", number),
                    ])
            ),
            (
                "Indicators",
                object([
                    ("symbol", string), ("interval", enumeration(QueryValue.servedIntervals.map(\.rawValue))),
                    (
                        "parameters",
                        object([
                            ("rsi_period", integer), ("macd_fast", integer), ("macd_slow", integer), ("macd_signal", integer),
                            ("bollinger_period", integer), ("bollinger_deviations", integer),
                        ])
                    ),
                    ("count", integer), ("series", array(ref("IndicatorPoint"))), ("latest", nullableRef("IndicatorPoint")),
                ])
            ),
            (
                "ChartCandle",
                object([
                    ("open_time", integer), ("open", decimal), ("high", decimal), ("low", decimal), ("close", decimal),
                    ("volume", decimal), ("closed", boolean), ("rsi", number), ("macd", number), ("macd_signal", number),
                    ("macd_histogram", number), ("bollinger_upper", number), ("bollinger_middle", number),
                    ("bollinger_lower", number),
                ])
            ),
            (
                "ChartWindow",
                object([
                    ("symbol", string), ("interval", enumeration(QueryValue.servedIntervals.map(\.rawValue))), ("count", integer),
                    ("reaches_oldest", boolean), ("reaches_newest", boolean), ("truncated", boolean),
                    ("candles", array(ref("ChartCandle"))),
                ])
            ),
            (
                "Component",
                object([("status", enumeration(["ok", "down", "unknown"])), ("detail", nullable("string"))])
            ),
            (
                "Health",
                object(
                    [("status", enumeration(["ok", "down"]))] + time("checked_at") + [
                        ("scheduler_running", boolean),
                        (
                            "components",
                            object([("warehouse", ref("Component")), ("lake", ref("Component")), ("exchange", ref("Component"))])
                        ),
                    ])
            ),
            (
                "ExchangeUsage",
                object(
                    [("used_weight", nullable("integer")), ("weight_limit", integer)] + time("used_weight_at", nullable: true)
                        + [("rate_limited", boolean)] + time("rate_limited_until", nullable: true) + [("banned", boolean)]
                        + time("banned_until", nullable: true) + [("requests", integer), ("failures", integer)]
                        + time("last_success_at", nullable: true) + time("last_failure_at", nullable: true)
                        + [("last_failure", nullable("string"))])
            ),
            (
                "PipelineStatus",
                object(
                    time("generated_at") + [
                        (
                            "symbols",
                            array(
                                object([
                                    ("symbol", string),
                                    (
                                        "klines",
                                        object(
                                            time("last_fetch_time", nullable: true) + [("record_count", integer)]
                                                + time("newest_closed_open_time", nullable: true) + [("lag_seconds", nullable("integer"))])
                                    ),
                                    (
                                        "depth",
                                        object(
                                            time("last_fetch_time", nullable: true) + [("record_count", integer)]
                                                + time("latest_captured_at", nullable: true) + [("lag_seconds", nullable("integer"))])
                                    ),
                                ]))
                        ),
                        ("exchange", ref("ExchangeUsage")),
                        ("exchange_clock", nullableRef("ExchangeClock")),
                        ("streams", nullableRef("StreamStatus")),
                        ("workers", array(ref("Worker"))),
                    ])
            ),
            (
                "Worker",
                object(
                    [("id", string), ("host", string), ("process_id", integer), ("live", boolean)] + time("started_at")
                        + time("heartbeat_at") + [("lease_seconds", integer)]
                        + [
                            (
                                "symbols",
                                array(
                                    object(
                                        [("symbol", string)] + time("held_since") + [("lease_age_seconds", integer)] + time("expires_at")))
                            ),
                            (
                                "singleton_jobs",
                                array(
                                    object([("job", string)] + time("held_since") + [("lease_age_seconds", integer)] + time("expires_at")))
                            ),
                        ])
            ),
            (
                "StreamStatus",
                object(
                    [("stream_url", string)] + time("updated_at")
                        + [
                            ("connections", integer), ("flushes", integer), ("lag_p50_ms", nullable("integer")),
                            ("lag_p95_ms", nullable("integer")), ("malformed_messages", integer),
                            (
                                "symbols",
                                array(
                                    object(
                                        [("symbol", string), ("connected", boolean)] + time("last_event", nullable: true)
                                            + [("book_synced", boolean), ("book_update_id", nullable("integer")), ("rebuilds", integer)]
                                            + [("repairs", integer)] + time("last_written", nullable: true)))
                            ),
                        ])
            ),
            (
                "ExchangeClock",
                object(
                    [("offset_ms", integer), ("round_trip_ms", integer)] + time("measured_at")
                        + [("warning", nullable("string"))])
            ),
            (
                "PipelineStats",
                object([
                    ("tables", .object([("type", "object"), ("additionalProperties", integer)])),
                    (
                        "ledger",
                        object(
                            [
                                ("processed_files", integer), ("processed_rows", integer), ("duplicates_skipped", integer),
                                ("archived_files", integer), ("rejected_files", integer),
                            ] + time("last_processed_at", nullable: true))
                    ),
                    (
                        "lake",
                        object(
                            time("computed_at") + [
                                (
                                    "buckets",
                                    array(object([("bucket", string), ("objects", integer), ("bytes", integer), ("days", integer)]))
                                )
                            ])
                    ),
                ])
            ),
            (
                "JobRun",
                object(
                    [
                        ("id", integer), ("job", string), ("trigger", enumeration(["schedule", "manual", "stream"])),
                        ("status", enumeration(["running", "succeeded", "partial", "failed"])),
                    ] + time("started_at") + time("finished_at", nullable: true) + [
                        ("duration_ms", nullable("integer")), ("files", integer), ("rows", integer), ("error", nullable("string")),
                        ("worker", string),
                    ])
            ),
            (
                "IngestionLogs",
                object([
                    ("page", integer), ("page_size", integer), ("total", integer), ("total_pages", integer), ("runs", array(ref("JobRun"))),
                ])
            ),
            (
                "Gaps",
                object([
                    ("symbol", string), ("open", integer), ("filled", integer), ("exchange_empty", integer),
                    (
                        "gaps",
                        array(
                            object(
                                time("from") + time("to") + [
                                    ("minutes", integer), ("status", enumeration(["open", "filled", "exchange-empty"])),
                                ]
                                    + time("detected_at") + time("updated_at")))
                    ),
                ])
            ),
            (
                "Job",
                object(
                    [
                        ("name", string), ("enabled", boolean), ("running", boolean),
                        (
                            "schedule",
                            object(
                                [
                                    ("kind", enumeration(["interval", "weekly"])), ("interval_seconds", integer),
                                    ("weekday", enumeration(JobSchedule.weekdayNames)), ("time", string), ("description", string),
                                ], optional: ["interval_seconds", "weekday", "time"])
                        ),
                    ] + time("next_run_at", nullable: true) + time("updated_at") + [("last_run", nullableRef("JobRun"))])
            ),
            ("Scheduler", object([("scheduler_running", boolean), ("jobs", array(ref("Job")))])),
            ("Triggered", object([("job", string), ("status", enumeration(["started", "queued"])), ("message", string)])),
            ("Symbols", object([("symbols", array(string))])),
            (
                "Configuration",
                object([
                    (
                        "settings",
                        array(object([("name", string), ("value", string), ("source", string), ("secret", boolean)]))
                    ),
                    ("tracked_symbols", array(string)), ("admin_enabled", boolean),
                ])
            ),
            (
                "DashboardMetrics",
                object(
                    time("generated_at") + [
                        ("symbols", array(object([("symbol", string), ("statistics", nullableRef("Statistics"))]))),
                        (
                            "pipeline",
                            object([
                                ("tracked_symbols", integer), ("scheduler_running", boolean),
                                ("last_extract_transform", nullableRef("JobRun")), ("max_lag_seconds", nullable("integer")),
                                ("processed_files", integer), ("duplicates_skipped", integer), ("rejected_files", integer),
                                ("exchange", ref("ExchangeUsage")),
                            ])
                        ),
                    ])
            ),
        ]
    }

    // MARK: Operations

    static func parameter(
        _ name: String, in location: String, _ schema: JSONValue, _ description: String, required: Bool = false
    )
        -> JSONValue
    {
        .object([
            ("name", .string(name)), ("in", .string(location)), ("required", .bool(required || location == "path")),
            ("description", .string(description)), ("schema", schema),
        ])
    }

    static let symbolParameter = parameter(
        "symbol", in: "path", .object([("type", "string"), ("pattern", "^[A-Za-z0-9]{5,20}$")]), "A spot symbol such as BTCUSDT")
    static let jobParameter = parameter(
        "job", in: "path", enumeration(["extract-transform", "gap-fill", "maintenance"]), "The job's name")
    static let intervalParameter = parameter(
        "interval", in: "query", enumeration(QueryValue.servedIntervals.map(\.rawValue)),
        "Candle interval (default 1m): 1m, 1h and 1d as stored, the others formed from them by Binance's rule")
    static func limitParameter(_ maximum: Int, _ defaultValue: Int, _ what: String) -> JSONValue {
        parameter(
            "limit", in: "query",
            .object([("type", "integer"), ("minimum", 1), ("maximum", .int(maximum)), ("default", .int(defaultValue))]), what)
    }
    static let timeSchema: JSONValue = .object([
        ("oneOf", .array([.object([("type", "string"), ("format", "date-time")]), .object([("type", "integer"), ("minimum", 0)])]))
    ])

    static func response(_ description: String, _ schemaName: String?, contentType: String = "application/json") -> JSONValue {
        guard let schemaName else { return .object([("description", .string(description))]) }
        let schema: JSONValue = schemaName == "text" ? .object([("type", "string")]) : ref(schemaName)
        return .object([
            ("description", .string(description)),
            ("content", .object([(contentType, .object([("schema", schema)]))])),
        ])
    }

    static func errors(_ codes: [Int]) -> [(String, JSONValue)] {
        let descriptions = [
            400: "Invalid parameter or body", 401: "Missing or wrong admin token", 403: "No admin token configured",
            404: "Unknown symbol, job or data", 409: "Conflict with the job's state",
            429: "Too many failed admin tokens from this address; wait for Retry-After seconds", 502: "The exchange could not be asked",
            503: "A component is unavailable",
        ]
        return codes.map { code in (String(code), response(descriptions[code] ?? "Error", "Error")) }
    }

    static func operation(
        _ id: String, _ summary: String, tag: String, parameters: [JSONValue] = [], body: JSONValue? = nil,
        responses: [(String, JSONValue)], secured: Bool = false
    ) -> JSONValue {
        var members: [(String, JSONValue)] = [
            ("operationId", .string(id)), ("summary", .string(summary)), ("tags", .array([.string(tag)])),
        ]
        if !parameters.isEmpty { members.append(("parameters", .array(parameters))) }
        if let body {
            members.append(
                ("requestBody", .object([("required", true), ("content", .object([("application/json", .object([("schema", body)]))]))])))
        }
        if secured { members.append(("security", .array([.object([("adminToken", .array([]))])]))) }
        members.append(("responses", .object(responses)))
        return .object(members)
    }

    /// Path → method → operation, in the order the router registers them.
    static var paths: [(String, [(String, JSONValue)])] {
        let market = "Market data"
        let pipeline = "Pipeline"
        let operations = "Operations"
        return [
            (
                "/api/health",
                [
                    (
                        "get",
                        operation(
                            "getHealth", "Status of the warehouse, the lake and the exchange", tag: pipeline,
                            responses: [
                                ("200", response("All components up", "Health")), ("503", response("A component is down", "Health")),
                            ])
                    )
                ]
            ),
            (
                "/api/candlestick/{symbol}",
                [
                    (
                        "get",
                        operation(
                            "getCandlesticks", "Candles (newest `limit`, or from `start`) with volumes and trades", tag: market,
                            parameters: [
                                symbolParameter, intervalParameter, limitParameter(1_000, 500, "Candles to return"),
                                parameter("start", in: "query", timeSchema, "First open time (epoch ms or ISO-8601)"),
                                parameter("end", in: "query", timeSchema, "Last open time (epoch ms or ISO-8601)"),
                            ],
                            responses: [("200", response("Candles, ascending", "Candlesticks"))] + errors([400, 404, 503]))
                    )
                ]
            ),
            (
                "/api/stream/candles/{symbol}",
                [
                    (
                        "get",
                        operation(
                            "streamCandles",
                            "Server-Sent Events (`event: candle`, data `{\"symbol\", \"candle\"}`): the newest 1m candle, then each update as it arrives; the stream ends after 10 minutes and browsers reconnect",
                            tag: market, parameters: [symbolParameter],
                            responses: [("200", response("An event stream", "text", contentType: "text/event-stream"))]
                                + errors([400, 404, 503]))
                    )
                ]
            ),
            (
                "/api/stream/candles",
                [
                    (
                        "get",
                        operation(
                            "streamAllCandles",
                            "Server-Sent Events of every tracked symbol's newest 1m candle, as `/api/stream/candles/{symbol}`", tag: market,
                            responses: [("200", response("An event stream", "text", contentType: "text/event-stream"))] + errors([503]))
                    )
                ]
            ),
            (
                "/api/orderbook/{symbol}",
                [
                    (
                        "get",
                        operation(
                            "getOrderBook", "The latest order-book snapshot with spread and mid price", tag: market,
                            parameters: [symbolParameter, limitParameter(5_000, 20, "Levels per side")],
                            responses: [("200", response("Best levels first", "OrderBook"))] + errors([400, 404, 503]))
                    )
                ]
            ),
            (
                "/api/stats/{symbol}",
                [
                    (
                        "get",
                        operation(
                            "getStatistics", "24h statistics over the last 1440 closed minutes, exact", tag: market,
                            parameters: [symbolParameter],
                            responses: [("200", response("24h statistics", "Statistics"))] + errors([400, 404, 503]))
                    )
                ]
            ),
            (
                "/api/indicators/{symbol}",
                [
                    (
                        "get",
                        operation(
                            "getIndicators", "RSI(14), MACD(12,26,9) and Bollinger Bands(20,2) with TA-Lib's conventions", tag: market,
                            parameters: [symbolParameter, intervalParameter, limitParameter(1_000, 100, "Points to return")],
                            responses: [("200", response("Indicator series, ascending, and the latest values", "Indicators"))]
                                + errors([400, 404, 503]))
                    )
                ]
            ),
            (
                "/api/chart/{symbol}",
                [
                    (
                        "get",
                        operation(
                            "getChart",
                            "A chart window: candles (open to `end` or from `start`) with their RSI, MACD and Bollinger values, and whether older or newer candles are stored",
                            tag: market,
                            parameters: [
                                symbolParameter, intervalParameter, limitParameter(1_000, 500, "Candles to return"),
                                parameter("start", in: "query", timeSchema, "First open time (epoch ms or ISO-8601)"),
                                parameter("end", in: "query", timeSchema, "Last open time (epoch ms or ISO-8601)"),
                            ],
                            responses: [("200", response("Candles, ascending, with indicators", "ChartWindow"))]
                                + errors([400, 404, 503]))
                    )
                ]
            ),
            (
                "/api/dashboard/metrics",
                [
                    (
                        "get",
                        operation(
                            "getDashboardMetrics", "Every tracked symbol's 24h statistics and a pipeline summary", tag: market,
                            responses: [("200", response("Dashboard figures", "DashboardMetrics"))] + errors([503]))
                    )
                ]
            ),
            (
                "/api/pipeline/status",
                [
                    (
                        "get",
                        operation(
                            "getPipelineStatus", "Extraction metadata and freshness per symbol; request weight and ban state",
                            tag: pipeline,
                            responses: [("200", response("Pipeline status", "PipelineStatus"))] + errors([503]))
                    )
                ]
            ),
            (
                "/api/pipeline/stats",
                [
                    (
                        "get",
                        operation(
                            "getPipelineStats", "Rows per table, file ledgers with duplicates skipped, lake objects and bytes",
                            tag: pipeline,
                            responses: [("200", response("Pipeline statistics", "PipelineStats"))] + errors([503]))
                    )
                ]
            ),
            (
                "/api/ingestion/logs",
                [
                    (
                        "get",
                        operation(
                            "getIngestionLogs", "Job runs, newest first", tag: pipeline,
                            parameters: [
                                parameter(
                                    "page", in: "query",
                                    .object([("type", "integer"), ("minimum", 1), ("maximum", 1_000_000), ("default", 1)]), "Page, from 1"),
                                parameter(
                                    "page_size", in: "query",
                                    .object([("type", "integer"), ("minimum", 1), ("maximum", 500), ("default", 50)]), "Runs per page"),
                                parameter(
                                    "job", in: "query", enumeration(["extract-transform", "gap-fill", "maintenance"]), "Only this job"),
                                parameter(
                                    "status", in: "query", enumeration(["running", "succeeded", "partial", "failed"]), "Only this status"),
                            ],
                            responses: [("200", response("A page of runs", "IngestionLogs"))] + errors([400, 503]))
                    )
                ]
            ),
            (
                "/api/gaps/{symbol}",
                [
                    (
                        "get",
                        operation(
                            "getGaps", "Recorded missing-minute ranges and their status", tag: pipeline, parameters: [symbolParameter],
                            responses: [("200", response("Gaps, ascending", "Gaps"))] + errors([400, 404, 503]))
                    )
                ]
            ),
            (
                "/api/scheduler",
                [
                    (
                        "get",
                        operation(
                            "getScheduler", "Jobs with schedule, state, last and next run", tag: operations,
                            responses: [("200", response("Jobs", "Scheduler"))] + errors([503]))
                    )
                ]
            ),
            (
                "/api/scheduler/{job}/enable",
                [
                    (
                        "post",
                        operation(
                            "enableJob", "Enable a job (persisted)", tag: operations, parameters: [jobParameter],
                            responses: [("200", response("The job", "Job"))] + errors([401, 403, 429, 404, 503]), secured: true)
                    )
                ]
            ),
            (
                "/api/scheduler/{job}/disable",
                [
                    (
                        "post",
                        operation(
                            "disableJob", "Disable a job (persisted)", tag: operations, parameters: [jobParameter],
                            responses: [("200", response("The job", "Job"))] + errors([401, 403, 429, 404, 503]), secured: true)
                    )
                ]
            ),
            (
                "/api/scheduler/{job}/trigger",
                [
                    (
                        "post",
                        operation(
                            "triggerJob", "Run a job now", tag: operations, parameters: [jobParameter],
                            responses: [("202", response("Started", "Triggered"))] + errors([401, 403, 429, 404, 409]), secured: true)
                    )
                ]
            ),
            (
                "/api/scheduler/{job}",
                [
                    (
                        "patch",
                        operation(
                            "updateJobSchedule", "Change a job's interval, or its weekly day and time (UTC)", tag: operations,
                            parameters: [jobParameter],
                            body: .object([
                                (
                                    "oneOf",
                                    .array([
                                        object([
                                            ("interval_seconds", .object([("type", "integer"), ("minimum", 10), ("maximum", 2_419_200)]))
                                        ]),
                                        object([
                                            ("weekday", enumeration(JobSchedule.weekdayNames)),
                                            ("time", .object([("type", "string"), ("pattern", "^([01][0-9]|2[0-3]):[0-5][0-9]$")])),
                                        ]),
                                    ])
                                )
                            ]),
                            responses: [("200", response("The job", "Job"))] + errors([400, 401, 403, 429, 404, 503]), secured: true)
                    )
                ]
            ),
            (
                "/api/config/symbols",
                [
                    (
                        "get",
                        operation(
                            "getSymbols", "Tracked symbols", tag: operations,
                            responses: [("200", response("Tracked symbols", "Symbols"))] + errors([503]))
                    ),
                    (
                        "post",
                        operation(
                            "addSymbol", "Track a symbol after checking it with the exchange's exchangeInfo", tag: operations,
                            body: object([("symbol", .object([("type", "string"), ("pattern", "^[A-Za-z0-9]{5,20}$")]))]),
                            responses: [
                                ("200", response("Already tracked", "Symbols")), ("201", response("Added", "Symbols")),
                            ] + errors([400, 401, 403, 429, 502, 503]), secured: true)
                    ),
                ]
            ),
            (
                "/api/config/symbols/{symbol}",
                [
                    (
                        "delete",
                        operation(
                            "removeSymbol", "Stop tracking a symbol (its stored data stays)", tag: operations,
                            parameters: [symbolParameter],
                            responses: [("200", response("Remaining symbols", "Symbols"))] + errors([400, 401, 403, 429, 404, 503]),
                            secured: true)
                    )
                ]
            ),
            (
                "/api/config",
                [
                    (
                        "get",
                        operation(
                            "getConfiguration", "Effective configuration, secrets redacted", tag: operations,
                            responses: [("200", response("Configuration", "Configuration"))] + errors([503]))
                    )
                ]
            ),
            (
                "/api/openapi.json",
                [("get", operation("getOpenAPI", "This document", tag: operations, responses: [("200", response("OpenAPI 3.1", nil))]))]
            ),
            (
                "/metrics",
                [
                    (
                        "get",
                        operation(
                            "getMetrics", "Prometheus metrics: HTTP, rows loaded, lag per symbol, request weight, jobs", tag: operations,
                            responses: [("200", response("Prometheus text format", "text", contentType: "text/plain"))] + errors([503]))
                    )
                ]
            ),
        ]
    }

    static var document: JSONValue {
        .object([
            ("openapi", "3.1.0"),
            (
                "info",
                .object([
                    ("title", "CryptoPipe API"), ("version", "1"),
                    (
                        "description",
                        "Market data and pipeline operations. Decimals are exact strings; times are UTC epoch milliseconds with an ISO-8601 twin. Errors are {\"error\": {\"code\", \"message\"}}."
                    ),
                ])
            ),
            ("paths", .object(paths.map { path, methods in (path, .object(methods)) })),
            (
                "components",
                .object([
                    ("schemas", .object(schemas)),
                    ("securitySchemes", .object([("adminToken", .object([("type", "http"), ("scheme", "bearer")]))])),
                ])
            ),
        ])
    }

    /// Method and path of every operation.
    static var routes: [(method: String, path: String)] {
        paths.flatMap { path, methods in methods.map { (method: $0.0.uppercased(), path: path) } }
    }
}
