import ExchangeSimulator
import Foundation
import MarketData
import PipelineTestingMySQL
import Testing
import Warehouse
import WarehouseMySQL

/// `--original-views`: SQL written for the original Python system's schema runs unchanged against views of our tables.
/// The original design's own queries (its hourly and daily aggregation selects, its gap detection, its retention
/// deletes turned into counts) are run against the views on candles whose answers we know.
@Suite(.enabled(if: MySQLTestServer.isAvailable, Comment(rawValue: MySQLTestServer.skipReason)))
struct OriginalViewsTests {
    static let btc = try! Symbol("BTCUSDT")
    static let eth = try! Symbol("ETHUSDT")
    /// 2026-03-01T00:00:00Z; two days of minutes from here.
    static let day: Int64 = 1_772_323_200_000
    /// ETH lacks these five minutes (a gap the original gap query must find).
    static let missing = (day + 90 * 60_000)...(day + 94 * 60_000)

    static func minutes(_ symbol: Symbol) -> [Kline] {
        let market = SyntheticMarket(seed: 5, symbols: [btc, eth])
        return (0..<2_880).map { day + Int64($0) * 60_000 }
            .filter { symbol != eth || !missing.contains($0) }
            .compactMap { market.minuteCandle(symbol, minuteOpen: $0) }
    }

    /// A `DATETIME` as MySQL prints it, from epoch milliseconds.
    static func dateTime(_ time: Int64) -> String {
        String(UTCTime.iso8601(time / 1_000 * 1_000).prefix(19)).replacingOccurrences(of: "T", with: " ")
    }

    @Test func theOriginalDesignsQueriesRunUnchangedAgainstTheViews() async throws {
        try await MySQLTestServer.withWarehouse { warehouse, configuration in
            for symbol in [Self.btc, Self.eth] {
                let minutes = Self.minutes(symbol)
                for (page, start) in stride(from: 0, to: minutes.count, by: 1_000).enumerated() {
                    _ = try await warehouse.loadKlines(
                        Array(minutes[start..<min(start + 1_000, minutes.count)]), symbol: symbol, interval: .oneMinute,
                        capturedAt: Self.day + 2 * 86_400_000 + 5_000,
                        object: ProcessedObject(bucket: "crypto-raw", key: "2026-03-03/\(symbol)_klines_\(page).json", processedAt: 1))
                }
                _ = try await warehouse.loadOrderBook(
                    OrderBookSnapshot(
                        lastUpdateId: 7, bids: [PriceLevel(price: try ExactDecimal(parsing: "100.5"), quantity: ExactDecimal(2))],
                        asks: [PriceLevel(price: try ExactDecimal(parsing: "100.75"), quantity: try ExactDecimal(parsing: "0.125"))]),
                    symbol: symbol, capturedAt: Self.day + 3_600_000 + 1_234,
                    object: ProcessedObject(bucket: "crypto-raw", key: "2026-03-01/\(symbol)_depth_1.json", processedAt: 1))
                try await warehouse.recordExtraction(
                    ExtractionUpdate(
                        symbol: symbol, type: .klines, fetchTime: Self.day + 2 * 86_400_000, lastOpenTime: minutes.last?.openTime,
                        records: minutes.count))
            }
            _ = try await warehouse.rollUpPending()

            let views = configuration.database + "_original"
            var withViews = configuration
            withViews.originalViewsDatabase = views
            let migrating = MySQLWarehouse(configuration: withViews)
            try await migrating.migrate()
            // A start finds them made; a start after one was dropped makes them again.
            try await migrating.migrate()
            try await warehouse.execute("DROP VIEW \(views).hourly_klines")
            try await migrating.migrate()
            await migrating.shutdown()
            do {
                try await Self.expectTheOriginalQueries(warehouse, configuration, views: views)
            } catch {
                try? await warehouse.execute("DROP DATABASE IF EXISTS \(views)")
                throw error
            }
            try await warehouse.execute("DROP DATABASE IF EXISTS \(views)")
        }
    }

