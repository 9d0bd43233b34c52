import MarketData
import Testing

struct RollupTests {
    static func candle(_ minute: Int64, _ o: String, _ h: String, _ l: String, _ c: String, volume: String, trades: Int64) -> Kline {
        func d(_ text: String) -> ExactDecimal { try! ExactDecimal(parsing: text) }
        return Kline(
            openTime: minute * 60_000, open: d(o), high: d(h), low: d(l), close: d(c), volume: d(volume),
            closeTime: minute * 60_000 + 59_999,
            quoteVolume: d(volume) + d(volume), tradeCount: trades, takerBuyBaseVolume: d(volume), takerBuyQuoteVolume: d("0.00000001"))
    }

    @Test func emptyMinutesDoNotSetOpenHighOrLow() throws {
        // The first minute is empty at the previous close 90, which lies outside the traded range.
        let minutes = [
            Self.candle(0, "90", "90", "90", "90", volume: "0", trades: 0),
            Self.candle(1, "100", "105", "99", "101", volume: "1.5", trades: 3),
            Self.candle(2, "101", "101", "101", "101", volume: "0", trades: 0),
            Self.candle(3, "102", "110", "101.5", "108", volume: "2.25", trades: 4),
            Self.candle(4, "108", "108", "108", "108", volume: "0", trades: 0),
        ]
        let hour = try #require(KlineRollup.combine(minutes, openTime: 0, closeTime: 3_599_999))
        #expect(hour.open.description == "100.00000000")
        #expect(hour.high.description == "110.00000000" && hour.low.description == "99.00000000")
        #expect(hour.close.description == "108.00000000")
        #expect(hour.volume.description == "3.75000000" && hour.quoteVolume.description == "7.50000000")
        #expect(hour.tradeCount == 7 && hour.takerBuyQuoteVolume.description == "0.00000005")
        #expect(hour.openTime == 0 && hour.closeTime == 3_599_999)
    }

    @Test func anAllEmptyPeriodIsAZeroVolumeCandleAtThePreviousClose() throws {
        let minutes = (0..<3).map { Self.candle($0, "42.5", "42.5", "42.5", "42.5", volume: "0", trades: 0) }
        let hour = try #require(KlineRollup.combine(minutes, openTime: 0, closeTime: 3_599_999))
        #expect([hour.open, hour.high, hour.low, hour.close].allSatisfy { $0.description == "42.50000000" })
        #expect(hour.volume.isZero && hour.tradeCount == 0)
        #expect(KlineRollup.combine([Kline](), openTime: 0, closeTime: 1) == nil)
    }

    /// Binance maintenance (e.g. 2021-02-11, when the 03:40 minute closed at 03:40:54.773 and trading stopped until
    /// 05:00): the hour closes when its cut-short last minute closes; the hour after has no candle at all.
    @Test func anHourCutShortByAnOutageClosesWithItsLastMinute() throws {
        var minutes = (0..<41).map { Self.candle($0, "100", "101", "99", "100.5", volume: "1", trades: 2) }
        minutes[40].closeTime = 40 * 60_000 + 54_773
        let hour = try #require(KlineRollup.combine(minutes, openTime: 0, closeTime: 3_599_999, partDuration: 60_000))
        #expect(hour.closeTime == 40 * 60_000 + 54_773 && hour.tradeCount == 82)
        // A regular last minute (or no part length given) keeps the regular close.
        let regular = try #require(KlineRollup.combine(minutes.prefix(40), openTime: 0, closeTime: 3_599_999, partDuration: 60_000))
        #expect(regular.closeTime == 3_599_999)
        #expect(KlineRollup.combine(minutes, openTime: 0, closeTime: 3_599_999)?.closeTime == 3_599_999)
        // The day containing it closes regularly when later hours exist.
        let hours = [
            hour,
            try #require(
                KlineRollup.combine(
                    [Self.candle(120, "1", "1", "1", "1", volume: "1", trades: 1)], openTime: 7_200_000, closeTime: 10_799_999,
                    partDuration: 60_000)),
        ]
        #expect(KlineRollup.combine(hours, openTime: 0, closeTime: 86_399_999, partDuration: 3_600_000)?.closeTime == 86_399_999)
    }
}

struct KlineDumpTests {
    @Test func dumpNamesGiveSymbolIntervalAndPeriod() throws {
        let daily = try #require(try KlineDumpName(fileName: "BTCUSDT-1m-2021-01-01.zip"))
        #expect(daily.symbol.rawValue == "BTCUSDT" && daily.interval == .oneMinute && daily.period == "2021-01-01")
        #expect(try KlineDumpName(fileName: "ETHBTC-1h-2021-01.csv")?.interval == .oneHour)
        #expect(try KlineDumpName(fileName: "history.csv") == nil)
        #expect(throws: KlineDumpNameError.self) { try KlineDumpName(fileName: "BTCUSDT-7m-2021-01-01.zip") }
    }

    @Test func documentsSkipAHeaderAndReportLineNumbers() throws {
        let row =
            "1704067200000,1.00000000,2.00000000,0.50000000,1.50000000,10.00000000,1704067259999,15.00000000,3,5.00000000,7.50000000,0"
        let second = row.replacingOccurrences(of: "1704067200000", with: "1704067260000").replacingOccurrences(
            of: "1704067259999", with: "1704067319999")
        let text =
            "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore\r\n"
            + row + "\r\n" + second + "\n\n"
        var klines: [Kline] = []
        try Array(text.utf8).withUnsafeBufferPointer { try KlineCSV.parseDocument($0, into: &klines, interval: .oneMinute) }
        #expect(klines.count == 2 && klines[1].openTime == 1_704_067_260_000)
        // Repeated row (line 2) and a 1h candle in a 1m file (line 2).
        var sink: [Kline] = []
        #expect(
            throws: CSVDocumentError(
                line: 2, message: "open time 1704067200000 does not follow 1704067200000; rows must ascend without repeats")
        ) {
            try Array((row + "\n" + row + "\n").utf8).withUnsafeBufferPointer { try KlineCSV.parseDocument($0, into: &sink) }
        }
        let hourly = row.replacingOccurrences(of: "1704067259999", with: "1704070799999")
        #expect(throws: CSVDocumentError.self) {
            try Array(("\n" + hourly).utf8).withUnsafeBufferPointer { try KlineCSV.parseDocument($0, into: &sink, interval: .oneMinute) }
        }
    }
}
