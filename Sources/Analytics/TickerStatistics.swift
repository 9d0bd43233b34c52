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
    /// `priceChange / openPrice × 100`, rounded half away from zero to eight decimals; zero when the open price is
    /// zero (there is no change relative to nothing; Binance reports zero too).
    public var priceChangePercent: ExactDecimal
    public var volume: ExactDecimal
    public var quoteVolume: ExactDecimal
    public var tradeCount: Int64
    /// Minutes the window actually holds (fewer than 1440 after an outage or for a new symbol).
    public var minuteCount: Int

    /// Minutes in a day: the window's length.
    public static let windowMinutes = 1_440

    /// Statistics of the newest ``windowMinutes`` of `minutes` (ascending, closed); `nil` when there are none, and
    /// also when they cannot be computed exactly (``checked(minutes:)`` says why) — a page then shows no statistics
    /// rather than wrong ones or a crash.
    public init?(minutes: [Kline]) {
        do {
            guard let statistics = try Self.checked(minutes: minutes) else { return nil }
            self = statistics
        } catch {
            return nil
        }
    }

    /// Statistics of the newest ``windowMinutes`` of `minutes`; `nil` when there are none. Throws when a sum, the
    /// change or the percentage does not fit (prices and volumes come from outside and are exact, so a value that
    /// cannot be represented is an error, never a trap or a rounded number).
    public static func checked(minutes: [Kline]) throws(TickerStatisticsError) -> TickerStatistics? {
        let window = minutes.suffix(Self.windowMinutes)
        guard let first = window.first, let last = window.last else { return nil }
        let combined: Kline
        do {
            guard let candle = try KlineRollup.combineChecked(window, openTime: first.openTime, closeTime: last.closeTime) else {
                return nil
            }
            combined = candle
        } catch {
            throw TickerStatisticsError(openTime: first.openTime, reason: error.description)
        }
        let (change, changeOverflows) = combined.close.subtractingReportingOverflow(combined.open)
        guard !changeOverflows else {
            throw TickerStatisticsError(openTime: first.openTime, reason: "the price change \(combined.close) − \(combined.open) overflows")
        }
        guard let percent = percent(change, of: combined.open) else {
            throw TickerStatisticsError(
                openTime: first.openTime, reason: "the change of \(change) relative to \(combined.open) is too large a percentage")
        }
        return TickerStatistics(
            openTime: first.openTime, closeTime: last.closeTime, openPrice: combined.open, lastPrice: combined.close,
            highPrice: combined.high, lowPrice: combined.low, priceChange: change, priceChangePercent: percent,
            volume: combined.volume, quoteVolume: combined.quoteVolume, tradeCount: combined.tradeCount, minuteCount: window.count)
    }

    private init(
        openTime: Int64, closeTime: Int64, openPrice: ExactDecimal, lastPrice: ExactDecimal, highPrice: ExactDecimal,
        lowPrice: ExactDecimal, priceChange: ExactDecimal, priceChangePercent: ExactDecimal, volume: ExactDecimal,
        quoteVolume: ExactDecimal, tradeCount: Int64, minuteCount: Int
    ) {
        self.openTime = openTime
        self.closeTime = closeTime
        self.openPrice = openPrice
        self.lastPrice = lastPrice
        self.highPrice = highPrice
        self.lowPrice = lowPrice
        self.priceChange = priceChange
        self.priceChangePercent = priceChangePercent
        self.volume = volume
        self.quoteVolume = quoteVolume
        self.tradeCount = tradeCount
        self.minuteCount = minuteCount
    }

    /// `part / whole × 100` exactly to eight decimals (half away from zero); zero when `whole` is zero; `nil` when the
    /// result does not fit in an ``ExactDecimal``.
    ///
    /// units(result) = part.units × 10¹⁰ / whole.units, since both carry the same 10⁸ scale. The product is formed in
    /// 256 bits (it exceeds `Int128` for parts above about 1.7 × 10²⁰), so only a result that itself does not fit fails.
    static func percent(_ part: ExactDecimal, of whole: ExactDecimal) -> ExactDecimal? {
        guard !whole.isZero else { return .zero }
        let divisor = whole.units.magnitude
        let product = part.units.magnitude.multipliedFullWidth(by: 10_000_000_000)
        // The quotient fits in 128 bits exactly when the high half is below the divisor.
        guard product.high < divisor else { return nil }
        var (quotient, remainder) = divisor.dividingFullWidth(product)
        // Half away from zero: round the magnitude up when the remainder is at least half the divisor.
        if remainder >= divisor - remainder {
            let (rounded, overflow) = quotient.addingReportingOverflow(1)
            guard !overflow else { return nil }
            quotient = rounded
        }
        let negative = (part.units < 0) != (whole.units < 0)
        if negative {
            guard quotient <= Int128.min.magnitude else { return nil }
            return ExactDecimal(units: quotient == Int128.min.magnitude ? .min : -Int128(quotient))
        }
        guard let units = Int128(exactly: quotient) else { return nil }
        return ExactDecimal(units: units)
    }
}

/// 24-hour statistics that cannot be computed exactly from a symbol's minutes.
public struct TickerStatisticsError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Open time of the window's first minute.
    public let openTime: Int64
    public let reason: String

    public var description: String { "24h statistics from \(openTime): \(reason)" }
}
