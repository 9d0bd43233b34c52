public import MarketData

/// What exchangeInfo's filters say about one symbol, consistent with what the market serves: every price is a multiple
/// of `tickSize` and every quantity (order-book levels, candle volumes) a multiple of `stepSize`, so a client that
/// checks or rounds to them before asking for candles agrees with the data it gets.
public struct TradingRules: Sendable, Hashable {
    public var tickSize: ExactDecimal
    public var stepSize: ExactDecimal
    public var maxPrice: ExactDecimal
    public var maxQuantity: ExactDecimal

    public init(tickSize: ExactDecimal, stepSize: ExactDecimal, maxPrice: ExactDecimal, maxQuantity: ExactDecimal) {
        self.tickSize = tickSize
        self.stepSize = stepSize
        self.maxPrice = maxPrice
        self.maxQuantity = maxQuantity
    }

    /// 10^-decimals (decimals 0…8) as an exact decimal: the tick or step of a value with that many fraction digits.
    static func power(decimals: Int) -> ExactDecimal {
        ExactDecimal(units: Int128(pow10Int(ExactDecimal.scale - min(ExactDecimal.scale, max(0, decimals)))))
    }

    /// The coarsest power of ten dividing every value's units (1 unit = 10^-8 at the finest; 1 for an empty list).
    static func commonPower(of values: some Sequence<ExactDecimal>) -> ExactDecimal {
        var step = ExactDecimal.unitsPerOne
        for value in values where value.units != 0 {
            while step > 1, value.units % step != 0 { step /= 10 }
            if step == 1 { break }
        }
        return ExactDecimal(units: step)
    }
}

extension SyntheticMarket {
    /// From the symbol's profile: prices have `priceDecimals` fraction digits and quantities `quantityDecimals`.
    public func tradingRules(_ symbol: Symbol) -> TradingRules {
        let profile = profile(symbol)
        return TradingRules(
            tickSize: TradingRules.power(decimals: profile.priceDecimals),
            stepSize: TradingRules.power(decimals: profile.quantityDecimals), maxPrice: ExactDecimal(1_000_000),
            maxQuantity: ExactDecimal(9_000_000))
    }
}

extension ReplayMarket {
    /// From the replayed candles (worked out once, when the market is made): the tick is the finest decimal place their
    /// prices use (the made-up order book steps by a multiple of it); quantities are served to the eighth decimal.
    public func tradingRules(_ symbol: Symbol) -> TradingRules {
        rules[symbol] ?? Self.rules(for: [])
    }

    static func rules(for candles: [Kline]) -> TradingRules {
        var prices: [ExactDecimal] = []
        prices.reserveCapacity(candles.count * 4)
        for candle in candles { prices += [candle.open, candle.high, candle.low, candle.close] }
        // The highest price rounded up to a power of ten, at least 10,000,000: the filter admits every served price.
        var maxPrice = ExactDecimal(10_000_000)
        let highest = prices.max() ?? .zero
        while maxPrice < highest, maxPrice.units <= Int128.max / 10 { maxPrice = ExactDecimal(units: maxPrice.units * 10) }
        return TradingRules(
            tickSize: TradingRules.commonPower(of: prices), stepSize: ExactDecimal(units: 1), maxPrice: maxPrice,
            maxQuantity: ExactDecimal(90_000_000))
    }
}
