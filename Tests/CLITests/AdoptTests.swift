import ExchangeSimulator
import Foundation
import MarketData
import PipelineTesting
import PipelineTestingMySQL
import Testing
import Warehouse
import WarehouseMySQL

/// `cryptopipe adopt --from mysql://…` against a MariaDB database created from the original design's DDL and filled
/// with candles whose values are known (the synthetic market's), order books and extraction state.
@Suite(.enabled(if: MySQLTestServer.isAvailable, Comment(rawValue: MySQLTestServer.skipReason)))
struct AdoptTests {
    static let btc = try! Symbol("BTCUSDT")
    static let eth = try! Symbol("ETHUSDT")
    /// 2026-03-01T00:00:00Z: three hours of minutes from here, on the original's tables.
    static let start: Int64 = 1_772_323_200_000
    static let market = SyntheticMarket(seed: 9, symbols: [btc, eth])

    /// ETH's first five minutes are gone from the original's tables (its retention cut through that hour).
    static func minutes(_ symbol: Symbol) -> [Kline] {
        (symbol == eth ? 5..<180 : 0..<180).compactMap { market.minuteCandle(symbol, minuteOpen: start + Int64($0) * 60_000) }
    }

    /// When the original fetched BTC's k-lines (its processed_files names them): three seconds into every tenth minute,
    /// and half-way through the last. Each catches that minute open. ETH's fetches are not in its ledger.
    static let btcFetches = (1...17).map { start + Int64($0) * 600_000 + 3_000 } + [start + 179 * 60_000 + 30_000]
    /// Those BTC minutes adopted open: each fetch may have caught the minute it fell in or the one before (the
    /// original's clock may be half a minute off), and the ten minutes before its first recorded fetch have no evidence.
    static let btcOpenMinutes: [Int64] = {
        var minutes: Set<Int64> = []
        for minute in 0...9 { minutes.insert(start + Int64(minute) * 60_000) }
        for fetch in 1...17 {
            minutes.insert(start + Int64(fetch) * 600_000 - 60_000)
            minutes.insert(start + Int64(fetch) * 600_000)
        }
        minutes.formUnion([start + 178 * 60_000, start + 179 * 60_000])
        return minutes.sorted()
    }()

    static func dateTime(_ time: Int64) -> String {
        "'" + String(UTCTime.iso8601(time / 1_000 * 1_000).prefix(19)).replacingOccurrences(of: "T", with: " ") + "'"
    }

    /// The original design's tables (its DDL, as `../shared/original-design.md` gives it).
    static let schema = [
        """
        CREATE TABLE fact_klines (
            symbol VARCHAR(20) NOT NULL, open_time DATETIME NOT NULL, interval_code VARCHAR(10) NOT NULL DEFAULT '1m',
            open_price DECIMAL(20, 8), high_price DECIMAL(20, 8), low_price DECIMAL(20, 8), close_price DECIMAL(20, 8),
            volume DECIMAL(30, 8), close_time DATETIME, quote_volume DECIMAL(30, 8), trade_count INT,
            taker_buy_volume DECIMAL(30, 8), taker_buy_quote_volume DECIMAL(30, 8), created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
            PRIMARY KEY (symbol, open_time, interval_code), INDEX idx_symbol_time (symbol, open_time))
        """,
        """
        CREATE TABLE fact_orderbook (
            symbol VARCHAR(20) NOT NULL, captured_at DATETIME NOT NULL, side ENUM('bid', 'ask') NOT NULL,
            price DECIMAL(20, 8) NOT NULL, quantity DECIMAL(30, 8), created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
            PRIMARY KEY (symbol, captured_at, side, price), INDEX idx_symbol_time (symbol, captured_at))
        """,
        """
        CREATE TABLE hourly_klines (
            id INT AUTO_INCREMENT PRIMARY KEY, symbol VARCHAR(20) NOT NULL, hour_start DATETIME NOT NULL,
            open_price DECIMAL(20, 8), high_price DECIMAL(20, 8), low_price DECIMAL(20, 8), close_price DECIMAL(20, 8),
            volume DECIMAL(30, 8), trade_count INT, created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
            UNIQUE KEY unique_symbol_hour (symbol, hour_start), INDEX idx_hour (hour_start))
        """,
        """
        CREATE TABLE daily_klines (
            id INT AUTO_INCREMENT PRIMARY KEY, symbol VARCHAR(20) NOT NULL, date DATE NOT NULL,
            open_price DECIMAL(20, 8), high_price DECIMAL(20, 8), low_price DECIMAL(20, 8), close_price DECIMAL(20, 8),
            volume DECIMAL(30, 8), trade_count INT, created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
            UNIQUE KEY unique_symbol_date (symbol, date), INDEX idx_date (date))
        """,
        """
        CREATE TABLE processed_files (
            id INT AUTO_INCREMENT PRIMARY KEY, filename VARCHAR(500) NOT NULL UNIQUE, processed_at DATETIME DEFAULT CURRENT_TIMESTAMP)
        """,
        """
        CREATE TABLE extraction_metadata (
            id INT AUTO_INCREMENT PRIMARY KEY, symbol VARCHAR(20) NOT NULL, data_type VARCHAR(20) NOT NULL,
            last_fetch_time DATETIME, last_open_time DATETIME, record_count INT DEFAULT 0,
            UNIQUE KEY unique_symbol_type (symbol, data_type))
        """,
    ]

