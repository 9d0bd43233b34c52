public import MarketData

/// Where market data comes from: the Binance REST API or anything that answers like it.
///
/// Every call returns the unchanged response body next to the decoded value: the body goes to the
/// data lake as the source of truth, the decoded value drives pagination.
public protocol MarketDataSource: Sendable {
    func klines(_ request: KlineRequest) async throws(ExchangeError) -> FetchedResponse<[Kline]>
    func depth(symbol: Symbol, limit: Int) async throws(ExchangeError) -> FetchedResponse<OrderBookSnapshot>
    func exchangeInfo() async throws(ExchangeError) -> FetchedResponse<ExchangeInfo>
}

/// Parameters of `/api/v3/klines`; times are inclusive bounds on the candles' open time.
public struct KlineRequest: Sendable, Hashable {
    public var symbol: Symbol
    public var interval: Interval
    public var startTime: Int64?
    public var endTime: Int64?
    public var limit: Int?

    public init(symbol: Symbol, interval: Interval, startTime: Int64? = nil, endTime: Int64? = nil, limit: Int? = nil) {
        self.symbol = symbol
        self.interval = interval
        self.startTime = startTime
        self.endTime = endTime
        self.limit = limit
    }

    /// Binance's per-request maximum.
    public static let maximumLimit = 1_000
}

/// A decoded response with its raw body and what the exchange said about our request weight.
public struct FetchedResponse<Value: Sendable>: Sendable {
    public var value: Value
    /// The body exactly as received.
    public var body: [UInt8]
    /// `X-MBX-USED-WEIGHT-1M`, when the server sent it.
    public var usedWeight: Int?
    /// When the response arrived (UTC epoch ms).
    public var receivedAt: Int64

    public init(value: Value, body: [UInt8], usedWeight: Int?, receivedAt: Int64) {
        self.value = value
        self.body = body
        self.usedWeight = usedWeight
        self.receivedAt = receivedAt
    }
}
