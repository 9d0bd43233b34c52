public import MarketData

/// Rolling 24-hour statistics of one symbol, exact, from its last 1440 closed minutes — what Binance's 24h ticker
/// reports, with open, high and low from traded minutes only (the zero-volume rule).
public struct TickerStatistics: Sendable, Hashable {
    public var openTime: Int64
    public var closeTime: Int64
    public var openPrice: ExactDecimal
    public var lastPrice: ExactDecimal
    public var highPrice: ExactDecimal
    public var lowPrice: ExactDecimal
    public var priceChange: ExactDecimal
    /// `priceChange / openPrice × 100`, rounded half away from zero to eight decimals.
    public var priceChangePercent: ExactDecimal
    public var volume: ExactDecimal
    public var quoteVolume: ExactDecimal
    public var tradeCount: Int64
    /// Minutes the window actually holds (fewer than 1440 after an outage or for a new symbol).
    public var minuteCount: Int

    /// Minutes in a day: the window's length.
    public static let windowMinutes = 1_440

    /// Statistics of the newest ``windowMinutes`` of `minutes` (ascending, closed); `nil` when there are none.
    public init?(minutes: [Kline]) {
        let window = minutes.suffix(Self.windowMinutes)
        guard let first = window.first, let last = window.last,
            let combined = KlineRollup.combine(window, openTime: first.openTime, closeTime: last.closeTime)
        else { return nil }
        openTime = first.openTime
        closeTime = last.closeTime
        openPrice = combined.open
        lastPrice = combined.close
        highPrice = combined.high
        lowPrice = combined.low
        priceChange = combined.close - combined.open
        priceChangePercent = Self.percent(priceChange, of: combined.open)
        volume = combined.volume
        quoteVolume = combined.quoteVolume
        tradeCount = combined.tradeCount
        minuteCount = window.count
    }

    /// `part / whole × 100` exactly to eight decimals (half away from zero); zero when `whole` is zero.
    static func percent(_ part: ExactDecimal, of whole: ExactDecimal) -> ExactDecimal {
        guard !whole.isZero else { return .zero }
        // units(result) = part.units × 100 × 10⁸ / whole.units, since both carry the same 10⁸ scale.
        let numerator = part.units * 100 * 100_000_000
        var quotient = numerator / whole.units
        let remainder = numerator % whole.units
        if remainder.magnitude * 2 >= whole.units.magnitude { quotient += (numerator < 0) != (whole.units < 0) ? -1 : 1 }
        return ExactDecimal(units: quotient)
    }
}
