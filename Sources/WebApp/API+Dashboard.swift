import Analytics
import Hummingbird
import MarketData
import Pipeline
import Warehouse

extension API {
    /// Every tracked symbol's 24h statistics and a pipeline summary: what the dashboard refreshes every 15 s. Computed
    /// once per data version and 15 s, whoever asks.
    func dashboardMetrics(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let version = try await services.warehouse.dataVersion()
        let api = self
        let figures = try await dashboardFigures.value(now: now, version: version) { try await api.dashboardBody() }
        return Response.json(figures.value)
    }

    private func dashboardBody() async throws -> [UInt8] {
        let generatedAt = now
        let exchangeNow = try await exchangeTime().now
        let tracked = try await services.symbols.symbols()
        var statistics: [(Symbol, TickerStatistics?)] = []
        var maxLag: Int64?
        for symbol in tracked {
            let stats = try await tickerStatistics(symbol)
            statistics.append((symbol, stats))
            if let lag = try await Freshness.read(symbol, from: services.warehouse, at: exchangeNow, books: false).klineLagSeconds {
                maxLag = max(maxLag ?? 0, lag)
            }
        }
        let ledger = try await services.warehouse.ledgerSummary()
        let lastCycle = try await services.warehouse.jobRuns(JobRunQuery(page: 1, pageSize: 1, job: PipelineJobs.extractTransform)).runs
            .first
        let schedulerRunning = await services.scheduler.isRunning
        let usage = services.exchangeUsage.snapshot
        var json = JSONWriter()
        json.object { json in
            json.time("generated_at", "generated_at_iso", generatedAt)
            json.key("symbols")
            json.array { json in
                for (symbol, stats) in statistics {
                    json.object { json in
                        json.key("symbol")
                        json.string(symbol.rawValue)
                        json.key("statistics")
                        if let stats { Self.write(stats, symbol: symbol, to: &json) } else { json.null() }
                    }
                }
            }
            json.key("pipeline")
            json.object { json in
                json.key("tracked_symbols")
                json.int(tracked.count)
                json.key("scheduler_running")
                json.bool(schedulerRunning)
                json.key("last_extract_transform")
                if let lastCycle { Self.write(lastCycle, to: &json) } else { json.null() }
                json.key("max_lag_seconds")
                json.optionalInt(maxLag)
                json.key("processed_files")
                json.int(ledger.processedFiles)
                json.key("duplicates_skipped")
                json.int(ledger.duplicatesSkipped)
                json.key("rejected_files")
                json.int(ledger.rejectedFiles)
                json.key("exchange")
                Self.write(usage, at: generatedAt, to: &json)
            }
        }
        return json.bytes
    }
}
