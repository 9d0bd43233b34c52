/// Folds consecutive candles into one longer candle the way Binance forms its own 1h and 1d candles.
public enum KlineRollup {
    /// Combines `candles` (ascending by open time, all inside one longer candle).
    ///
    /// A candle with no trades carries the previous close as its OHLC; it says nothing about the
    /// longer candle's open, high or low, so only traded candles set them. When no candle traded at all,
    /// the result is a zero-volume candle at the first candle's price (which is the previous close).
    /// Volumes, quote volumes, trade counts and taker volumes add up exactly.
    ///
    /// When the last candle was cut short (an exchange outage stops a minute early, e.g. 2021-02-11 03:40
    /// closes at 03:40:54.773), Binance's longer candle closes there too. `partDuration` (the length of one
    /// part) lets that be recognised; without it the close time is always `closeTime`.
    ///
    /// `nil` when there are no candles, and also when a sum overflows (see ``combineChecked(_:openTime:closeTime:partDuration:)``,
    /// which says so): callers that only draw or simulate candles then skip the period instead of trapping.
    public static func combine(
        _ candles: some Collection<Kline>, openTime: Int64, closeTime: Int64, partDuration: Int64? = nil
    ) -> Kline? {
        do {
            return try combineChecked(candles, openTime: openTime, closeTime: closeTime, partDuration: partDuration)
        } catch {
            return nil
        }
    }

    /// ``combine(_:openTime:closeTime:partDuration:)``, throwing when a volume, quote volume, taker volume or trade
    /// count sum does not fit: the values come from outside, and an exact sum that cannot be represented must not be
    /// stored as anything else. `nil` only when there are no candles.
    public static func combineChecked(
        _ candles: some Collection<Kline>, openTime: Int64, closeTime: Int64, partDuration: Int64? = nil
    ) throws(KlineRollupError) -> Kline? {
        guard let first = candles.first else { return nil }
        var open: ExactDecimal?
        var high = first.high
        var low = first.low
        var close = first.close
        var volume = ExactDecimal.zero
        var quoteVolume = ExactDecimal.zero
        var takerBase = ExactDecimal.zero
        var takerQuote = ExactDecimal.zero
        var trades: Int64 = 0
        var last = first
        func add(_ sum: inout ExactDecimal, _ value: ExactDecimal, _ field: KlineRollupError.Field, _ part: Kline) throws(KlineRollupError)
        {
            let (total, overflow) = sum.addingReportingOverflow(value)
            guard !overflow else { throw KlineRollupError(openTime: openTime, field: field, partOpenTime: part.openTime) }
            sum = total
        }
        for candle in candles {
            last = candle
            try add(&volume, candle.volume, .volume, candle)
            try add(&quoteVolume, candle.quoteVolume, .quoteVolume, candle)
            try add(&takerBase, candle.takerBuyBaseVolume, .takerBuyBaseVolume, candle)
            try add(&takerQuote, candle.takerBuyQuoteVolume, .takerBuyQuoteVolume, candle)
            let (tradeTotal, tradesOverflow) = trades.addingReportingOverflow(candle.tradeCount)
            guard !tradesOverflow else { throw KlineRollupError(openTime: openTime, field: .tradeCount, partOpenTime: candle.openTime) }
            trades = tradeTotal
            guard !isEmpty(candle) else { continue }
            if open == nil {
                open = candle.open
                high = candle.high
                low = candle.low
            } else {
                high = max(high, candle.high)
                low = min(low, candle.low)
            }
            close = candle.close
        }
        var effectiveClose = closeTime
        if let partDuration, last.closeTime < closeTime {
            // A part whose full length reaches past `Int64.max` cannot have closed at its full end either.
            let (fullEnd, overflow) = last.openTime.addingReportingOverflow(partDuration - 1)
            if overflow || last.closeTime < fullEnd { effectiveClose = last.closeTime }
        }
        if open == nil {
            // Every candle was empty: all carry the same previous close.
            high = first.open
            low = first.open
            close = first.open
        }
        return Kline(
            openTime: openTime, open: open ?? first.open, high: high, low: low, close: close, volume: volume,
            closeTime: effectiveClose, quoteVolume: quoteVolume, tradeCount: trades, takerBuyBaseVolume: takerBase,
            takerBuyQuoteVolume: takerQuote, ignore: "0")
    }

    /// A candle in which nothing traded.
    @inlinable
    public static func isEmpty(_ candle: Kline) -> Bool { candle.tradeCount == 0 && candle.volume.isZero }
}

/// A longer candle that cannot be computed exactly: one of its sums does not fit.
public struct KlineRollupError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Field: String, Sendable, Hashable {
        case volume
        case quoteVolume = "quote volume"
        case takerBuyBaseVolume = "taker buy base volume"
        case takerBuyQuoteVolume = "taker buy quote volume"
        case tradeCount = "trade count"
    }

    /// Open time of the longer candle.
    public let openTime: Int64
    public let field: Field
    /// Open time of the part whose addition overflowed.
    public let partOpenTime: Int64

    public init(openTime: Int64, field: Field, partOpenTime: Int64) {
        self.openTime = openTime
        self.field = field
        self.partOpenTime = partOpenTime
    }

    public var description: String {
        "the \(field.rawValue) of the candle opening at \(openTime) overflows when adding the part opening at \(partOpenTime)"
    }
}
