public import MarketData
public import Warehouse

/// A warehouse that runs SQL it is given. The conformance suite reads what the protocol only writes (the reason and
/// destination of rejected files, which operators query directly) through it; every SQL backend is one (the MySQL
/// warehouse's conformance is declared in `PipelineTestingMySQL`).
public protocol SQLRunningWarehouse: Warehouse {
    func execute(_ sql: String) async throws(WarehouseError)
}

extension SQLiteWarehouse: SQLRunningWarehouse {}

/// What every ``Warehouse`` must do. Each check receives a fresh, migrated warehouse.
public enum WarehouseConformance {
    static let btc = try! Symbol("BTCUSDT")
    static let eth = try! Symbol("ETHUSDT")

    /// A candle with distinctive exact values; `variant` changes every value.
    public static func kline(_ openTime: Int64, variant: Int = 0, trades: Int64 = 10) -> Kline {
        func d(_ text: String) -> ExactDecimal { try! ExactDecimal(parsing: text) }
        return Kline(
            openTime: openTime, open: d("43250.1\(variant)"), high: d("43300.00000001"), low: d("43200.5"), close: d("43275.2\(variant)"),
            volume: d("12.34567890"), closeTime: openTime + 59_999, quoteVolume: d("123456789012345678901.12345678"),
            tradeCount: trades + Int64(variant), takerBuyBaseVolume: d("6.1"), takerBuyQuoteVolume: d("263000.00000009"), ignore: "0")
    }

    /// A zero-volume candle at the previous close, as Binance publishes minutes without trades.
    public static func emptyKline(_ openTime: Int64) -> Kline {
        let price = try! ExactDecimal(parsing: "43275.2")
        return Kline(
            openTime: openTime, open: price, high: price, low: price, close: price, volume: .zero, closeTime: openTime + 59_999,
            quoteVolume: .zero, tradeCount: 0, takerBuyBaseVolume: .zero, takerBuyQuoteVolume: .zero)
    }

    static func object(_ key: String) -> ProcessedObject { ProcessedObject(bucket: "crypto-raw", key: key, processedAt: 1) }

    /// The suite by role: a backend (or a double of one role) runs the parts of the roles it implements.
    public static let roles: [(role: String, checks: [ConformanceCheck<any Warehouse>])] = [
        ("CandleStore", candleChecks + intervalChecks), ("OrderBookStore", orderBookChecks),
        ("ObjectBatchLoader", objectBatchLoaderChecks), ("ObjectLedger", objectLedgerChecks),
        ("ExtractionLedger", extractionLedgerChecks), ("GapStore", gapStoreChecks), ("JobRunStore", jobRunStoreChecks),
        ("LeaseStore", leaseStoreChecks), ("WarehouseMaintenance", maintenanceChecks), ("WarehouseOverview", overviewChecks),
    ]

    /// Every role's checks, each named after its role.
    public static let checks: [ConformanceCheck<any Warehouse>] = roles.flatMap { role, checks in
        checks.map { check in ConformanceCheck("\(role): \(check.name)") { try await check.run($0) } }
    }