    static func expectTheOriginalQueries(_ warehouse: MySQLWarehouse, _ configuration: MySQLConfiguration, views: String) async throws {
        do {
            // An old dashboard connects to the views' database; its session's time zone does not matter.
            var dashboard = configuration
            dashboard.database = views
            let sql = try MySQLConnection(dashboard)
            try sql.execute("SET SESSION time_zone = '+05:00'")

            try Self.expectColumns(sql, views)
            for symbol in [Self.btc, Self.eth] {
                try await Self.expectHourlyAggregation(sql, warehouse, symbol)
                try await Self.expectDailyAggregation(sql, warehouse, symbol)
            }
            try Self.expectGapDetection(sql)
            try Self.expectRetentionCounts(sql)
            try Self.expectReadOnly(sql, warehouse: configuration.database)
            try Self.expectStableIDs(sql)

            let metadata = try sql.query(
                "SELECT id, symbol, data_type, last_fetch_time, last_open_time, record_count FROM extraction_metadata ORDER BY symbol")
            #expect(metadata.count == 2 && metadata[0].string(1) == "BTCUSDT" && metadata[0].string(2) == "klines")
            #expect(metadata[0].string(3) == Self.dateTime(Self.day + 2 * 86_400_000))
            #expect(metadata[0].string(4) == Self.dateTime(Self.day + 2_879 * 60_000) && metadata[0].int64(5) == 2_880)
            let book = try sql.query(
                "SELECT symbol, captured_at, side, price, quantity FROM fact_orderbook WHERE symbol = 'ETHUSDT' ORDER BY side DESC")
            #expect(book.count == 2 && book[0].string(1) == Self.dateTime(Self.day + 3_601_234) && book[0].string(2) == "bid")
            #expect(book[0].string(3) == "100.50000000" && book[1].string(4) == "0.12500000")
            let files = try sql.query("SELECT id, filename FROM processed_files ORDER BY id")
            #expect(files.count == 8 && files.all.compactMap { $0.int64(0) } == Array(1...8))
        }
    }

    /// The original DDL's names, in its order, with its types (`trade_count` is a 64-bit integer here).
    static func expectColumns(_ sql: MySQLConnection, _ views: String) throws {
        let expected: [String: [String]] = [
            "fact_klines": [
                "symbol varchar", "open_time datetime", "interval_code varchar", "open_price decimal(20,8)", "high_price decimal(20,8)",
                "low_price decimal(20,8)", "close_price decimal(20,8)", "volume decimal(30,8)", "close_time datetime",
                "quote_volume decimal(30,8)", "trade_count bigint", "taker_buy_volume decimal(30,8)",
                "taker_buy_quote_volume decimal(30,8)", "created_at datetime",
            ],
            "fact_orderbook": [
                "symbol varchar", "captured_at datetime", "side varchar", "price decimal(20,8)", "quantity decimal(30,8)",
                "created_at datetime",
            ],
            "hourly_klines": [
                "id bigint", "symbol varchar", "hour_start datetime", "open_price decimal(20,8)", "high_price decimal(20,8)",
                "low_price decimal(20,8)", "close_price decimal(20,8)", "volume decimal(30,8)", "trade_count bigint", "created_at datetime",
            ],
            "daily_klines": [
                "id bigint", "symbol varchar", "date date", "open_price decimal(20,8)", "high_price decimal(20,8)",
                "low_price decimal(20,8)",
                "close_price decimal(20,8)", "volume decimal(30,8)", "trade_count bigint", "created_at datetime",
            ],
            "extraction_metadata": [
                "id bigint", "symbol varchar", "data_type varchar", "last_fetch_time datetime", "last_open_time datetime",
                "record_count bigint",
            ],
            "processed_files": ["id bigint", "filename varchar", "processed_at datetime"],
        ]
        let rows = try sql.query(
            """
            SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE, NUMERIC_PRECISION, NUMERIC_SCALE FROM information_schema.COLUMNS
            WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME, ORDINAL_POSITION
            """, MySQLParameters(views))
        var found: [String: [String]] = [:]
        for row in rows.all {
            var type = row.string(2) ?? "?"
            if type == "decimal" { type += "(\(row.int64(3) ?? 0),\(row.int64(4) ?? 0))" }
            found[row.string(0) ?? "?", default: []].append("\(row.string(1) ?? "?") \(type)")
        }
        #expect(found == expected)
    }

