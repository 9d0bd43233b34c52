import Exchange
import MarketData
import Pipeline
import Warehouse

/// What `/api/pipeline/status` and the Pipeline page show about collection, read once per request: per tracked symbol
/// its extraction state of both data types, its freshness on the exchange's clock and its recorded gaps, with the
/// clock reading the lags rest on.
struct PipelineOverview: Sendable {
    struct SymbolState: Sendable {
        var symbol: Symbol
        var klines: ExtractionState?
        var depth: ExtractionState?
        var freshness: Freshness
        var gaps: [KlineGap]

        var openGaps: Int { gaps.count { $0.status == .open } }
        var exchangeEmptyGaps: Int { gaps.count { $0.status == .exchangeEmpty } }
    }

    var symbols: [SymbolState]
    /// The exchange's time the lags were measured at.
    var exchangeNow: Int64
    var clockReading: ExchangeClock.Reading?

    /// Every symbol's gaps.
    var gaps: [KlineGap] { symbols.flatMap(\.gaps) }

    /// Reads the overview; `gaps: false` leaves every symbol's gaps empty, for readers that do not show them.
    static func read(
        symbols: [Symbol], from warehouse: any WebWarehouse, exchangeNow: Int64, clockReading: ExchangeClock.Reading?, gaps: Bool
    ) async throws(WarehouseError) -> PipelineOverview {
        var states: [SymbolState] = []
        for symbol in symbols {
            states.append(
                SymbolState(
                    symbol: symbol, klines: try await warehouse.extractionState(symbol: symbol, type: .klines),
                    depth: try await warehouse.extractionState(symbol: symbol, type: .depth),
                    freshness: try await Freshness.read(symbol, from: warehouse, at: exchangeNow),
                    gaps: gaps ? try await warehouse.gaps(symbol: symbol) : []))
        }
        return PipelineOverview(symbols: states, exchangeNow: exchangeNow, clockReading: clockReading)
    }
}

extension API {
    /// The tracked symbols' ``PipelineOverview``, lags on the exchange's clock.
    func pipelineOverview(gaps: Bool) async throws -> PipelineOverview {
        let exchange = try await exchangeTime()
        return try await PipelineOverview.read(
            symbols: try await services.symbols.symbols(), from: services.warehouse, exchangeNow: exchange.now,
            clockReading: exchange.reading, gaps: gaps)
    }
}