    /// CandleStore: loads, imports, roll-ups and reads of candles.
    static let candleChecks: [ConformanceCheck<any Warehouse>] = [
        ConformanceCheck("k-lines round-trip exactly") { warehouse in
            let candles = (0..<5).map { kline(1_704_067_200_000 + Int64($0) * 60_000, variant: $0) }
            let result = try await warehouse.loadKlines(
                candles, symbol: btc, interval: .oneMinute, capturedAt: 1_704_070_000_000, object: object("2024-01-01/a.json"))
            try require(result == LoadResult(rowsWritten: 5, rowsUnchanged: 0), "load result \(result)")
            let stored = try await warehouse.klines(symbol: btc, interval: .oneMinute, from: 0, to: .max, includeOpen: false, limit: nil)
            try require(stored.map(\.kline) == candles, "stored candles differ")
            try require(stored.allSatisfy(\.isFinal), "closed candles not final")
        },
        ConformanceCheck("re-loading the same object changes nothing") { warehouse in
            let candles = (0..<3).map { kline(1_704_067_200_000 + Int64($0) * 60_000) }
            _ = try await warehouse.loadKlines(
                candles, symbol: btc, interval: .oneMinute, capturedAt: 1_704_070_000_000, object: object("2024-01-01/a.json"))
            let again = try await warehouse.loadKlines(
                candles, symbol: btc, interval: .oneMinute, capturedAt: 1_704_070_000_000, object: object("2024-01-01/a.json"))
            try require(again == LoadResult(rowsWritten: 0, rowsUnchanged: 3), "second load \(again)")
            try require((try await warehouse.tableCounts())["fact_klines"] == 3, "row count")
        },
        ConformanceCheck("an open candle is replaced by its final version, never the reverse") { warehouse in
            let open = 1_704_067_200_000 as Int64
            // Captured mid-candle: still open.
            _ = try await warehouse.loadKlines(
                [kline(open, variant: 1)], symbol: btc, interval: .oneMinute, capturedAt: open + 30_000, object: object("2024-01-01/1.json")
            )
            var stored = try await warehouse.klines(symbol: btc, interval: .oneMinute, from: open, to: open, includeOpen: true, limit: nil)
            try require(stored.count == 1 && !stored[0].isFinal, "open candle not stored as open")
            try require(
                try await warehouse.klines(symbol: btc, interval: .oneMinute, from: open, to: open, includeOpen: false, limit: nil).isEmpty,
                "open candle exported as closed")
            // A later open capture replaces the earlier one.
            _ = try await warehouse.loadKlines(
                [kline(open, variant: 2)], symbol: btc, interval: .oneMinute, capturedAt: open + 40_000, object: object("2024-01-01/2.json")
            )
            stored = try await warehouse.klines(symbol: btc, interval: .oneMinute, from: open, to: open, includeOpen: true, limit: nil)
            try require(stored[0].kline == kline(open, variant: 2), "newer open capture not applied")
            // The final version replaces it.
            _ = try await warehouse.loadKlines(
                [kline(open, variant: 3)], symbol: btc, interval: .oneMinute, capturedAt: open + 90_000, object: object("2024-01-01/3.json")
            )
            // Re-processing an older open capture must not undo the final one.
            let stale = try await warehouse.loadKlines(
                [kline(open, variant: 2)], symbol: btc, interval: .oneMinute, capturedAt: open + 40_000, object: object("2024-01-01/2.json")
            )
            try require(stale.rowsWritten == 0, "stale open capture overwrote the final candle")
            stored = try await warehouse.klines(symbol: btc, interval: .oneMinute, from: open, to: open, includeOpen: false, limit: nil)
            try require(stored.map(\.kline) == [kline(open, variant: 3)] && stored[0].isFinal, "final candle not kept")
        },
        ConformanceCheck("a page whose candles lie years apart is loaded by key, with the same rule") { warehouse in
            let early: Int64 = 1_577_836_800_000
            let late = early + 3 * 365 * 86_400_000
            let open = try await warehouse.loadKlines(
                [kline(early), kline(late)], symbol: btc, interval: .oneMinute, capturedAt: early + 30_000, object: object("far1"))
            try require(open == LoadResult(rowsWritten: 2, rowsUnchanged: 0), "first load \(open)")
            // The early candle becomes final; the late one is captured later but still open, so it is replaced too.
            let later = try await warehouse.loadKlines(
                [kline(early, variant: 1), kline(late, variant: 1)], symbol: btc, interval: .oneMinute, capturedAt: early + 90_000,
                object: object("far2"))
            try require(later == LoadResult(rowsWritten: 2, rowsUnchanged: 0), "second load \(later)")
            let again = try await warehouse.loadKlines(
                [kline(early, variant: 2), kline(late, variant: 2)], symbol: btc, interval: .oneMinute, capturedAt: early + 60_000,
                object: object("far3"))
            try require(again == LoadResult(rowsWritten: 0, rowsUnchanged: 2), "an earlier capture replaced something \(again)")
            let rows = try await warehouse.klines(symbol: btc, interval: .oneMinute, from: 0, to: .max, includeOpen: true, limit: nil)
            try require(
                rows == [
                    StoredKline(kline: kline(early, variant: 1), isFinal: true),
                    StoredKline(kline: kline(late, variant: 1), isFinal: false),
                ],
                "rows \(rows)")
        },
        ConformanceCheck("queries filter by symbol, interval, range and limit") { warehouse in
            let candles = (0..<10).map { kline(1_704_067_200_000 + Int64($0) * 60_000) }
            _ = try await warehouse.loadKlines(
                candles, symbol: btc, interval: .oneMinute, capturedAt: 1_704_080_000_000, object: object("2024-01-01/b.json"))
            _ = try await warehouse.loadKlines(
                candles, symbol: eth, interval: .oneMinute, capturedAt: 1_704_080_000_000, object: object("2024-01-01/e.json"))
            let range = try await warehouse.klines(
                symbol: btc, interval: .oneMinute, from: candles[2].openTime, to: candles[5].openTime, includeOpen: false, limit: nil)
            try require(range.map(\.kline.openTime) == candles[2...5].map(\.openTime), "range")
            let limited = try await warehouse.klines(symbol: eth, interval: .oneMinute, from: 0, to: .max, includeOpen: false, limit: 3)
            try require(limited.map(\.kline.openTime) == candles[0..<3].map(\.openTime), "limit")
            try require(
                try await warehouse.klines(symbol: btc, interval: .oneHour, from: 0, to: .max, includeOpen: true, limit: nil).isEmpty,
                "interval filter")
        },
        ConformanceCheck("recent candles are the newest ones, ascending, open ones only when asked") { warehouse in
            let start = 1_704_067_200_000 as Int64
            let candles = (0..<10).map { kline(start + Int64($0) * 60_000, variant: $0 % 10) }
            // Captured during the last minute: that one is still open.
            _ = try await warehouse.loadKlines(
                candles, symbol: btc, interval: .oneMinute, capturedAt: start + 9 * 60_000 + 30_000, object: object("r"))
            let closed = try await warehouse.recentKlines(
                symbol: btc, interval: .oneMinute, endingAt: .max, includeOpen: false, limit: 3)
            try require(closed.map(\.kline) == Array(candles[6..<9]), "newest closed \(closed.map(\.kline.openTime))")
            let withOpen = try await warehouse.recentKlines(
                symbol: btc, interval: .oneMinute, endingAt: .max, includeOpen: true, limit: 2)
            try require(withOpen.map(\.kline.openTime) == [candles[8].openTime, candles[9].openTime], "with open")
            try require(withOpen.map(\.isFinal) == [true, false], "finality")
            let earlier = try await warehouse.recentKlines(
                symbol: btc, interval: .oneMinute, endingAt: start + 60_000, includeOpen: false, limit: 5)
            try require(earlier.map(\.kline) == Array(candles[0..<2]), "ending at")
            try await warehouse.ping()
        },
        ConformanceCheck("hourly and daily roll-ups follow Binance's rule and are incremental") { warehouse in
            let hour: Int64 = 1_704_067_200_000  // 2024-01-01T00:00Z
            // Hour one: traded minutes with an empty one in between; hour two: no trade at all.
            var minutes = (0..<60).map { kline(hour + Int64($0) * 60_000, variant: $0 % 10) }
            var empty = minutes[59]
            empty.openTime = hour + 30 * 60_000
            empty.closeTime = empty.openTime + 59_999
            (empty.open, empty.high, empty.low) = (empty.close, empty.close, empty.close)
            (empty.volume, empty.quoteVolume, empty.tradeCount) = (.zero, .zero, 0)
            (empty.takerBuyBaseVolume, empty.takerBuyQuoteVolume) = (.zero, .zero)
            minutes[30] = empty
            for minute in 60..<120 {
                var quiet = empty
                quiet.openTime = hour + Int64(minute) * 60_000
                quiet.closeTime = quiet.openTime + 59_999
                minutes.append(quiet)
            }
            _ = try await warehouse.loadKlines(
                minutes, symbol: btc, interval: .oneMinute, capturedAt: hour + 7_210_000, object: object("2024-01-01/r.json"))
            try require(try await warehouse.rollUpPending() == RollupReport(hours: 2, days: 1), "first roll-up")
            let hours = try await warehouse.klines(symbol: btc, interval: .oneHour, from: 0, to: .max, includeOpen: true, limit: nil)
            let expected = [
                KlineRollup.combine(minutes[0..<60], openTime: hour, closeTime: hour + 3_599_999),
                KlineRollup.combine(minutes[60..<120], openTime: hour + 3_600_000, closeTime: hour + 7_199_999),
            ]
            try require(hours.map(\.kline) == expected.compactMap { $0 }, "hourly candles differ from the rule")
            try require(hours.allSatisfy(\.isFinal), "complete hours not final")
            try require(hours[1].kline.open == empty.close && hours[1].kline.volume.isZero, "empty hour not at the previous close")
            let days = try await warehouse.klines(symbol: btc, interval: .oneDay, from: 0, to: .max, includeOpen: true, limit: nil)
            try require(
                days.map(\.kline)
                    == [KlineRollup.combine(expected.compactMap { $0 }, openTime: hour, closeTime: hour + 86_399_999)].compactMap { $0 },
                "daily candle")
            try require(days.count == 1 && !days[0].isFinal, "an incomplete day is final")
            try require(
                try await warehouse.klines(symbol: btc, interval: .oneDay, from: 0, to: .max, includeOpen: false, limit: nil).isEmpty,
                "open day exported")
            // Nothing changed: nothing to recompute, even after reloading the same object.
            try require(try await warehouse.rollUpPending() == RollupReport(), "second roll-up did work")
            _ = try await warehouse.loadKlines(
                minutes, symbol: btc, interval: .oneMinute, capturedAt: hour + 7_210_000, object: object("2024-01-01/r.json"))
            try require(try await warehouse.rollUpPending() == RollupReport(), "unchanged reload caused work")
            try await warehouse.markAllForRollup(symbol: nil)
            try require(try await warehouse.rollUpPending() == RollupReport(hours: 2, days: 1), "rebuild")
            try require(
                try await warehouse.klines(symbol: btc, interval: .oneHour, from: 0, to: .max, includeOpen: true, limit: nil) == hours,
                "rebuild changed rows")
            try require((try await warehouse.tableCounts())["hourly_klines"] == 2, "hourly count")
        },
        ConformanceCheck("bulk imports store the same candles and roll-ups as loads, even over stored minutes") { warehouse in
            let day: Int64 = 1_704_067_200_000
            // Two and a half hours, with empty minutes, starting mid-hour: the edge hours must come from stored rows.
            let minutes = (30..<180).map { index in
                index % 7 == 0 ? emptyKline(day + Int64(index) * 60_000) : kline(day + Int64(index) * 60_000, variant: index % 5)
            }
            let capturedAt = day + 86_400_000
            // Minutes 0..<30 of the first hour were loaded earlier by the extractor.
            let earlier = (0..<30).map { kline(day + Int64($0) * 60_000, variant: 3) }
            _ = try await warehouse.loadKlines(earlier, symbol: btc, interval: .oneMinute, capturedAt: capturedAt, object: object("a"))
            let results = try await warehouse.importKlines([
                KlineImport(
                    batch: KlineBatch(minutes), symbol: btc, capturedAt: capturedAt,
                    object: ProcessedObject(bucket: "import", key: "import/BTCUSDT/x.zip#1", processedAt: 1))
            ])
            try require(results == [LoadResult(rowsWritten: 150, rowsUnchanged: 0)], "import result \(results)")
            _ = try await warehouse.rollUpPending()
            let all = earlier + minutes
            let stored = try await warehouse.klines(symbol: btc, interval: .oneMinute, from: 0, to: .max, includeOpen: false, limit: nil)
            try require(stored.map(\.kline) == all, "imported minutes differ")
            let hours = try await warehouse.klines(symbol: btc, interval: .oneHour, from: 0, to: .max, includeOpen: true, limit: nil)
            let expected = (0..<3).compactMap { hour in
                KlineRollup.combine(
                    all.filter { ($0.openTime - day) / 3_600_000 == Int64(hour) }, openTime: day + Int64(hour) * 3_600_000,
                    closeTime: day + Int64(hour + 1) * 3_600_000 - 1, partDuration: 60_000)
            }
            try require(hours.map(\.kline) == expected, "hours differ from the minutes' roll-up")
            try require(
                (try await warehouse.processedObjectKeys(withPrefix: "import/")) == ["import/BTCUSDT/x.zip#1"], "ledger entry missing")
            // The same file again, ledger or not: nothing changes.
            let again = try await warehouse.importKlines([
                KlineImport(
                    batch: KlineBatch(minutes), symbol: btc, capturedAt: capturedAt,
                    object: ProcessedObject(bucket: "import", key: "import/BTCUSDT/x.zip#1", processedAt: 2))
            ])
            try require(again == [LoadResult(rowsWritten: 0, rowsUnchanged: 150)], "re-import \(again)")
            try require((try await warehouse.rollUpPending()) == RollupReport(), "re-import left work")
        },
    ]
    /// OrderBookStore.
    static let orderBookChecks: [ConformanceCheck<any Warehouse>] = [
        ConformanceCheck("order books load exactly and idempotently") { warehouse in
            func d(_ text: String) -> ExactDecimal { try! ExactDecimal(parsing: text) }
            let book = OrderBookSnapshot(
                lastUpdateId: 99, bids: [.init(price: d("100.5"), quantity: d("0.00000001")), .init(price: d("100.4"), quantity: d("3"))],
                asks: [.init(price: d("100.6"), quantity: d("99999999999.99999999"))])
            let first = try await warehouse.loadOrderBook(book, symbol: btc, capturedAt: 5, object: object("2024-01-01/d.json"))
            try require(first == LoadResult(rowsWritten: 3, rowsUnchanged: 0), "first \(first)")
            let second = try await warehouse.loadOrderBook(book, symbol: btc, capturedAt: 5, object: object("2024-01-01/d.json"))
            try require(second == LoadResult(rowsWritten: 0, rowsUnchanged: 3), "second \(second)")
            let summary = try await warehouse.dataSummary().first { $0.type == .depth }
            try require(summary?.rows == 1 && summary?.last == 5, "depth summary \(String(describing: summary))")
        },
        ConformanceCheck("the latest order book comes back best first, exactly") { warehouse in
            func level(_ price: String, _ quantity: String) -> PriceLevel {
                PriceLevel(price: try! ExactDecimal(parsing: price), quantity: try! ExactDecimal(parsing: quantity))
            }
            try require(try await warehouse.latestOrderBook(symbol: btc, levels: 20) == nil, "book before any load")
            let older = OrderBookSnapshot(lastUpdateId: 1, bids: [level("1", "1")], asks: [level("2", "1")])
            let newer = OrderBookSnapshot(
                lastUpdateId: 7, bids: [level("43000.01", "0.5"), level("42999.99", "1.25"), level("42990", "3")],
                asks: [level("43000.02", "0.00000001"), level("43001", "2")])
            let loaded = try await warehouse.loadOrderBook(older, symbol: btc, capturedAt: 1_000, object: object("b1"))
            try require(loaded == LoadResult(rowsWritten: 2, rowsUnchanged: 0), "book load \(loaded)")
            _ = try await warehouse.loadOrderBook(newer, symbol: btc, capturedAt: 2_000, object: object("b2"))
            let book = try await warehouse.latestOrderBook(symbol: btc, levels: 2)
            try require(
                book
                    == StoredOrderBook(
                        symbol: btc, capturedAt: 2_000, lastUpdateId: 7, bids: Array(newer.bids.prefix(2)), asks: newer.asks),
                "latest book \(String(describing: book))")
            try require(try await warehouse.latestOrderBook(symbol: eth, levels: 20) == nil, "another symbol's book")
        },
        ConformanceCheck("a book without levels is not stored: the newest book stays the newest one with levels") { warehouse in
            let book = OrderBookSnapshot(
                lastUpdateId: 1, bids: [PriceLevel(price: ExactDecimal(1), quantity: ExactDecimal(1))], asks: [])
            _ = try await warehouse.loadOrderBook(book, symbol: btc, capturedAt: 1_000, object: object("b1"))
            let empty = try await warehouse.loadObjects([
                .orderBook(OrderBookSnapshot(lastUpdateId: 2, bids: [], asks: []), symbol: btc, capturedAt: 2_000, object: object("b2"))
            ])
            try require(empty == [LoadResult(rowsWritten: 0, rowsUnchanged: 0)], "empty book \(empty)")
            try require(try await warehouse.latestOrderBook(symbol: btc, levels: 5)?.capturedAt == 1_000, "latest")
            try require(try await warehouse.processedObjectKeys(among: ["b2"]) == ["b2"], "the empty book's object is processed")
        },
        ConformanceCheck("odd books come back exactly: a repeated price keeps its first level, huge and negative values") { warehouse in
            func level(_ price: String, _ quantity: String) -> PriceLevel {
                PriceLevel(price: try! ExactDecimal(parsing: price), quantity: try! ExactDecimal(parsing: quantity))
            }
            // Unsorted, with a price twice: still one snapshot, its levels as they came minus the repeat.
            let unsorted = OrderBookSnapshot(
                lastUpdateId: 3, bids: [level("10", "1"), level("12.5", "2"), level("10", "9"), level("0", "0")],
                asks: [level("13", "0.00000001"), level("11", "4")])
            let loaded = try await warehouse.loadOrderBook(unsorted, symbol: btc, capturedAt: 1_000, object: object("o1"))
            try require(loaded == LoadResult(rowsWritten: 5, rowsUnchanged: 1), "load \(loaded)")
            let first = try await warehouse.latestOrderBook(symbol: btc, levels: 10)
            try require(
                first?.bids == [level("10", "1"), level("12.5", "2"), level("0", "0")] && first?.asks == unsorted.asks,
                "unsorted book \(String(describing: first))")
            // Beyond what the compact form holds (and negative): kept as decimal text.
            let huge = OrderBookSnapshot(
                lastUpdateId: Int64.max, bids: [level("99999999999999999999999999999.99999999", "1"), level("-5", "2")],
                asks: [level("1", "46116860184.27387904")])
            _ = try await warehouse.loadOrderBook(huge, symbol: btc, capturedAt: 2_000, object: object("o2"))
            let second = try await warehouse.latestOrderBook(symbol: btc, levels: 10)
            try require(
                second == StoredOrderBook(symbol: btc, capturedAt: 2_000, lastUpdateId: Int64.max, bids: huge.bids, asks: huge.asks),
                "huge book \(String(describing: second))")
            let counts = try await warehouse.tableCounts()
            try require(counts["fact_orderbook"] == 8, "levels counted \(counts)")
        },
    ]
    /// ObjectBatchLoader.
    static let objectBatchLoaderChecks: [ConformanceCheck<any Warehouse>] = [
        openMinuteInAPageCheck,
        ConformanceCheck("a batch loads as its objects would one by one, in order") { warehouse in
            try require(try await warehouse.loadObjects([]).isEmpty, "empty batch")
            let minute: Int64 = 1_704_067_200_000
            var open = kline(minute + 60_000, variant: 1)
            open.closeTime = minute + 119_999
            let book = OrderBookSnapshot(
                lastUpdateId: 5, bids: [PriceLevel(price: ExactDecimal(2), quantity: ExactDecimal(1))],
                asks: [
                    PriceLevel(price: ExactDecimal(3), quantity: ExactDecimal(1)),
                    PriceLevel(price: ExactDecimal(4), quantity: ExactDecimal(2)),
                ])
            let results = try await warehouse.loadObjects([
                // The minute that closed and the one still open, captured 3 s into the second.
                .klines([kline(minute), open], symbol: btc, interval: .oneMinute, capturedAt: minute + 63_000, object: object("k1")),
                .orderBook(book, symbol: btc, capturedAt: minute + 61_700, object: object("d1")),
                // A minute later: the open one is final now and replaces its open copy; the closed one is as it was.
                .klines(
                    [kline(minute), kline(minute + 60_000, variant: 2)], symbol: btc, interval: .oneMinute, capturedAt: minute + 123_000,
                    object: object("k2")),
                // The same capture of the book under another name changes nothing.
                .orderBook(book, symbol: btc, capturedAt: minute + 61_700, object: object("d2")),
            ])
            try require(
                results == [
                    LoadResult(rowsWritten: 2, rowsUnchanged: 0), LoadResult(rowsWritten: 3, rowsUnchanged: 0),
                    LoadResult(rowsWritten: 1, rowsUnchanged: 1), LoadResult(rowsWritten: 0, rowsUnchanged: 3),
                ], "results \(results)")
            let stored = try await warehouse.klines(symbol: btc, interval: .oneMinute, from: 0, to: .max, includeOpen: true, limit: nil)
            try require(
                stored.map(\.kline) == [kline(minute), kline(minute + 60_000, variant: 2)] && stored.allSatisfy(\.isFinal),
                "stored \(stored)")
            try require(try await warehouse.latestOrderBook(symbol: btc, levels: 10)?.asks == book.asks, "book")
            try require(
                try await warehouse.processedObjectKeys(among: ["k1", "d2", "k3", "d1"]) == ["k1", "d1", "d2"], "ledger after the batch")
            let rolled = try await warehouse.rollUpPending()
            try require(rolled.hours == 1 && rolled.days == 1, "roll-ups of the batch's minutes \(rolled)")
        },
        ConformanceCheck("pages prepared as batches store what plain pages store, into empty and into filled ranges") { warehouse in
            let day: Int64 = 1_704_067_200_000
            // Three and a half hours from mid-hour, with empty minutes and the last minute still open when captured.
            let capturedAt = day + 215 * 60_000 + 30_000
            let page = (30..<216).map { index in
                index % 7 == 0 ? emptyKline(day + Int64(index) * 60_000) : kline(day + Int64(index) * 60_000, variant: index % 5)
            }
            // A later page over the same range: its open minute is final now, the others must stay as first stored.
            let later = (200..<240).map { kline(day + Int64($0) * 60_000, variant: 4) }
            func loads(_ symbol: Symbol, prepared: Bool) -> [[ObjectLoad]] {
                [
                    [
                        .klines(
                            page, batch: prepared ? KlineBatch(page) : nil, symbol: symbol, interval: .oneMinute, capturedAt: capturedAt,
                            object: object("\(symbol)-1"))
                    ],
                    [
                        .klines(
                            later, batch: prepared ? KlineBatch(later) : nil, symbol: symbol, interval: .oneMinute,
                            capturedAt: day + 86_400_000, object: object("\(symbol)-2"))
                    ],
                ]
            }
            var results: [Symbol: [LoadResult]] = [:]
            for (symbol, prepared) in [(btc, false), (eth, true)] {
                for batch in loads(symbol, prepared: prepared) {
                    results[symbol, default: []] += try await warehouse.loadObjects(batch)
                    _ = try await warehouse.rollUpPending()
                }
            }
            try require(results[eth] == results[btc], "results \(results)")
            for interval in [Interval.oneMinute, .oneHour, .oneDay] {
                let plain = try await warehouse.klines(symbol: btc, interval: interval, from: 0, to: .max, includeOpen: true, limit: nil)
                let batched = try await warehouse.klines(symbol: eth, interval: interval, from: 0, to: .max, includeOpen: true, limit: nil)
                try require(!plain.isEmpty && batched == plain, "\(interval.rawValue): \(batched.count) prepared, \(plain.count) plain")
            }
            let minutes = try await warehouse.klines(symbol: eth, interval: .oneMinute, from: 0, to: .max, includeOpen: true, limit: nil)
            try require(minutes.count == 210 && minutes.allSatisfy(\.isFinal), "minutes \(minutes.count)")
            // Both paths may take hours from a page's own roll-ups: the reference is the roll-up of the stored minutes.
            let hours = try await warehouse.klines(symbol: eth, interval: .oneHour, from: 0, to: .max, includeOpen: true, limit: nil)
            let expected = (0..<4).compactMap { hour in
                let open = day + Int64(hour) * 3_600_000
                return KlineRollup.combine(
                    minutes.map(\.kline).filter { $0.openTime >= open && $0.openTime < open + 3_600_000 }, openTime: open,
                    closeTime: open + 3_599_999, partDuration: 60_000)
            }
            try require(hours.map(\.kline) == expected, "hours differ from the stored minutes' roll-up")
            try require(
                minutes[169].kline == page[169] && minutes[170].kline == page[170] && minutes[185].kline == later[15],
                "a final minute was rewritten, or the open one was not")
        },
        ConformanceCheck("a prepared page of minutes far apart does not take the hour of stored minutes between them") { warehouse in
            let hour: Int64 = 1_704_067_200_000
            let inner = (1..<59).map { kline(hour + Int64($0) * 60_000, variant: $0 % 5) }
            _ = try await warehouse.loadObjects([
                .klines(inner, symbol: btc, interval: .oneMinute, capturedAt: hour + 7_200_000, object: object("inner"))
            ])
            _ = try await warehouse.rollUpPending()
            // The hour's first and last minute, 59 minutes apart: looked up by key, they find nothing stored.
            let edges = [kline(hour, variant: 7), kline(hour + 59 * 60_000, variant: 8)]
            _ = try await warehouse.loadObjects([
                .klines(
                    edges, batch: KlineBatch(edges), symbol: btc, interval: .oneMinute, capturedAt: hour + 7_200_000,
                    object: object("edges"))
            ])
            _ = try await warehouse.rollUpPending()
            let all = [edges[0]] + inner + [edges[1]]
            let expected = KlineRollup.combine(all[...], openTime: hour, closeTime: hour + 3_599_999, partDuration: 60_000)
            let hours = try await warehouse.klines(symbol: btc, interval: .oneHour, from: 0, to: .max, includeOpen: true, limit: nil)
            try require(
                hours.map(\.kline) == [expected].compactMap { $0 } && hours.allSatisfy(\.isFinal), "hour \(hours.map(\.kline))")
        },
    ]

