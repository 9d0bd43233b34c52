/// One Binance k-line with all twelve fields of the REST response and the dump files.
public struct Kline: Sendable, Hashable {
    public var openTime: Int64
    public var open: ExactDecimal
    public var high: ExactDecimal
    public var low: ExactDecimal
    public var close: ExactDecimal
    /// Base-asset volume.
    public var volume: ExactDecimal
    /// Last millisecond of the candle: `openTime + interval - 1`.
    public var closeTime: Int64
    public var quoteVolume: ExactDecimal
    public var tradeCount: Int64
    public var takerBuyBaseVolume: ExactDecimal
    public var takerBuyQuoteVolume: ExactDecimal
    /// Binance's twelfth field, documented as "Unused field, ignore"; kept verbatim so exports round-trip.
    public var ignore: String

    public init(
        openTime: Int64, open: ExactDecimal, high: ExactDecimal, low: ExactDecimal, close: ExactDecimal,
        volume: ExactDecimal, closeTime: Int64, quoteVolume: ExactDecimal, tradeCount: Int64,
        takerBuyBaseVolume: ExactDecimal, takerBuyQuoteVolume: ExactDecimal, ignore: String = "0"
    ) {
        self.openTime = openTime
        self.open = open
        self.high = high
        self.low = low
        self.close = close
        self.volume = volume
        self.closeTime = closeTime
        self.quoteVolume = quoteVolume
        self.tradeCount = tradeCount
        self.takerBuyBaseVolume = takerBuyBaseVolume
        self.takerBuyQuoteVolume = takerBuyQuoteVolume
        self.ignore = ignore
    }

    /// How long after its last millisecond a candle is taken as final. A small margin keeps a clock
    /// running slightly ahead of the exchange's from declaring a still-open candle final.
    public static let finalityMarginMilliseconds: Int64 = 2_000

    /// A candle is final once its last millisecond (plus the margin) had passed when it was captured.
    /// Final candles are never overwritten; open ones are replaced when a newer capture arrives.
    /// The close time comes from outside: one so close to `Int64.max` that the margin overflows is simply not closed.
    public func isClosed(at capturedAt: Int64) -> Bool {
        let (deadline, overflow) = closeTime.addingReportingOverflow(Self.finalityMarginMilliseconds)
        return !overflow && deadline < capturedAt
    }
}

/// One price level of an order book.
public struct PriceLevel: Sendable, Hashable, Codable {
    public var price: ExactDecimal
    public var quantity: ExactDecimal

    public init(price: ExactDecimal, quantity: ExactDecimal) {
        self.price = price
        self.quantity = quantity
    }
}

/// The response of `/api/v3/depth`: best bids first (descending), best asks first (ascending).
public struct OrderBookSnapshot: Sendable, Hashable {
    public var lastUpdateId: Int64
    public var bids: [PriceLevel]
    public var asks: [PriceLevel]

    public init(lastUpdateId: Int64, bids: [PriceLevel], asks: [PriceLevel]) {
        self.lastUpdateId = lastUpdateId
        self.bids = bids
        self.asks = asks
    }
}

/// Which side of the book a level is on; stored as `bid` / `ask`.
public enum BookSide: String, Sendable, Hashable, Codable {
    case bid
    case ask
}
