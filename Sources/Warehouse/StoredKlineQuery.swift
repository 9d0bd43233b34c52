package import MarketData

/// The read of stored candles, written once for every backend: which table holds an interval (1m and other fetched
/// intervals `fact_klines`, 1h `hourly_klines`, 1d `daily_klines`), the columns in the order the backends decode them,
/// the filters and the order. Identifiers are quoted with backticks, which SQLite reads as MySQL does.
package struct StoredKlineQuery: Sendable {
    package enum Argument: Sendable, Hashable {
        case text(String)
        case integer(Int64)
    }

    /// Columns 0–10: open time, the eight values, close time and trade count as in ``Kline``; 11 `ignore` (roll-ups
    /// store none: `'0'`); 12 `is_final`.
    package static let valueColumns = """
        open_time, open, high, low, close, volume, close_time, quote_volume, trade_count, taker_buy_base_volume, taker_buy_quote_volume
        """

    package var sql: String
    package var arguments: [Argument]

    package init(
        symbol: Symbol, interval: Interval, from: Int64, to: Int64, finalOnly: Bool, limit: Int?, newestFirst: Bool = false
    ) {
        arguments = [.text(symbol.rawValue)]
        switch interval {
        case .oneHour, .oneDay:
            let table = interval == .oneHour ? "hourly_klines" : "daily_klines"
            sql = "SELECT \(Self.valueColumns), '0', is_final FROM \(table) WHERE symbol = ?"
        default:
            sql = "SELECT \(Self.valueColumns), `ignore`, is_final FROM fact_klines WHERE symbol = ? AND `interval` = ?"
            arguments.append(.text(interval.rawValue))
        }
        sql += " AND open_time BETWEEN ? AND ?"
        arguments += [.integer(from), .integer(to)]
        if finalOnly { sql += " AND is_final = 1" }
        sql += newestFirst ? " ORDER BY open_time DESC" : " ORDER BY open_time"
        if let limit {
            sql += " LIMIT ?"
            arguments.append(.integer(Int64(limit)))
        }
    }
}