    /// A page whose minute closes far in the future (stored open) is no complete hour, though the minutes after it
    /// are final: when the minute's final copy comes, the hour is its minutes' hour.
    static let openMinuteInAPageCheck = ConformanceCheck<any Warehouse>(
        "an hour with a minute still open is rolled up from the minutes once it closes, not from the page"
    ) { warehouse in
        let hour: Int64 = 1_704_067_200_000
        var minutes = (0..<60).map { kline(hour + Int64($0) * 60_000, variant: $0 % 5) }
        var open = minutes[5]
        open.closeTime = hour + 400 * 86_400_000
        minutes[5] = open
        _ = try await warehouse.loadObjects([
            .klines(minutes, symbol: btc, interval: .oneMinute, capturedAt: hour + 3_700_000, object: object("p1"))
        ])
        var final = kline(hour + 5 * 60_000, variant: 9)
        final.close = ExactDecimal(12_345)
        _ = try await warehouse.loadObjects([
            .klines([final], symbol: btc, interval: .oneMinute, capturedAt: hour + 3_800_000, object: object("p2"))
        ])
        _ = try await warehouse.rollUpPending()
        var stored = minutes
        stored[5] = final
        let expected = KlineRollup.combine(stored[...], openTime: hour, closeTime: hour + 3_599_999)
        let hours = try await warehouse.klines(symbol: btc, interval: .oneHour, from: 0, to: .max, includeOpen: true, limit: nil)
        try require(hours.map(\.kline) == [expected].compactMap { $0 }, "hour \(hours.map(\.kline))")
    }

