import Exchange
import Hummingbird
import MarketData
import NIOCore
import Pipeline
import Prometheus
import Synchronization

/// `GET /metrics`: the Prometheus registry the whole process writes to, with the gauges that are read at scrape time
/// (freshness lag per symbol, request weight, ban state) brought up to date first.
extension API {
    func metrics(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let registry = services.metrics
        let time = now
        let exchange = try await exchangeTime()
        let tracked = try await services.symbols.symbols()
        var current = Set<String>()
        for symbol in tracked {
            guard let lag = try await Freshness.read(symbol, from: services.warehouse, at: exchange.now, books: false).klineLagMilliseconds
            else {
                continue
            }
            current.insert(symbol.rawValue)
            Self.lagGauge(registry, symbol.rawValue).set(Double(lag) / 1_000)
        }
        // Symbols no longer tracked stop being reported rather than freezing at their last lag.
        let stale = gaugeSymbols.withLock { symbols in
            defer { symbols = current }
            return symbols.subtracting(current)
        }
        for symbol in stale { registry.unregisterGauge(Self.lagGauge(registry, symbol)) }
        let usage = services.exchangeUsage.snapshot
        gauge("exchange_used_weight", "X-MBX-USED-WEIGHT-1M of the newest exchange response").set(Double(usage.usedWeight ?? 0))
        gauge("exchange_weight_limit", "Request weight allowed per minute").set(Double(usage.weightLimit))
        gauge("exchange_banned", "1 while the exchange bans this IP (HTTP 418)").set(Double(usage.isBanned(at: time) ? 1 : 0))
        gauge("exchange_rate_limited", "1 while the exchange asked us to back off (HTTP 429)").set(
            Double(usage.isRateLimited(at: time) ? 1 : 0))
        gauge("tracked_symbols", "Symbols the pipeline extracts").set(Double(tracked.count))
        if let reading = exchange.reading {
            gauge("exchange_clock_offset_seconds", "The exchange's clock minus the local clock, as last measured via /api/v3/time")
                .set(Double(reading.offsetMilliseconds) / 1_000)
        }
        var bytes: [UInt8] = []
        registry.emit(into: &bytes)
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    private func gauge(_ name: String, _ help: String) -> Gauge {
        services.metrics.makeGauge(
            descriptor: MetricNameDescriptor(namespace: "cryptopipe", metricName: name, unitName: "", helpText: help))
    }

    private static func lagGauge(_ registry: PrometheusCollectorRegistry, _ symbol: String) -> Gauge {
        registry.makeGauge(
            descriptor: MetricNameDescriptor(
                namespace: "cryptopipe", metricName: "freshness_lag", unitName: "seconds",
                helpText: "Seconds since the newest stored closed 1m candle closed"),
            labels: [("symbol", symbol)])
    }
}