    /// Rows as the original wrote them: each minute stored five seconds after it closed, except each symbol's last,
    /// stored half-way through (its fetch's open candle, never fetched again).
    static func rows() -> [String] {
        var statements: [String] = [
            "INSERT INTO processed_files (filename) VALUES "
                + btcFetches.map { "('data_lake/raw/2026-03-01/BTCUSDT_klines_\($0).json')" }.joined(separator: ", ")
                + ", ('data_lake/raw/2026-03-01/BTCUSDT_depth_\(start + 100_000).json'), ('notes.txt')"
        ]
        for symbol in [btc, eth] {
            let minutes = minutes(symbol)
            let values = minutes.enumerated().map { index, k in
                let created = index == minutes.count - 1 ? k.openTime + 30_000 : k.closeTime + 5_001
                return "('\(symbol)', \(dateTime(k.openTime)), '1m', \(k.open), \(k.high), \(k.low), \(k.close), \(k.volume), "
                    + "\(dateTime(k.closeTime)), \(k.quoteVolume), \(k.tradeCount), \(k.takerBuyBaseVolume), \(k.takerBuyQuoteVolume), "
                    + "\(dateTime(created)))"
            }
            statements.append(
                "INSERT INTO fact_klines (symbol, open_time, interval_code, open_price, high_price, low_price, close_price, volume, "
                    + "close_time, quote_volume, trade_count, taker_buy_volume, taker_buy_quote_volume, created_at) VALUES "
                    + values.joined(separator: ", "))
            for snapshot in 0..<2 {
                let at = dateTime(start + Int64(snapshot) * 60_000 + 1_500)
                statements.append(
                    "INSERT INTO fact_orderbook (symbol, captured_at, side, price, quantity) VALUES "
                        + "('\(symbol)', \(at), 'bid', 100.5, 1.25), ('\(symbol)', \(at), 'bid', 100.25, 3), "
                        + "('\(symbol)', \(at), 'ask', 100.75, 0.5), ('\(symbol)', \(at), 'ask', 101, \(snapshot + 1))")
            }
            statements.append(
                "INSERT INTO extraction_metadata (symbol, data_type, last_fetch_time, last_open_time, record_count) VALUES "
                    + "('\(symbol)', 'klines', \(dateTime(start + 179 * 60_000 + 30_000)), \(dateTime(start + 179 * 60_000)), 180), "
                    + "('\(symbol)', 'depth', \(dateTime(start + 61_500)), NULL, 8)")
            // Its own hours, with its row-count trade_count: those with minutes are not taken…
            statements.append(
                "INSERT INTO hourly_klines (symbol, hour_start, open_price, high_price, low_price, close_price, volume, trade_count) "
                    + "VALUES ('\(symbol)', \(dateTime(start)), 1, 1, 1, 1, 1, 60), "
                    // …and those older than every minute are listed as not adopted.
                    + "('\(symbol)', \(dateTime(start - 7_200_000)), 2, 2, 2, 2, 2, 60), ('\(symbol)', \(dateTime(start - 3_600_000)), 2, 2, 2, 2, 2, 60)"
            )
        }
        statements.append(
            "INSERT INTO daily_klines (symbol, date, open_price, high_price, low_price, close_price, volume, trade_count) "
                + "VALUES ('BTCUSDT', '2026-02-27', 3, 3, 3, 3, 3, 24)")
        // A row of another interval, a minute without a close price and one whose symbol is not one: none is a candle.
        statements.append(
            "INSERT INTO fact_klines (symbol, open_time, interval_code, open_price, high_price, low_price, close_price, volume, "
                + "trade_count) VALUES ('BTCUSDT', \(dateTime(start)), '5m', 1, 1, 1, 1, 1, 1), "
                + "('SOLUSDT', \(dateTime(start)), '1m', 1, 1, 1, NULL, 1, 1), ('BAD|USDT', \(dateTime(start)), '1m', 1, 1, 1, 1, 1, 1)")
        // A book with a NULL quantity is not taken at all.
        statements.append(
            "INSERT INTO fact_orderbook (symbol, captured_at, side, price, quantity) VALUES "
                + "('ETHUSDT', \(dateTime(start + 600_000)), 'bid', 99, 1), ('ETHUSDT', \(dateTime(start + 600_000)), 'ask', 101, NULL)")
        return statements
    }