    /// ObjectLedger.
    static let objectLedgerChecks: [ConformanceCheck<any Warehouse>] = [
        ConformanceCheck("processed objects are found among given keys, however many") { warehouse in
            try require(try await warehouse.processedObjectKeys(among: []).isEmpty, "no keys")
            let keys = (0..<1_203).map { "2024-01-01/BTCUSDT_klines_\($0).json" }
            for key in keys where key.hasSuffix("7.json") {
                _ = try await warehouse.loadKlines([], symbol: btc, interval: .oneMinute, capturedAt: 1, object: object(key))
            }
            let found = try await warehouse.processedObjectKeys(among: keys + ["2024-01-02/x.json", "'; DROP TABLE x; --"])
            try require(found == Set(keys.filter { $0.hasSuffix("7.json") }), "found \(found.count)")
        },
        ConformanceCheck("processed objects are listed by prefix") { warehouse in
            _ = try await warehouse.loadKlines(
                [], symbol: btc, interval: .oneMinute, capturedAt: 1, object: object("2024-01-01/BTCUSDT_klines_1.json"))
            _ = try await warehouse.loadOrderBook(
                OrderBookSnapshot(lastUpdateId: 1, bids: [], asks: []), symbol: btc, capturedAt: 2,
                object: object("2024-01-02/BTCUSDT_depth_2.json"))
            try require(
                try await warehouse.processedObjectKeys(withPrefix: "2024-01-01/") == ["2024-01-01/BTCUSDT_klines_1.json"], "day prefix")
            try require(try await warehouse.processedObjectKeys(withPrefix: "").count == 2, "all")
            try require(try await warehouse.processedObjectKeys(withPrefix: "2024-01-03/").isEmpty, "other day")
        },
        ConformanceCheck("archived files are marked, still count as processed, and are forgotten by age") { warehouse in
            for key in ["2024-01-01/BTCUSDT_klines_1.json", "2024-01-05/BTCUSDT_klines_2.json", "2024-01-09/BTCUSDT_klines_3.json"] {
                _ = try await warehouse.loadKlines([], symbol: btc, interval: .oneMinute, capturedAt: 1, object: object(key))
            }
            try await warehouse.markArchived(
                keys: ["2024-01-01/BTCUSDT_klines_1.json", "2024-01-05/BTCUSDT_klines_2.json", "2024-01-07/unknown.json"],
                bucket: "crypto-archive")
            try require(try await warehouse.ledgerSummary().archivedFiles == 2, "archived count")
            try require(try await warehouse.processedObjectKeys(withPrefix: "2024-01-01/").count == 1, "archived still processed")
            try require(try await warehouse.forgetArchivedFiles(before: "2024-01-03/") == 1, "forgot one")
            try require(
                try await warehouse.processedObjectKeys(withPrefix: "")
                    == ["2024-01-05/BTCUSDT_klines_2.json", "2024-01-09/BTCUSDT_klines_3.json"], "left in the ledger")
            // Unarchived rows are never forgotten, whatever their age.
            try require(try await warehouse.forgetArchivedFiles(before: "2024-01-10/") == 1, "only archived rows")
            try require(try await warehouse.processedObjectKeys(withPrefix: "") == ["2024-01-09/BTCUSDT_klines_3.json"], "raw kept")
        },
        ConformanceCheck("rejections are recorded with their destination and reason, the latest one per object") { warehouse in
            try await warehouse.recordRejected(
                objectKey: "2024-01-01/x.json", movedTo: "crypto-raw/_rejected/2024-01-01/x.json", reason: "bad", at: 1)
            try await warehouse.recordRejected(
                objectKey: "2024-01-01/y.json", movedTo: "crypto-raw/_rejected/2024-01-01/y.json", reason: "not JSON: line 1", at: 1)
            try await warehouse.recordRejected(
                objectKey: "2024-01-01/x.json", movedTo: "crypto-raw/_rejected/again/2024-01-01/x.json", reason: "bad again", at: 2)
            try require((try await warehouse.tableCounts())["rejected_files"] == 2, "rejected count")
            try require(try await warehouse.ledgerSummary().rejectedFiles == 2, "ledger summary's rejected count")
            let x = try await rejection(of: "2024-01-01/x.json", in: warehouse)
            try require(
                x == RejectedRow(movedTo: "crypto-raw/_rejected/again/2024-01-01/x.json", reason: "bad again", rejectedAt: 2),
                "the second rejection of x did not replace the first: \(String(describing: x))")
            let y = try await rejection(of: "2024-01-01/y.json", in: warehouse)
            try require(
                y == RejectedRow(movedTo: "crypto-raw/_rejected/2024-01-01/y.json", reason: "not JSON: line 1", rejectedAt: 1),
                "y: \(String(describing: y))")
        },
        ConformanceCheck("the ledger summary counts files, rows and duplicates skipped") { warehouse in
            let candles = (0..<4).map { kline(1_704_067_200_000 + Int64($0) * 60_000) }
            _ = try await warehouse.loadKlines(candles, symbol: btc, interval: .oneMinute, capturedAt: .max / 2, object: object("l1"))
            _ = try await warehouse.loadKlines(
                Array(candles[2...]) + [kline(1_704_067_200_000 + 4 * 60_000)], symbol: btc, interval: .oneMinute, capturedAt: .max / 2,
                object: ProcessedObject(bucket: "crypto-raw", key: "l2", processedAt: 5))
            try await warehouse.recordRejected(objectKey: "bad", movedTo: "x", reason: "r", at: 1)
            let summary = try await warehouse.ledgerSummary()
            try require(
                summary
                    == LedgerSummary(
                        processedFiles: 2, processedRows: 7, duplicatesSkipped: 2, archivedFiles: 0, rejectedFiles: 1, lastProcessedAt: 5),
                "summary \(summary)")
        },
    ]
    /// ExtractionLedger.
    static let extractionLedgerChecks: [ConformanceCheck<any Warehouse>] = [
        ConformanceCheck("extraction metadata only moves forward and counts records") { warehouse in
            try require(try await warehouse.extractionState(symbol: btc, type: .klines) == nil, "state before any fetch")
            try await warehouse.recordExtraction(.init(symbol: btc, type: .klines, fetchTime: 100, lastOpenTime: 60_000, records: 10))
            try await warehouse.recordExtraction(.init(symbol: btc, type: .klines, fetchTime: 200, lastOpenTime: nil, records: 1))
            try await warehouse.recordExtraction(.init(symbol: btc, type: .klines, fetchTime: 150, lastOpenTime: 0, records: 2))
            let state = try await warehouse.extractionState(symbol: btc, type: .klines)
            try require(
                state == ExtractionState(symbol: btc, type: .klines, lastFetchTime: 200, lastOpenTime: 60_000, recordCount: 13),
                "state \(String(describing: state))")
            try require(try await warehouse.extractionState(symbol: btc, type: .depth) == nil, "depth state leaked")
        }
    ]
    /// GapStore.
    static let gapStoreChecks: [ConformanceCheck<any Warehouse>] = [
        ConformanceCheck("missing minutes are found and the gap ledger keeps exchange-empty ranges closed") { warehouse in
            let day: Int64 = 1_704_067_200_000
            let present = (0..<100).filter { !(10..<13).contains($0) && $0 != 50 }
            _ = try await warehouse.loadKlines(
                present.map { kline(day + Int64($0) * 60_000) }, symbol: btc, interval: .oneMinute, capturedAt: day + 86_400_000,
                object: object("g"))
            let missing = try await warehouse.missingMinutes(symbol: btc)
            let expected = [
                MinuteRange(from: day + 600_000, to: day + 720_000), MinuteRange(from: day + 3_000_000, to: day + 3_000_000),
            ]
            try require(missing == expected, "missing \(missing)")
            try require(try await warehouse.missingMinutes(symbol: eth).isEmpty, "gaps for a symbol without data")
            try await warehouse.recordGaps(symbol: btc, missing: missing, at: 1)
            try await warehouse.setGap(symbol: btc, range: expected[1], status: .exchangeEmpty, at: 2)
            // The first gap is loaded; the second is still missing but must stay exchange-empty.
            _ = try await warehouse.loadKlines(
                (10..<13).map { kline(day + Int64($0) * 60_000) }, symbol: btc, interval: .oneMinute, capturedAt: day + 86_400_000,
                object: object("h"))
            try await warehouse.recordGaps(symbol: btc, missing: try await warehouse.missingMinutes(symbol: btc), at: 3)
            let gaps = try await warehouse.gaps(symbol: nil)
            try require(gaps.map(\.status) == [.filled, .exchangeEmpty], "statuses \(gaps.map(\.status))")
            try require(gaps.map(\.range) == expected && gaps[0].detectedAt == 1 && gaps[0].updatedAt == 3, "ledger \(gaps)")
        }
    ]
    /// LeaseStore: heartbeats and compare-and-set leases.
    static let leaseStoreChecks: [ConformanceCheck<any Warehouse>] = [
        ConformanceCheck("a lease has one holder until it expires or is released; renewals keep it") { warehouse in
            let names = ["symbol/BTCUSDT", "symbol/ETHUSDT", "job/transform"]
            try require(try await warehouse.acquireLeases(names, holder: "a", at: 1_000, milliseconds: 500) == Set(names), "a takes all")
            try require(try await warehouse.acquireLeases(names, holder: "b", at: 1_400, milliseconds: 500).isEmpty, "b while a holds")
            // a renews one; the others expire at 1,500.
            try require(
                try await warehouse.renewLeases(["symbol/BTCUSDT"], holder: "a", at: 1_450, milliseconds: 500) == ["symbol/BTCUSDT"],
                "renewal")
            let taken = try await warehouse.acquireLeases(names, holder: "b", at: 1_600, milliseconds: 500)
            try require(taken == ["symbol/ETHUSDT", "job/transform"], "b takes the expired ones: \(taken)")
            // a lost ETHUSDT: renewing it says so.
            let renewed = try await warehouse.renewLeases(["symbol/BTCUSDT", "symbol/ETHUSDT"], holder: "a", at: 1_700, milliseconds: 500)
            try require(renewed == ["symbol/BTCUSDT"], "a keeps only BTCUSDT: \(renewed)")
            let leases = try await warehouse.leases()
            try require(
                leases
                    == [
                        Lease(name: "job/transform", holder: "b", acquiredAt: 1_600, expiresAt: 2_100),
                        Lease(name: "symbol/BTCUSDT", holder: "a", acquiredAt: 1_000, expiresAt: 2_200),
                        Lease(name: "symbol/ETHUSDT", holder: "b", acquiredAt: 1_600, expiresAt: 2_100),
                    ], "leases \(leases)")
            // Releasing another's lease changes nothing; releasing one's own frees it at once.
            try await warehouse.releaseLeases(["symbol/BTCUSDT"], holder: "b")
            try await warehouse.releaseLeases(nil, holder: "b")
            let freed = try await warehouse.acquireLeases(names, holder: "c", at: 1_800, milliseconds: 500)
            try require(freed == ["symbol/ETHUSDT", "job/transform"], "c takes what b released: \(freed)")
            try require(try await warehouse.leases().first { $0.name == "symbol/BTCUSDT" }?.holder == "a", "a still holds BTCUSDT")
        },
        ConformanceCheck("worker heartbeats are replaced, forgotten after a day and removed") { warehouse in
            let a = WorkerRecord(id: "host-1", host: "host", processID: 1, startedAt: 10, heartbeatAt: 10, leaseMilliseconds: 15_000)
            var b = WorkerRecord(id: "host-2", host: "host", processID: 2, startedAt: 20, heartbeatAt: 20, leaseMilliseconds: 15_000)
            try await warehouse.heartbeat(a, forgetBefore: 0)
            try await warehouse.heartbeat(b, forgetBefore: 0)
            b.heartbeatAt = 100_000
            try await warehouse.heartbeat(b, forgetBefore: 50)
            let workers = try await warehouse.workers()
            try require(workers == [b], "a forgotten, b replaced: \(workers)")
            try require(b.isLive(at: 115_000) && !b.isLive(at: 115_001), "liveness")
            try await warehouse.removeWorker(id: "host-2")
            try require(try await warehouse.workers().isEmpty, "removed")
        },
        ConformanceCheck("a worker's start closes only the running job runs of workers that are gone") { warehouse in
            let live = try await warehouse.startJobRun(job: "gap-fill", trigger: .schedule, at: 1, worker: "live-worker")
            let dead = try await warehouse.startJobRun(job: "extract-transform", trigger: .schedule, at: 2, worker: "dead-worker")
            let closed = try await warehouse.abandonRunningJobRuns(at: 3, reason: "interrupted", sparing: ["live-worker", "me"])
            try require(closed == 1, "closed \(closed)")
            let runs = try await warehouse.jobRuns(JobRunQuery()).runs
            try require(
                runs.first { $0.id == live }?.status == .running && runs.first { $0.id == dead }?.status == .failed
                    && runs.first { $0.id == live }?.worker == "live-worker", "runs \(runs)")
        },
    ]

