public import MarketData

/// What the simulated exchange serves: candles and order books as a function of symbol and time. The synthetic market
/// makes them up from a seed; the replay market plays back real dump files.
public protocol SimulatedMarket: Sendable {
    /// Symbols with data.
    var symbols: [Symbol] { get }
    /// Candles of `interval` opening in `[startTime, endTime]`, as seen at `now`, at most `limit`, oldest first.
    func klines(_ symbol: Symbol, interval: Interval, startTime: Int64, endTime: Int64, now: Int64, limit: Int) -> [Kline]
    /// The newest `limit` candles up to `endTime`, oldest first: Binance's answer when no `startTime` is given.
    func latestKlines(_ symbol: Symbol, interval: Interval, endTime: Int64, now: Int64, limit: Int) -> [Kline]
    /// Where the order book sits at `time` (``SimulatedBook`` lays out its levels); `nil` where the market has no price.
    func bookAnchor(_ symbol: Symbol, at time: Int64) -> BookAnchor?
    /// The final 1m candle opening at `minuteOpen`, `nil` where the market has none.
    func minuteCandle(_ symbol: Symbol, minuteOpen: Int64) -> Kline?
    /// The tick and step sizes exchangeInfo states for `symbol`, which every price and quantity served respects.
    func tradingRules(_ symbol: Symbol) -> TradingRules
}

extension SyntheticMarket: SimulatedMarket {
    public func minuteCandle(_ symbol: Symbol, minuteOpen: Int64) -> Kline? { minuteCandle(symbol, minuteOpen: minuteOpen, asOf: .max) }
}