    /// Its hourly aggregation, as a select, gives what it gave on its own tables: the hour's first minute's open, the
    /// last minute's close, the extremes, the summed volume and the number of minutes (55 where ETH lacks five). Where an
    /// hour begins with minutes without trades, that open differs from Binance's (and `hourly_klines`'), which is the
    /// first traded price; high, low, close and volume agree with our 1h candles.
    static func expectHourlyAggregation(_ sql: MySQLConnection, _ warehouse: MySQLWarehouse, _ symbol: Symbol) async throws {
        let rows = try sql.query(
            """
            SELECT
                symbol,
                DATE_FORMAT(open_time, '%Y-%m-%d %H:00:00') as hour_start,
                SUBSTRING_INDEX(GROUP_CONCAT(open_price ORDER BY open_time ASC), ',', 1) as open_price,
                MAX(high_price) as high_price,
                MIN(low_price) as low_price,
                SUBSTRING_INDEX(GROUP_CONCAT(close_price ORDER BY open_time DESC), ',', 1) as close_price,
                SUM(volume) as volume,
                COUNT(*) as trade_count
            FROM fact_klines
            WHERE symbol = ? AND interval_code = '1m'
            GROUP BY symbol, hour_start
            ORDER BY hour_start
            """, MySQLParameters(symbol.rawValue))
        let hours = try await warehouse.klines(symbol: symbol, interval: .oneHour, from: 0, to: .max, includeOpen: true, limit: nil)
        let minutesByHour = Dictionary(grouping: Self.minutes(symbol)) { $0.openTime / 3_600_000 * 3_600_000 }
        #expect(rows.count == 48 && hours.count == 48)
        for (row, hour) in zip(rows.all, hours) {
            let candle = hour.kline
            let minutes = try #require(minutesByHour[candle.openTime])
            let label = "\(symbol) \(Self.dateTime(candle.openTime))"
            #expect(row.string(1) == Self.dateTime(candle.openTime), "\(label)")
            #expect(try row.decimal(2) == minutes.first?.open, "\(label)")
            #expect(try row.decimal(3) == candle.high && row.decimal(4) == candle.low, "\(label)")
            #expect(try row.decimal(5) == candle.close && row.decimal(6) == candle.volume, "\(label)")
            #expect(row.int64(7) == Int64(minutes.count), "\(label)")
            #expect(minutes.count == (symbol == Self.eth && candle.openTime == Self.day + 3_600_000 ? 55 : 60), "\(label)")
        }
    }

    /// Its daily aggregation from `hourly_klines`: equal to our 1d candles, and to `daily_klines`.
    static func expectDailyAggregation(_ sql: MySQLConnection, _ warehouse: MySQLWarehouse, _ symbol: Symbol) async throws {
        let rows = try sql.query(
            """
            SELECT
                symbol,
                DATE(hour_start) as date,
                SUBSTRING_INDEX(GROUP_CONCAT(open_price ORDER BY hour_start ASC), ',', 1) as open_price,
                MAX(high_price) as high_price,
                MIN(low_price) as low_price,
                SUBSTRING_INDEX(GROUP_CONCAT(close_price ORDER BY hour_start DESC), ',', 1) as close_price,
                SUM(volume) as volume
            FROM hourly_klines
            WHERE symbol = ?
            GROUP BY symbol, date
            ORDER BY date
            """, MySQLParameters(symbol.rawValue))
        let stored = try sql.query(
            "SELECT `date`, open_price, high_price, low_price, close_price, volume FROM daily_klines WHERE symbol = ? ORDER BY `date`",
            MySQLParameters(symbol.rawValue))
        let days = try await warehouse.klines(symbol: symbol, interval: .oneDay, from: 0, to: .max, includeOpen: true, limit: nil)
        #expect(rows.count == 2 && stored.count == 2 && days.count == 2)
        for ((row, daily), day) in zip(zip(rows.all, stored.all), days) {
            let candle = day.kline
            #expect(row.string(1) == String(Self.dateTime(candle.openTime).prefix(10)) && daily.string(0) == row.string(1))
            #expect(try row.decimal(2) == candle.open && row.decimal(3) == candle.high && row.decimal(4) == candle.low, "\(symbol)")
            #expect(try row.decimal(5) == candle.close && row.decimal(6) == candle.volume, "\(symbol)")
            #expect(try daily.decimal(1) == candle.open && daily.decimal(4) == candle.close && daily.decimal(5) == candle.volume)
        }
    }

