import Analytics
import Hummingbird
import MarketData
import Warehouse

/// Market data: candles, the order book, 24h statistics and indicators.
extension API {
    /// The candles a candle endpoint is asked for: `interval`, `limit` (1–1000, default 500), and `start`/`end`.
    struct CandleQuery: Sendable {
        var interval: Interval
        var limit: Int
        var start: Int64?
        var end: Int64?

        init(_ query: QueryReader) throws(APIError) {
            interval = try query.interval()
            limit = try query.integer("limit", in: 1...ChartWindow.maximumCandles, default: 500)
            start = try query.time("start")
            end = try query.time("end")
            if let start, let end, start > end {
                throw APIError.badRequest("invalid_range", "start must not be after end")
            }
        }

        /// The response cache's key for `endpoint` of `symbol`: every validated parameter.
        func cacheKey(_ endpoint: String, _ symbol: Symbol) -> String {
            "\(endpoint) \(symbol) \(interval.rawValue) \(limit) \(start.map(String.init) ?? "-") \(end.map(String.init) ?? "-")"
        }
    }

    func candlestick(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let symbol = try pathSymbol(context)
        let query = try CandleQuery(request.query)
        try await requireKnown(symbol)
        if query.start == nil, CandleWindowCache.holds(query.interval) {
            let version = try await services.warehouse.dataVersion()
            let reader = candleReader
            let window = try await candleWindows.candles(
                symbol: symbol, interval: query.interval, endingAt: query.end ?? .max, limit: query.limit, version: version
            ) { through, count in
                try await reader.recentKlines(symbol: symbol, interval: query.interval, endingAt: through, includeOpen: true, limit: count)
            }
            if let window {
                var json = JSONWriter(capacity: 128 + window.text.count)
                json.object { json in
                    json.seriesHeader(symbol, query.interval, count: window.count)
                    json.key("candles")
                    json.array { json in json.raw(window.text) }
                }
                return ResponseCache.json(ByteBuffer(bytes: json.bytes))
            }
        }
        return try await cached(query.cacheKey("candlestick", symbol)) {
            try await candlestickBody(symbol, query.interval, query.limit, query.start, query.end)
        }
    }

    func candlestickBody(
        _ symbol: Symbol, _ interval: Interval, _ limit: Int, _ start: Int64?, _ end: Int64?
    ) async throws
        -> [UInt8]
    {
        let candles: [StoredKline]
        if let start {
            candles = try await candleReader.klines(
                symbol: symbol, interval: interval, from: start, to: end ?? Int64.max, includeOpen: true, limit: limit)
        } else {
            candles = try await candleReader.recentKlines(
                symbol: symbol, interval: interval, endingAt: end ?? Int64.max, includeOpen: true, limit: limit)
        }
        var json = JSONWriter(capacity: 128 + candles.count * 420)
        json.object { json in
            json.seriesHeader(symbol, interval, count: candles.count)
            json.key("candles")
            json.array { json in
                for candle in candles { Self.write(candle, to: &json) }
            }
        }
        return json.bytes
    }

    /// A chart window: candles with their indicators and whether older or newer ones are stored, what the Analytics
    /// chart loads when it scrolls past the candles it has (one request per window).
    func chart(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let symbol = try pathSymbol(context)
        let query = try CandleQuery(request.query)
        try await requireKnown(symbol)
        return try await cached(query.cacheKey("chart", symbol)) {
            let window = try await ChartWindow.load(
                symbol: symbol, .init(interval: query.interval, from: query.start, to: query.end, limit: query.limit),
                from: candleReader)
            var json = JSONWriter(capacity: 256 + window.candles.count * 360)
            window.write(to: &json)
            return json.bytes
        }
    }

    static func write(_ stored: StoredKline, to json: inout JSONWriter) {
        let kline = stored.kline
        json.object { json in
            json.time("open_time", "open_time_iso", kline.openTime)
            json.time("close_time", "close_time_iso", kline.closeTime)
            json.prices(of: kline)
            json.key("quote_volume")
            json.decimal(kline.quoteVolume)
            json.key("trades")
            json.int(kline.tradeCount)
            json.key("taker_buy_base_volume")
            json.decimal(kline.takerBuyBaseVolume)
            json.key("taker_buy_quote_volume")
            json.decimal(kline.takerBuyQuoteVolume)
            json.key("closed")
            json.bool(stored.isFinal)
        }
    }

    func orderBook(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let symbol = try pathSymbol(context)
        let limit = try request.query.integer("limit", in: 1...5_000, default: 20)
        try await requireKnown(symbol)
        guard let book = try await services.warehouse.latestOrderBook(symbol: symbol, levels: limit) else {
            throw APIError.notFound("no_order_book", "no order book of \(symbol) is stored yet; it arrives with the next extraction")
        }
        return Response.json { json in
            json.object { json in
                json.key("symbol")
                json.string(symbol.rawValue)
                json.time("captured_at", "captured_at_iso", book.capturedAt)
                json.key("last_update_id")
                json.int(book.lastUpdateId)
                let bestBid = book.bids.first?.price
                let bestAsk = book.asks.first?.price
                json.key("best_bid")
                if let bestBid { json.decimal(bestBid) } else { json.null() }
                json.key("best_ask")
                if let bestAsk { json.decimal(bestAsk) } else { json.null() }
                json.key("spread")
                if let bestBid, let bestAsk { json.decimal(bestAsk - bestBid) } else { json.null() }
                json.key("mid")
                if let bestBid, let bestAsk { json.string(Self.half(of: bestBid + bestAsk)) } else { json.null() }
                for (name, levels) in [("bids", book.bids), ("asks", book.asks)] {
                    json.key(dynamic: name)
                    json.array { json in
                        for level in levels {
                            json.object { json in
                                json.key("price")
                                json.decimal(level.price)
                                json.key("quantity")
                                json.decimal(level.quantity)
                            }
                        }
                    }
                }
            }
        }
    }