    /// JobRunStore and SettingsStore.
    static let jobRunStoreChecks: [ConformanceCheck<any Warehouse>] = [
        ConformanceCheck("job runs are logged, paged newest first, filtered and closed after a crash") { warehouse in
            let first = try await warehouse.startJobRun(job: "extract-transform", trigger: .schedule, at: 1_000)
            try await warehouse.finishJobRun(
                id: first, at: 1_500, outcome: JobRunOutcome(status: .succeeded, files: 4, rows: 120, error: nil))
            let second = try await warehouse.startJobRun(job: "maintenance", trigger: .manual, at: 2_000)
            try await warehouse.finishJobRun(id: second, at: 2_100, outcome: JobRunOutcome(status: .failed, error: "disk full"))
            let third = try await warehouse.startJobRun(job: "extract-transform", trigger: .schedule, at: 3_000)
            let all = try await warehouse.jobRuns(JobRunQuery(page: 1, pageSize: 2))
            try require(all.total == 3 && all.runs.map(\.id) == [third, second], "first page \(all)")
            try require(all.runs[0].status == .running && all.runs[0].finishedAt == nil, "running run")
            try require(
                all.runs[1]
                    == JobRun(
                        id: second, job: "maintenance", trigger: .manual, startedAt: 2_000, finishedAt: 2_100, status: .failed, files: 0,
                        rows: 0, error: "disk full"), "failed run \(all.runs[1])")
            let page2 = try await warehouse.jobRuns(JobRunQuery(page: 2, pageSize: 2))
            try require(page2.runs.map(\.id) == [first] && page2.runs[0].files == 4 && page2.runs[0].rows == 120, "second page")
            let filtered = try await warehouse.jobRuns(JobRunQuery(job: "extract-transform", status: .succeeded))
            try require(filtered.total == 1 && filtered.runs.map(\.id) == [first], "filtered \(filtered)")
            let latest = try await warehouse.latestJobRuns()
            try require(latest["extract-transform"]?.id == third && latest["maintenance"]?.id == second, "latest \(latest)")
            try require(try await warehouse.abandonRunningJobRuns(at: 4_000, reason: "interrupted") == 1, "abandoned count")
            let closed = try await warehouse.jobRuns(JobRunQuery(status: .running))
            try require(closed.total == 0, "runs still running")
            try require((try await warehouse.latestJobRuns())["extract-transform"]?.error == "interrupted", "abandon reason")
        },
        ConformanceCheck("schedules and settings persist and are replaced") { warehouse in
            let fresh = (try await warehouse.jobSchedules(), try await warehouse.setting("symbols"))
            try require(fresh.0.isEmpty && fresh.1 == nil, "fresh state")
            let every = StoredJobSchedule(
                job: "gap-fill", enabled: true, intervalSeconds: 3_600, weekday: nil, minuteOfDay: nil, updatedAt: 1)
            let weekly = StoredJobSchedule(
                job: "maintenance", enabled: false, intervalSeconds: nil, weekday: 0, minuteOfDay: 120, updatedAt: 2)
            try await warehouse.saveJobSchedule(weekly)
            try await warehouse.saveJobSchedule(every)
            var changed = every
            changed.enabled = false
            changed.intervalSeconds = 600
            try await warehouse.saveJobSchedule(changed)
            try require(try await warehouse.jobSchedules() == [changed, weekly], "schedules")
            try await warehouse.saveSetting("symbols", value: "BTCUSDT", at: 1)
            try await warehouse.saveSetting("symbols", value: "BTCUSDT,ETHUSDT", at: 2)
            try require(try await warehouse.setting("symbols") == "BTCUSDT,ETHUSDT", "setting")
            try await warehouse.saveSetting("stream.status/a", value: "1", at: 3)
            try await warehouse.saveSetting("stream.status/b", value: "2", at: 3)
            try await warehouse.saveSetting("stream.statusx", value: "3", at: 3)
            let prefixed = try await warehouse.settings(withPrefix: "stream.status/")
            try require(prefixed == ["stream.status/a": "1", "stream.status/b": "2"], "by prefix: \(prefixed)")
            try await warehouse.deleteSetting("stream.status/a")
            try await warehouse.deleteSetting("stream.status/none")
            let left = try await warehouse.settings(withPrefix: "stream.status/")
            try require(left == ["stream.status/b": "2"], "after a delete: \(left)")
        },
    ]
    /// WarehouseMaintenance.
    static let maintenanceChecks: [ConformanceCheck<any Warehouse>] = [
        ConformanceCheck("migrating again keeps every row, the ledger and the settings") { warehouse in
            let hour: Int64 = 1_704_067_200_000
            let candles = (0..<90).map { kline(hour + Int64($0) * 60_000, variant: $0 % 10) }
            _ = try await warehouse.loadKlines(
                candles, symbol: btc, interval: .oneMinute, capturedAt: hour + 90 * 60_000 + 30_000, object: object("2024-01-01/k.json"))
            let book = OrderBookSnapshot(
                lastUpdateId: 9, bids: [PriceLevel(price: .init(units: 100), quantity: .init(units: 2))],
                asks: [PriceLevel(price: .init(units: 101), quantity: .init(units: 3))])
            _ = try await warehouse.loadOrderBook(book, symbol: btc, capturedAt: hour + 1_000, object: object("2024-01-01/d.json"))
            try await warehouse.recordRejected(objectKey: "2024-01-01/x.json", movedTo: "crypto-raw/_rejected/x.json", reason: "r", at: 3)
            try await warehouse.markArchived(keys: ["2024-01-01/d.json"], bucket: "crypto-archive")
            try await warehouse.recordExtraction(.init(symbol: btc, type: .klines, fetchTime: 5, lastOpenTime: hour, records: 90))
            try await warehouse.recordGaps(symbol: eth, missing: [MinuteRange(from: hour, to: hour + 60_000)], at: 6)
            let run = try await warehouse.startJobRun(job: "maintenance", trigger: .manual, at: 7)
            try await warehouse.finishJobRun(id: run, at: 8, outcome: JobRunOutcome(status: .succeeded, files: 1, rows: 2))
            try await warehouse.saveJobSchedule(
                StoredJobSchedule(job: "gap-fill", enabled: false, intervalSeconds: 600, weekday: nil, minuteOfDay: nil, updatedAt: 9))
            try await warehouse.saveSetting("symbols", value: "BTCUSDT", at: 10)
            try require(try await warehouse.rollUpPending() == RollupReport(hours: 2, days: 1), "roll-up before migrating")
            let before = try await contents(of: warehouse)
            let loaded = try await warehouse.klines(symbol: btc, interval: .oneMinute, from: 0, to: .max, includeOpen: true, limit: nil)
            try require(loaded.map(\.kline) == candles, "the loaded candles are not there")
            try await warehouse.migrate()
            try await warehouse.migrate()
            let after = try await contents(of: warehouse)
            for (old, new) in zip(before, after) where old.value != new.value {
                throw ConformanceFailure("migrating again changed \(old.name): \(old.value.prefix(300)) → \(new.value.prefix(300))")
            }
            try require(try await warehouse.rollUpPending() == RollupReport(), "migrating again left roll-up work")
        },
        ConformanceCheck("retention deletes old minutes and books but never changes hours or days") { warehouse in
            let day: Int64 = 1_704_067_200_000
            let minutes = (0..<(3 * 1_440)).map { kline(day + Int64($0) * 60_000, variant: $0 % 7, trades: Int64($0 % 3)) }
            _ = try await warehouse.loadKlines(
                minutes, symbol: btc, interval: .oneMinute, capturedAt: day + 4 * 86_400_000, object: object("m"))
            let book = OrderBookSnapshot(
                lastUpdateId: 1, bids: [PriceLevel(price: .init(units: 100), quantity: .init(units: 1))],
                asks: [PriceLevel(price: .init(units: 200), quantity: .init(units: 1))])
            _ = try await warehouse.loadOrderBook(book, symbol: btc, capturedAt: day + 1_000, object: object("b1"))
            _ = try await warehouse.loadOrderBook(book, symbol: btc, capturedAt: day + 2 * 86_400_000, object: object("b2"))
            // Hours still pending when retention runs are computed before their minutes go.
            let hoursBefore = try await warehouse.klines(symbol: btc, interval: .oneHour, from: 0, to: .max, includeOpen: true, limit: nil)
            try require(hoursBefore.isEmpty, "roll-ups ran early")
            let report = try await warehouse.deleteMinuteData(before: day + 2 * 86_400_000)
            try require(report == RetentionReport(klineRows: 2 * 1_440, orderBookRows: 2), "retention report \(report)")
            let hours = try await warehouse.klines(symbol: btc, interval: .oneHour, from: 0, to: .max, includeOpen: true, limit: nil)
            let days = try await warehouse.klines(symbol: btc, interval: .oneDay, from: 0, to: .max, includeOpen: true, limit: nil)
            try require(hours.count == 72 && days.count == 3, "roll-ups lost: \(hours.count) hours, \(days.count) days")
            try await warehouse.optimize()
            // Rebuilding, or a late minute in an old hour, leaves the old hours and days as they were.
            try await warehouse.markAllForRollup(symbol: nil)
            _ = try await warehouse.loadKlines(
                [kline(day + 3_600_000 + 60_000, variant: 1)], symbol: btc, interval: .oneMinute, capturedAt: day + 4 * 86_400_000,
                object: object("late"))
            // A bulk import of an old hour with minutes missing (its range now empty, so the fast insert path) keeps
            // the stored hour too.
            let partialHour = (0..<60).filter { !(20..<30).contains($0) }.map {
                kline(day + 5 * 3_600_000 + Int64($0) * 60_000, variant: 2)
            }
            _ = try await warehouse.importKlines([
                KlineImport(
                    batch: KlineBatch(partialHour), symbol: btc, capturedAt: day + 4 * 86_400_000,
                    object: ProcessedObject(bucket: "import", key: "import/BTCUSDT/old.zip#1", processedAt: 3))
            ])
            _ = try await warehouse.rollUpPending()
            let hoursAfter = try await warehouse.klines(symbol: btc, interval: .oneHour, from: 0, to: .max, includeOpen: true, limit: nil)
            let daysAfter = try await warehouse.klines(symbol: btc, interval: .oneDay, from: 0, to: .max, includeOpen: true, limit: nil)
            try require(hoursAfter == hours && daysAfter == days, "retention changed roll-ups")
            let remaining = try await warehouse.klines(symbol: btc, interval: .oneMinute, from: 0, to: .max, includeOpen: true, limit: nil)
            try require(remaining.count == 1_441 + 50, "\(remaining.count) minutes left")
        },
    ]
    /// WarehouseOverview.
    static let overviewChecks: [ConformanceCheck<any Warehouse>] = [
        ConformanceCheck("the data version changes with every committed change") { warehouse in
            let before = try await warehouse.dataVersion()
            _ = try await warehouse.loadKlines(
                [kline(1_704_067_200_000)], symbol: btc, interval: .oneMinute, capturedAt: .max / 2, object: object("v1"))
            let afterLoad = try await warehouse.dataVersion()
            try require(afterLoad != before, "a load left the data version at \(before)")
            try await warehouse.saveSetting("symbols", value: "BTCUSDT", at: 1)
            try require(try await warehouse.dataVersion() != afterLoad, "a setting left the data version unchanged")
        },
        ConformanceCheck("heartbeats and lease writes leave the data version alone") { warehouse in
            // A worker renews every few seconds; the API's caches would otherwise start over as often.
            let before = try await warehouse.dataVersion()
            let worker = WorkerRecord(id: "v", host: "h", processID: 1, startedAt: 1, heartbeatAt: 1, leaseMilliseconds: 15_000)
            try await warehouse.heartbeat(worker, forgetBefore: 0)
            let names = [LeaseName.symbol("BTCUSDT"), LeaseName.job("transform")]
            try require(try await warehouse.acquireLeases(names, holder: "v", at: 1, milliseconds: 15_000) == Set(names), "take")
            try require(try await warehouse.renewLeases(names, holder: "v", at: 2, milliseconds: 15_000) == Set(names), "renew")
            try await warehouse.releaseLeases(nil, holder: "v")
            try await warehouse.removeWorker(id: "v")
            let after = try await warehouse.dataVersion()
            try require(after == before, "the data version went from \(before) to \(after)")
        },
        ConformanceCheck("status's summary has a line per symbol and data type, and every counted table") { warehouse in
            let minute: Int64 = 1_704_067_200_000
            _ = try await warehouse.loadKlines(
                [kline(minute), kline(minute + 60_000)], symbol: eth, interval: .oneMinute, capturedAt: minute + 90_000,
                object: object("s1"))
            let book = OrderBookSnapshot(
                lastUpdateId: 3, bids: [PriceLevel(price: .zero, quantity: .zero)], asks: [PriceLevel(price: .zero, quantity: .zero)])
            _ = try await warehouse.loadOrderBook(book, symbol: btc, capturedAt: minute, object: object("s2"))
            _ = try await warehouse.loadOrderBook(book, symbol: btc, capturedAt: minute + 5_000, object: object("s3"))
            let sol = try Symbol("SOLUSDT")
            try await warehouse.recordExtraction(
                ExtractionUpdate(symbol: sol, type: .klines, fetchTime: minute + 7, lastOpenTime: nil, records: 0))
            try await warehouse.recordExtraction(
                ExtractionUpdate(symbol: eth, type: .klines, fetchTime: minute + 90_000, lastOpenTime: minute, records: 2))
            let summaries = try await warehouse.dataSummary()
            try require(
                summaries == [
                    DataSummary(symbol: btc, type: .depth, rows: 2, first: minute, last: minute + 5_000, lastFetchTime: nil),
                    DataSummary(
                        symbol: eth, type: .klines, rows: 2, first: minute, last: minute + 60_000, lastFinal: minute,
                        lastFetchTime: minute + 90_000),
                    DataSummary(symbol: sol, type: .klines, rows: 0, first: nil, last: nil, lastFetchTime: minute + 7),
                ], "summaries \(summaries)")
            let counts = try await warehouse.tableCounts()
            try require(
                counts.keys.sorted() == WarehouseOverviewRules.countedTables.sorted() && counts["fact_klines"] == 2
                    && counts["fact_orderbook"] == 4 && counts["processed_files"] == 3 && counts["extraction_metadata"] == 2,
                "counts \(counts)")
        },
    ]

