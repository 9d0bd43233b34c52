/// Binance's request weights (spot REST, per IP), as the client charges them before sending and the simulator
/// enforces them.
public enum BinanceWeights {
    /// REQUEST_WEIGHT per minute (not 1200: that is pre-2023).
    public static let limitPerMinute = 6_000
    public static let klines = 2
    public static let exchangeInfo = 20
    public static let ping = 1
    public static let time = 1

    /// A depth request's weight by its `limit` (default 100).
    public static func depth(limit: Int) -> Int {
        switch limit {
        case ...100: 5
        case ...500: 25
        case ...1_000: 50
        default: 250
        }
    }
}