    @Test func theOriginalDatabaseIsCopiedExactlyAndAgainWritesNothing() async throws {
        let server = try #require(MySQLTestServer.configuration)
        let legacy = "legacy_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(12)
        let admin = MySQLWarehouse(configuration: server)
        try await admin.execute("CREATE DATABASE \(legacy)")
        do {
            try await Self.adopt(server: server, legacy: String(legacy), admin: admin)
        } catch {
            try? await admin.execute("DROP DATABASE \(legacy)")
            await admin.shutdown()
            throw error
        }
        try await admin.execute("DROP DATABASE \(legacy)")
        await admin.shutdown()
    }

    static func adopt(server: MySQLConfiguration, legacy: String, admin: MySQLWarehouse) async throws {
        for statement in schema {
            try await admin.execute(statement.replacingOccurrences(of: "CREATE TABLE ", with: "CREATE TABLE \(legacy)."))
        }
        for statement in rows() {
            try await admin.execute(statement.replacingOccurrences(of: "INSERT INTO ", with: "INSERT INTO \(legacy)."))
        }
        let checksum =
            "CHECKSUM TABLE \(legacy).fact_klines, \(legacy).fact_orderbook, \(legacy).extraction_metadata, \(legacy).hourly_klines, "
            + "\(legacy).processed_files"
        var reader = server
        reader.database = legacy
        let source = MySQLReader(configuration: reader, logger: .init(label: "test"))
        let before = try await source.query(checksum).all.map { "\($0.string(0) ?? "") \($0.string(1) ?? "")" }

        let folder = try TemporaryDirectory("cli-adopt")
        defer { folder.remove() }
        var url = reader
        url.password = nil
        let environment = ["CRYPTOPIPE_ADOPT_PASSWORD": server.password ?? "", "CRYPTOPIPE_LOG_LEVEL": "warning"]
        // Pages of seven rows and of one snapshot: the paging crosses symbols, hours and snapshots many times.
        let adopt = ["adopt", "--from", url.description, "--page-rows", "7"]
        let first = try await CLITests.run(adopt, environment: environment, in: folder)
        #expect(first.status == 0, "\(first.stdout)\(first.stderr)")
        #expect(
            first.stdout.contains("adopted 357 minutes (355 rows written) and 5 order-book snapshots (4 new) of 2 symbols"),
            "\(first.stdout)")
        #expect(first.stdout.contains("extraction state: 4 taken, 0 kept"), "\(first.stdout)")
        #expect(first.stdout.contains("220 minutes adopted as open"), "\(first.stdout)")
        #expect(first.stdout.contains("10 minutes are older than the first fetch its processed_files names"), "\(first.stdout)")
        #expect(first.stdout.contains("processed_files names no k-line fetches of ETHUSDT: nothing tells their minutes caught open"))
        #expect(first.stdout.contains("not adopted: 2 hourly_klines rows of BTCUSDT from 2026-02-28 22:00:00 to 2026-02-28 23:00:00"))
        #expect(first.stdout.contains("partly adopted: 1 hourly_klines rows of ETHUSDT from 2026-03-01 00:00:00 to 2026-03-01 00:00:00"))
        #expect(first.stdout.contains("not adopted: 1 daily_klines rows of BTCUSDT from 2026-02-27 to 2026-02-27"), "\(first.stdout)")
        #expect(first.stdout.contains("not adopted: 1 fact_klines rows of intervals other than 1m"), "\(first.stdout)")
        #expect(first.stderr.contains("refused 3 rows") && first.stderr.contains("close_price is NULL"), "\(first.stderr)")
        #expect(first.stderr.contains("BAD|USDT") && first.stderr.contains("order book ETHUSDT"), "\(first.stderr)")
        #expect(first.stdout.contains("cryptopipe run --symbols BTCUSDT,ETHUSDT"), "\(first.stdout)")

