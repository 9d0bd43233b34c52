public import Exchange
public import MarketData
public import Synchronization

/// An exchange that only answers exchangeInfo, from a listing tests can change; counts its calls and can be "down".
/// Klines, depth and the time are not served.
public final class ListingSource: MarketDataSource {
    /// Symbol → status (`TRADING`, `BREAK`…).
    public let listed: Mutex<[String: String]>
    public let down = Mutex(false)
    public let calls = Mutex(0)

    /// By default BTCUSDT, ETHUSDT and SOLUSDT trading and LUNAUSDT halted.
    public init(listed: [String: String] = ["BTCUSDT": "TRADING", "ETHUSDT": "TRADING", "SOLUSDT": "TRADING", "LUNAUSDT": "BREAK"]) {
        self.listed = Mutex(listed)
    }

    public func klines(_ request: KlineRequest) async throws(ExchangeError) -> FetchedResponse<[Kline]> {
        throw ExchangeError(.transport("not served"), endpoint: "/api/v3/klines")
    }

    public func depth(symbol: Symbol, limit: Int) async throws(ExchangeError) -> FetchedResponse<OrderBookSnapshot> {
        throw ExchangeError(.transport("not served"), endpoint: "/api/v3/depth")
    }

    public func serverTime() async throws(ExchangeError) -> ServerTimeSample {
        throw ExchangeError(.transport("not served"), endpoint: "/api/v3/time")
    }

    public func exchangeInfo() async throws(ExchangeError) -> FetchedResponse<ExchangeInfo> {
        calls.withLock { $0 += 1 }
        if down.withLock({ $0 }) { throw ExchangeError(.transport("connection refused"), endpoint: "/api/v3/exchangeInfo") }
        let symbols = listed.withLock { $0 }.sorted { $0.key < $1.key }.map {
            ExchangeInfo.SymbolInfo(symbol: $0.key, status: $0.value, baseAsset: String($0.key.dropLast(4)), quoteAsset: "USDT")
        }
        return FetchedResponse(
            value: ExchangeInfo(serverTime: 0, rateLimits: [], symbols: symbols), body: [], usedWeight: 20, capturedAt: 0)
    }
}