    /// Everything the protocol reads back, each part as text: for checks that an operation changed nothing.
    static func contents(of warehouse: any Warehouse) async throws -> [(name: String, value: String)] {
        var parts: [(name: String, value: String)] = []
        for symbol in [btc, eth] {
            for interval in [Interval.oneMinute, .oneHour, .oneDay] {
                let rows = try await warehouse.klines(symbol: symbol, interval: interval, from: 0, to: .max, includeOpen: true, limit: nil)
                parts.append((symbol == btc ? interval.rawValue : "\(symbol) \(interval.rawValue)", "\(rows)"))
            }
            parts.append(
                ("\(symbol) order book", "\(String(describing: try await warehouse.latestOrderBook(symbol: symbol, levels: 100)))"))
            for type in ExtractionDataType.allCases {
                parts.append(
                    ("\(symbol) \(type) state", "\(String(describing: try await warehouse.extractionState(symbol: symbol, type: type)))"))
            }
        }
        parts.append(("processed files", "\(try await warehouse.processedObjectKeys(withPrefix: "").sorted())"))
        parts.append(("ledger summary", "\(try await warehouse.ledgerSummary())"))
        parts.append(("table counts", "\(try await warehouse.tableCounts().sorted { $0.key < $1.key })"))
        parts.append(("data summary", "\(try await warehouse.dataSummary())"))
        parts.append(("gaps", "\(try await warehouse.gaps(symbol: nil))"))
        parts.append(("job runs", "\(try await warehouse.jobRuns(JobRunQuery()))"))
        parts.append(("job schedules", "\(try await warehouse.jobSchedules())"))
        parts.append(("symbols setting", "\(String(describing: try await warehouse.setting("symbols")))"))
        return parts
    }