        let warehouse = try SQLiteWarehouse(path: folder.path + "/data/warehouse.sqlite")
        for symbol in [btc, eth] {
            let expected = minutes(symbol)
            let stored = try await warehouse.klines(symbol: symbol, interval: .oneMinute, from: 0, to: .max, includeOpen: true, limit: nil)
            #expect(stored.map(\.kline) == expected, "\(symbol)")
            // BTC's by its fetch times; all of ETH's, which has none.
            let open = symbol == btc ? btcOpenMinutes : expected.map(\.openTime)
            #expect(stored.filter { !$0.isFinal }.map(\.kline.openTime) == open, "\(symbol)")
            // Hours are computed from the final minutes (Binance's rule), so BTC's has one that a gap fill completes, and ETH's,
            // with no final minute yet, comes then. The original's hours are never taken: its were all 1s.
            let hour = start + 3_600_000
            let hours = try await warehouse.klines(symbol: symbol, interval: .oneHour, from: start, to: hour, includeOpen: true, limit: nil)
            #expect(hours.count == (symbol == btc ? 2 : 0), "\(symbol)")
            #expect(hours.allSatisfy { $0.kline.open != ExactDecimal(1) }, "\(symbol)")
            // The original kept whole seconds.
            let book = try #require(try await warehouse.latestOrderBook(symbol: symbol, levels: 10))
            #expect(book.capturedAt == start + 61_000 && book.bids.map(\.price.description) == ["100.50000000", "100.25000000"])
            #expect(book.asks.map(\.quantity.description) == ["0.50000000", "2.00000000"])
            let state = try #require(try await warehouse.extractionState(symbol: symbol, type: .klines))
            #expect(state.recordCount == 180 && state.lastFetchTime == start + 179 * 60_000 + 30_000, "\(symbol)")
            // The original's last open time was its open candle; ours is the newest closed one.
            #expect(state.lastOpenTime == start + 178 * 60_000)
        }

        // Run again after it finished: it reads everything again and writes nothing.
        let again = try await CLITests.run(adopt, environment: environment, in: folder)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stdout.contains("adopted 357 minutes (0 rows written) and 5 order-book snapshots (0 new)"), "\(again.stdout)")
        #expect(again.stdout.contains("extraction state: 0 taken, 4 kept"), "\(again.stdout)")
        let after = try await source.query(checksum).all.map { "\($0.string(0) ?? "") \($0.string(1) ?? "")" }
        #expect(before == after && before.count == 5)
        await source.shutdown()
    }
}
