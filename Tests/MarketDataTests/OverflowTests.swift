import MarketData
import Testing

/// Sums and times that come from outside report overflow instead of trapping.
struct OverflowTests {
    static func d(_ text: String) -> ExactDecimal { try! ExactDecimal(parsing: text) }
    /// 29 nines: the largest integer part a price or volume may have.
    static let huge = d(String(repeating: "9", count: 29) + ".99999999")

    static func minute(_ index: Int64, volume: ExactDecimal = d("1"), trades: Int64 = 1) -> Kline {
        Kline(
            openTime: index * 60_000, open: d("10"), high: d("11"), low: d("9"), close: d("10.5"), volume: volume,
            closeTime: index * 60_000 + 59_999, quoteVolume: volume, tradeCount: trades, takerBuyBaseVolume: volume,
            takerBuyQuoteVolume: volume)
    }

    @Test func exactDecimalAdditionReportsOverflow() {
        let max = ExactDecimal(units: .max)
        #expect(max.addingReportingOverflow(ExactDecimal(units: 1)).overflow)
        #expect(ExactDecimal(units: .min).subtractingReportingOverflow(ExactDecimal(units: 1)).overflow)
        let sum = Self.huge.addingReportingOverflow(Self.huge)
        #expect(!sum.overflow && sum.partialValue.description == "199999999999999999999999999999.99999998")
    }

    @Test func volumeSumsThatOverflowAreAnErrorNotATrap() throws {
        // Twenty parts of 10²⁹ sum past Int128's 1.7 × 10³⁸ units.
        let minutes = (0..<20).map { Self.minute($0, volume: Self.huge) }
        let error = try #require(
            throws: KlineRollupError.self, performing: { try KlineRollup.combineChecked(minutes, openTime: 0, closeTime: 3_599_999) })
        #expect(error.field == .volume && error.openTime == 0 && error.partOpenTime == 17 * 60_000)
        #expect(KlineRollup.combine(minutes, openTime: 0, closeTime: 3_599_999) == nil)
        // Sixteen still fit, exactly.
        let fitting = try #require(try KlineRollup.combineChecked(minutes.prefix(16), openTime: 0, closeTime: 3_599_999))
        #expect(fitting.volume.description == "1599999999999999999999999999999.99999984")
    }

    @Test func tradeCountSumsThatOverflowAreAnErrorNotATrap() throws {
        let minutes = [Self.minute(0, trades: .max), Self.minute(1, trades: 1)]
        let error = try #require(
            throws: KlineRollupError.self, performing: { try KlineRollup.combineChecked(minutes, openTime: 0, closeTime: 3_599_999) })
        #expect(error.field == .tradeCount && error.partOpenTime == 60_000)
        #expect(error.description.contains("trade count"))
    }

    @Test func closeTimesNearInt64MaxDoNotTrap() throws {
        var last = Self.minute(0)
        last.openTime = .max - 10_000
        last.closeTime = .max
        // Not closed: its close plus the finality margin lies past any capture time.
        #expect(!last.isClosed(at: .max))
        // A part reaching past Int64.max is rolled up with its own close time.
        let combined = try #require(try KlineRollup.combineChecked([last], openTime: .max - 10_000, closeTime: .max, partDuration: 60_000))
        #expect(combined.closeTime == .max)
        var early = last
        early.closeTime = .max - 5_000
        #expect(
            try KlineRollup.combineChecked([early], openTime: .max - 10_000, closeTime: .max, partDuration: 60_000)?.closeTime == .max
                - 5_000)
    }
}