    /// Half of an exact decimal, exactly: an odd number of 10⁻⁸ units gains a ninth digit (…5).
    static func half(of value: ExactDecimal) -> String {
        let halved = ExactDecimal(units: value.units / 2)
        guard value.units % 2 != 0 else { return halved.description }
        // Truncation toward zero lost half a unit; write it as a trailing 5, with the sign of the value.
        if value.units < 0, halved.units == 0 { return "-" + halved.description + "5" }
        return halved.description + "5"
    }

    func statistics(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let symbol = try pathSymbol(context)
        try await requireKnown(symbol)
        return try await cached("statistics \(symbol)") {
            guard let stats = try await tickerStatistics(symbol) else {
                throw APIError.notFound("no_data", "no closed 1m candles of \(symbol) are stored yet")
            }
            var json = JSONWriter()
            Self.write(stats, symbol: symbol, to: &json)
            return json.bytes
        }
    }

    func tickerStatistics(_ symbol: Symbol) async throws -> TickerStatistics? {
        let minutes = try await services.warehouse.recentKlines(
            symbol: symbol, interval: .oneMinute, endingAt: Int64.max, includeOpen: false, limit: TickerStatistics.windowMinutes)
        return TickerStatistics(minutes: minutes.map(\.kline))
    }

    static func write(_ stats: TickerStatistics, symbol: Symbol, to json: inout JSONWriter) {
        json.object { json in
            json.key("symbol")
            json.string(symbol.rawValue)
            json.time("open_time", "open_time_iso", stats.openTime)
            json.time("close_time", "close_time_iso", stats.closeTime)
            json.key("open_price")
            json.decimal(stats.openPrice)
            json.key("last_price")
            json.decimal(stats.lastPrice)
            json.key("high_price")
            json.decimal(stats.highPrice)
            json.key("low_price")
            json.decimal(stats.lowPrice)
            json.key("price_change")
            json.decimal(stats.priceChange)
            json.key("price_change_percent")
            json.decimal(stats.priceChangePercent)
            json.key("volume")
            json.decimal(stats.volume)
            json.key("quote_volume")
            json.decimal(stats.quoteVolume)
            json.key("trades")
            json.int(stats.tradeCount)
            json.key("minutes")
            json.int(stats.minuteCount)
        }
    }

    /// Candles before the first returned point that feed the indicators' warm-up, so the returned values are settled.
    static let indicatorWarmUp = 300

    func indicators(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let symbol = try pathSymbol(context)
        let query = request.query
        let interval = try query.interval()
        let limit = try query.integer("limit", in: 1...1_000, default: 100)
        try await requireKnown(symbol)
        return try await cached("indicators \(symbol) \(interval.rawValue) \(limit)") { try await indicatorsBody(symbol, interval, limit) }
    }

    private func indicatorsBody(_ symbol: Symbol, _ interval: Interval, _ limit: Int) async throws -> [UInt8] {
        let candles = try await candleReader.recentKlines(
            symbol: symbol, interval: interval, endingAt: Int64.max, includeOpen: false, limit: limit + Self.indicatorWarmUp)
        let indicators = ChartIndicators(closes: candles.map(\.kline.close.doubleValue), dropping: 0)
        let first = max(0, candles.count - limit)
        func point(_ index: Int, _ json: inout JSONWriter) {
            json.object { json in
                json.time("open_time", "open_time_iso", candles[index].kline.openTime)
                json.key("close")
                json.decimal(candles[index].kline.close)
                indicators.write(at: index, to: &json)
            }
        }
        var json = JSONWriter(capacity: 256 + (candles.count - first) * 400)
        json.object { json in
            json.key("symbol")
            json.string(symbol.rawValue)
            json.key("interval")
            json.string(interval.rawValue)
            json.key("parameters")
            json.object { json in
                json.key("rsi_period")
                json.int(14)
                json.key("macd_fast")
                json.int(12)
                json.key("macd_slow")
                json.int(26)
                json.key("macd_signal")
                json.int(9)
                json.key("bollinger_period")
                json.int(20)
                json.key("bollinger_deviations")
                json.int(2)
            }
            json.key("count")
            json.int(candles.count - first)
            json.key("series")
            json.array { json in
                for index in first..<candles.count { point(index, &json) }
            }
            json.key("latest")
            if candles.isEmpty { json.null() } else { point(candles.count - 1, &json) }
        }
        return json.bytes
    }
}

extension JSONWriter {
    /// `symbol`, `interval` and `count`, as the candle series answers begin.
    mutating func seriesHeader(_ symbol: Symbol, _ interval: Interval, count: Int) {
        key("symbol")
        string(symbol.rawValue)
        key("interval")
        string(interval.rawValue)
        key("count")
        int(count)
    }

    /// A candle's `open`, `high`, `low`, `close` and `volume`, exact, as every candle endpoint writes them.
    mutating func prices(of kline: Kline) {
        key("open")
        decimal(kline.open)
        key("high")
        decimal(kline.high)
        key("low")
        decimal(kline.low)
        key("close")
        decimal(kline.close)
        key("volume")
        decimal(kline.volume)
    }
}
