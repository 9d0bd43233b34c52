import Analytics
import MarketData
import Testing

/// 24h statistics of extreme minutes: exact where the result fits, an error (never a trap) where it does not.
struct TickerOverflowTests {
    static func d(_ text: String) -> ExactDecimal { try! ExactDecimal(parsing: text) }

    static func minute(_ index: Int, open: String, close: String, volume: String = "1", trades: Int64 = 1) -> Kline {
        let (o, c) = (d(open), d(close))
        return Kline(
            openTime: Int64(index) * 60_000, open: o, high: max(o, c), low: min(o, c), close: c, volume: d(volume),
            closeTime: Int64(index) * 60_000 + 59_999, quoteVolume: d(volume), tradeCount: trades, takerBuyBaseVolume: .zero,
            takerBuyQuoteVolume: .zero)
    }

    @Test func aHugeChangeGetsItsExactPercentage() throws {
        // A change of 10²² on an open of 10¹²: the intermediate product (10³⁰ units × 10¹⁰) exceeds Int128.
        let minutes = [Self.minute(0, open: "1000000000000", close: "10000000001000000000000")]
        let stats = try #require(try TickerStatistics.checked(minutes: minutes))
        #expect(stats.priceChange.description == "10000000000000000000000.00000000")
        #expect(stats.priceChangePercent.description == "1000000000000.00000000")
        let falling = try #require(try TickerStatistics.checked(minutes: [Self.minute(0, open: "3", close: "1")]))
        #expect(falling.priceChangePercent.description == "-66.66666667")
    }

    @Test func aPercentageThatDoesNotFitIsAnError() throws {
        // From 0.00000001 to 10²⁹: 10³⁹ %, more than an ExactDecimal holds.
        let minutes = [Self.minute(0, open: "0.00000001", close: String(repeating: "9", count: 29))]
        #expect(throws: TickerStatisticsError.self) { try TickerStatistics.checked(minutes: minutes) }
        #expect(TickerStatistics(minutes: minutes) == nil)
    }

    @Test func aZeroOpenHasAZeroPercentage() throws {
        let stats = try #require(TickerStatistics(minutes: [Self.minute(0, open: "0", close: "5")]))
        #expect(stats.priceChange.description == "5.00000000" && stats.priceChangePercent.isZero)
    }

    @Test func sumsThatOverflowAreAnError() throws {
        let trades = [Self.minute(0, open: "1", close: "1", trades: .max), Self.minute(1, open: "1", close: "1", trades: 1)]
        let error = try #require(throws: TickerStatisticsError.self, performing: { try TickerStatistics.checked(minutes: trades) })
        #expect(error.description.contains("trade count"))
        let volume = String(repeating: "9", count: 29)
        let volumes = (0..<20).map { Self.minute($0, open: "1", close: "1", volume: volume) }
        #expect(throws: TickerStatisticsError.self) { try TickerStatistics.checked(minutes: volumes) }
        #expect(TickerStatistics(minutes: volumes) == nil)
    }

    @Test func changesBetweenExtremePricesDoNotTrap() throws {
        // Prices are parsed without a sign check; the largest opposite extremes still subtract exactly.
        let top = String(repeating: "9", count: 29) + ".99999999"
        let stats = try #require(try TickerStatistics.checked(minutes: [Self.minute(0, open: "-" + top, close: top)]))
        #expect(stats.priceChangePercent.description == "-200.00000000")
    }
}

/// Indicator periods from outside (e.g. a query) cannot overflow the warm-up arithmetic.
struct IndicatorOverflowTests {
    @Test func hugePeriodsLeaveEverythingInWarmUp() {
        let macd = Indicators.macd([1, 2, 3], fast: 12, slow: .max, signal: .max)
        #expect(macd.macd == [nil, nil, nil] && macd.signal == [nil, nil, nil])
        #expect(Indicators.ema([1, 2, 3], period: .max) == [nil, nil, nil])
    }
}
