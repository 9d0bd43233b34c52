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
}
