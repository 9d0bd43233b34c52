public import MarketData

/// Where market data comes from: the Binance REST API or anything that answers like it.
///
/// Every call returns the unchanged response body next to the decoded value: the body goes to the
/// data lake as the source of truth, the decoded value drives pagination.
public protocol MarketDataSource: Sendable {
    func klines(_ request: KlineRequest) async throws(ExchangeError) -> FetchedResponse<[Kline]>
    func depth(symbol: Symbol, limit: Int) async throws(ExchangeError) -> FetchedResponse<OrderBookSnapshot>
    func exchangeInfo() async throws(ExchangeError) -> FetchedResponse<ExchangeInfo>
    /// The exchange's clock (`/api/v3/time`) with when, on the local clock, it was asked and answered.
    func serverTime() async throws(ExchangeError) -> ServerTimeSample
}

/// One reading of the exchange's clock: what it said and the local times around the request.
public struct ServerTimeSample: Sendable, Hashable {
    public var serverTime: Int64
    public var sentAt: Int64
    public var receivedAt: Int64
    /// The answer's `Date` header (epoch ms of its second), a second opinion of the same clock; `nil` without one.
    public var dateHeader: Int64?

    public init(serverTime: Int64, sentAt: Int64, receivedAt: Int64, dateHeader: Int64? = nil) {
        self.serverTime = serverTime
        self.sentAt = sentAt
        self.receivedAt = receivedAt
        self.dateHeader = dateHeader
    }

    /// Whether `serverTime` falls in the second its `Date` header names (a second of slack either way); without a header
    /// there is nothing to contradict it.
    public var agreesWithDateHeader: Bool {
        guard let dateHeader else { return true }
        guard (0...UTCTime.latest).contains(dateHeader) else { return false }
        return serverTime >= dateHeader - 1_000 && serverTime <= dateHeader + 1_999
    }
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
    /// When the response was captured, on the exchange's clock (UTC epoch ms): the earliest time the exchange's clock
    /// can have shown when the request went out (see ``BinanceClient``), so a candle is final by it only once the
    /// exchange had surely closed it.
    public var capturedAt: Int64

    public init(value: Value, body: [UInt8], usedWeight: Int?, capturedAt: Int64) {
        self.value = value
        self.body = body
        self.usedWeight = usedWeight
        self.capturedAt = capturedAt
    }
}
