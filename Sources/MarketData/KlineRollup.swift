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
    public static func combine(
        _ candles: some Collection<Kline>, openTime: Int64, closeTime: Int64, partDuration: Int64? = nil
    ) -> Kline? {
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
        for candle in candles {
            last = candle
            volume += candle.volume
            quoteVolume += candle.quoteVolume
            takerBase += candle.takerBuyBaseVolume
            takerQuote += candle.takerBuyQuoteVolume
            trades += candle.tradeCount
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
        if let partDuration, last.closeTime < last.openTime + partDuration - 1, last.closeTime < closeTime {
            effectiveClose = last.closeTime
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