    /// A `rejected_files` row as stored.
    struct RejectedRow: Hashable {
        var movedTo: String
        var reason: String
        var rejectedAt: Int64?
    }

    /// The stored rejection of `key`, read with SQL: the protocol only records rejections (operators query them
    /// directly), so the backend must run SQL (``SQLRunningWarehouse``). Each column is copied into a setting, which the
    /// protocol reads back.
    static func rejection(of key: String, in warehouse: any Warehouse) async throws -> RejectedRow? {
        guard let sql = warehouse as? any SQLRunningWarehouse else {
            throw ConformanceFailure("cannot read the rejected files of \(type(of: warehouse)): make it an SQLRunningWarehouse")
        }
        try require(!key.contains("'"), "a key with a quote")
        var values: [String: String] = [:]
        for (column, expression) in [("moved_to", "moved_to"), ("reason", "reason"), ("rejected_at", "CAST(rejected_at AS CHAR)")] {
            let probe = "conformance.rejected.\(column)"
            try await sql.execute(
                "INSERT INTO settings (`key`, value, updated_at) SELECT '\(probe)', \(expression), 0 FROM rejected_files "
                    + "WHERE object_key = '\(key)'")
            values[column] = try await warehouse.setting(probe)
            try await sql.execute("DELETE FROM settings WHERE `key` = '\(probe)'")
        }
        guard let movedTo = values["moved_to"], let reason = values["reason"] else { return nil }
        return RejectedRow(movedTo: movedTo, reason: reason, rejectedAt: values["rejected_at"].flatMap { Int64($0) })
    }
}