    /// Its gap detection finds ETH's five missing minutes, and nothing else.
    static func expectGapDetection(_ sql: MySQLConnection) throws {
        // As documented it filters a window function's result with HAVING, which neither MySQL 8 nor MariaDB allows;
        // wrapped in a derived table, as it runs there.
        let rows = try sql.query(
            """
            SELECT * FROM (
                SELECT
                    symbol,
                    open_time,
                    LEAD(open_time) OVER (PARTITION BY symbol ORDER BY open_time) as next_time,
                    TIMESTAMPDIFF(MINUTE, open_time,
                        LEAD(open_time) OVER (PARTITION BY symbol ORDER BY open_time)
                    ) as gap_minutes
                FROM fact_klines
                WHERE interval_code = '1m'
            ) AS gaps
            WHERE gap_minutes > 1
            """)
        #expect(rows.count == 1)
        #expect(rows.first?.string(0) == "ETHUSDT" && rows.first?.string(1) == Self.dateTime(Self.missing.lowerBound - 60_000))
        #expect(rows.first?.int64(3) == 6)
    }

    /// Its retention deletes (rows older than a cutoff), as counts.
    static func expectRetentionCounts(_ sql: MySQLConnection) throws {
        let cutoff = Self.day + 86_400_000 + 12 * 3_600_000
        let expected = [Self.btc, Self.eth].map { Self.minutes($0).filter { $0.openTime < cutoff }.count }.reduce(0, +)
        let klines = try sql.query("SELECT COUNT(*) FROM fact_klines WHERE open_time < ?", MySQLParameters(Self.dateTime(cutoff)))
        #expect(klines.first?.int64(0) == Int64(expected))
        let books = try sql.query(
            "SELECT COUNT(*) FROM fact_orderbook WHERE captured_at < ?", MySQLParameters(Self.dateTime(Self.day + 3_601_000)))
        #expect(books.first?.int64(0) == 0)
        let later = try sql.query(
            "SELECT COUNT(*) FROM fact_orderbook WHERE captured_at < ?", MySQLParameters(Self.dateTime(Self.day + 3_602_000)))
        #expect(later.first?.int64(0) == 4)
    }

    /// Nothing can be written through the views (each attempt gets the server's refusal), and our tables are untouched.
    static func expectReadOnly(_ sql: MySQLConnection, warehouse: String) throws {
        let checksum =
            "CHECKSUM TABLE `\(warehouse)`.fact_klines, `\(warehouse)`.hourly_klines, `\(warehouse)`.fact_orderbook"
        let before = try sql.query(checksum).all.map { $0.string(1) }
        for (statement, codes) in [
            ("DELETE FROM fact_klines WHERE open_time < '2030-01-01 00:00:00'", [1_395]),
            ("DELETE FROM hourly_klines", [1_395]),
            ("UPDATE fact_klines SET symbol = 'XUSDT'", [1_348]),
            ("UPDATE fact_klines SET open_price = 1", [1_348]),
            ("UPDATE hourly_klines SET close_price = 1", [1_348]),
            ("INSERT INTO fact_klines (symbol, open_time, interval_code) VALUES ('XUSDT', '2026-03-01 00:00:00', '1m')", [1_393, 1_471]),
        ] {
            do {
                try sql.execute(statement)
                Issue.record("\(statement) was allowed")
            } catch {
                #expect(codes.contains(Int(error.code)), "\(statement): \(error)")
            }
        }
        #expect(try sql.query(checksum).all.map { $0.string(1) } == before)
    }

    /// The aggregates' ids are unique and do not change when the views are replaced.
    static func expectStableIDs(_ sql: MySQLConnection) throws {
        let ids = try sql.query("SELECT id FROM hourly_klines ORDER BY symbol, hour_start").all.compactMap { $0.int64(0) }
        #expect(ids.count == 96 && Set(ids).count == 96)
        // The documented formula, so an id stays the same whenever the views are made again.
        let formula = try sql.query(
            "SELECT COUNT(*) FROM hourly_klines WHERE id = CRC32(symbol) * 1000000 + TIMESTAMPDIFF(HOUR, '1970-01-01 00:00:00', hour_start)"
        )
        #expect(formula.first?.int64(0) == 96)
        let days = try sql.query("SELECT id FROM daily_klines").all.compactMap { $0.int64(0) }
        #expect(days.count == 4 && Set(days).count == 4)
    }
}
