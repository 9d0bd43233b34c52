import GRDB
import GRDBSQLite
import MarketData

/// Reading candles back: shared by queries, exports and roll-ups, so it reads column bytes directly.
extension SQLiteWarehouse {
    static let valueColumns = """
        open_time, open, high, low, close, volume, close_time, quote_volume, trade_count, taker_buy_base_volume, taker_buy_quote_volume
        """

    /// Candles of one interval: 1m from `fact_klines`, 1h and 1d from the roll-up tables.
    static func fetchKlines(
        _ db: Database, symbol: Symbol, interval: Interval, from: Int64, to: Int64, finalOnly: Bool, limit: Int?,
        newestFirst: Bool = false
    ) throws -> [StoredKline] {
        let table: String
        var arguments: StatementArguments = [symbol.rawValue]
        var sql: String
        switch interval {
        case .oneHour: table = "hourly_klines"
        case .oneDay: table = "daily_klines"
        default: table = "fact_klines"
        }
        if table == "fact_klines" {
            sql = "SELECT \(valueColumns), ignore, is_final FROM fact_klines WHERE symbol = ? AND interval = ?"
            arguments += [interval.rawValue]
        } else {
            sql = "SELECT \(valueColumns), '0', is_final FROM \(table) WHERE symbol = ?"
        }
        sql += " AND open_time BETWEEN ? AND ?"
        arguments += [from, to]
        if finalOnly { sql += " AND is_final = 1" }
        sql += newestFirst ? " ORDER BY open_time DESC" : " ORDER BY open_time"
        if let limit {
            sql += " LIMIT ?"
            arguments += [limit]
        }
        // Read column bytes straight into exact decimals: no Row, no intermediate Strings. This is what
        // roll-ups and exports spend their time on.
        let statement = try db.cachedStatement(sql: sql)
        try statement.setArguments(arguments)
        let handle = statement.sqliteStatement
        defer { sqlite3_reset(handle) }
        func decimal(_ column: Int32) throws -> ExactDecimal {
            let length = Int(sqlite3_column_bytes(handle, column))
            guard let text = sqlite3_column_text(handle, column) else { return try ExactDecimal(parsing: "") }
            return try ExactDecimal(bytes: UnsafeBufferPointer(start: text, count: length))
        }
        var result: [StoredKline] = []
        while true {
            let code = sqlite3_step(handle)
            if code == SQLITE_DONE { break }
            guard code == SQLITE_ROW else {
                throw DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(db.sqliteConnection)))
            }
            let ignore = sqlite3_column_text(handle, 11).map { String(cString: $0) } ?? "0"
            let kline = Kline(
                openTime: sqlite3_column_int64(handle, 0), open: try decimal(1), high: try decimal(2), low: try decimal(3),
                close: try decimal(4), volume: try decimal(5), closeTime: sqlite3_column_int64(handle, 6), quoteVolume: try decimal(7),
                tradeCount: sqlite3_column_int64(handle, 8), takerBuyBaseVolume: try decimal(9), takerBuyQuoteVolume: try decimal(10),
                ignore: ignore)
            result.append(StoredKline(kline: kline, isFinal: sqlite3_column_int64(handle, 12) == 1))
        }
        return result
    }
}
