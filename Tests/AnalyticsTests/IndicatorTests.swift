import Analytics
import Foundation
import MarketData
import Testing

/// Indicators against TA-Lib 0.8.x, from `Fixtures/talib-reference.json` (made by scripts/generate-indicator-fixture.py).
struct IndicatorTests {
    struct Fixture: Decodable {
        struct MACD: Decodable {
            var macd: [Double?]
            var signal: [Double?]
            var histogram: [Double?]
        }
        struct Bands: Decodable {
            var upper: [Double?]
            var middle: [Double?]
            var lower: [Double?]
        }
        var closes: [Double]
        var sma_20: [Double?]
        var ema_20: [Double?]
        var rsi_14: [Double?]
        var macd_12_26_9: MACD
        var bbands_20_2: Bands
    }

    static let fixture: Fixture = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/talib-reference.json")
        return try! JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }()

    /// Same warm-up (nil where TA-Lib has nothing) and every value within 1e-9 relative.
    static func expectAgrees(_ ours: [Double?], _ reference: [Double?], _ name: String) {
        #expect(ours.count == reference.count, "\(name): length")
        var worst = 0.0
        for (index, (mine, theirs)) in zip(ours, reference).enumerated() {
            switch (mine, theirs) {
            case (nil, nil): continue
            case (let mine?, let theirs?):
                let error = abs(mine - theirs) / max(abs(theirs), 1e-300)
                worst = max(worst, abs(theirs) < 1e-12 ? abs(mine - theirs) : error)
            default:
                Issue.record("\(name)[\(index)]: ours \(String(describing: mine)), TA-Lib \(String(describing: theirs))")
                return
            }
        }
        #expect(worst <= 1e-9, "\(name): worst relative difference \(worst)")
    }

    @Test func movingAveragesMatchTALib() {
        Self.expectAgrees(Indicators.sma(Self.fixture.closes, period: 20), Self.fixture.sma_20, "SMA(20)")
        Self.expectAgrees(Indicators.ema(Self.fixture.closes, period: 20), Self.fixture.ema_20, "EMA(20)")
    }

    @Test func wilderRSIMatchesTALib() {
        let rsi = Indicators.rsi(Self.fixture.closes, period: 14)
        Self.expectAgrees(rsi, Self.fixture.rsi_14, "RSI(14)")
        #expect(rsi.firstIndex { $0 != nil } == 14)
    }

    @Test func macdMatchesTALibIncludingItsWarmUp() {
        let macd = Indicators.macd(Self.fixture.closes)
        Self.expectAgrees(macd.macd, Self.fixture.macd_12_26_9.macd, "MACD")
        Self.expectAgrees(macd.signal, Self.fixture.macd_12_26_9.signal, "MACD signal")
        Self.expectAgrees(macd.histogram, Self.fixture.macd_12_26_9.histogram, "MACD histogram")
        #expect(macd.macd.firstIndex { $0 != nil } == 33)
    }

    @Test func bollingerBandsMatchTALib() {
        let bands = Indicators.bollingerBands(Self.fixture.closes, period: 20, deviations: 2)
        Self.expectAgrees(bands.upper, Self.fixture.bbands_20_2.upper, "BB upper")
        Self.expectAgrees(bands.middle, Self.fixture.bbands_20_2.middle, "BB middle")
        Self.expectAgrees(bands.lower, Self.fixture.bbands_20_2.lower, "BB lower")
    }

    @Test func shortInputsGiveOnlyWarmUp() {
        #expect(Indicators.rsi([1, 2, 3], period: 14) == [nil, nil, nil])
        #expect(Indicators.macd(Array(repeating: 1, count: 33)).macd.allSatisfy { $0 == nil })
        #expect(Indicators.sma([], period: 5).isEmpty)
    }
}

struct TickerStatisticsTests {
    static func minute(_ index: Int, open: String, high: String, low: String, close: String, volume: String, trades: Int64) -> Kline {
        func d(_ text: String) -> ExactDecimal { try! ExactDecimal(parsing: text) }
        return Kline(
            openTime: Int64(index) * 60_000, open: d(open), high: d(high), low: d(low), close: d(close), volume: d(volume),
            closeTime: Int64(index) * 60_000 + 59_999, quoteVolume: d(volume) + d(volume) + d(volume), tradeCount: trades,
            takerBuyBaseVolume: .zero, takerBuyQuoteVolume: .zero)
    }

    @Test func theLast1440MinutesExactlyWithTheZeroVolumeRule() throws {
        var minutes = (0..<1_500).map { index in
            Self.minute(index, open: "100.1", high: "100.3", low: "99.9", close: "100.2", volume: "0.00000001", trades: 1)
        }
        // Outside the window: an extreme that must not count.
        minutes[10] = Self.minute(10, open: "1", high: "1000", low: "0.5", close: "1", volume: "5", trades: 9)
        // The window's first minute is empty at the previous close, so it sets neither open, high nor low.
        minutes[60] = Self.minute(60, open: "90", high: "90", low: "90", close: "90", volume: "0", trades: 0)
        minutes[61] = Self.minute(61, open: "100", high: "101", low: "99.5", close: "100.2", volume: "0.5", trades: 4)
        minutes[1_499] = Self.minute(1_499, open: "100.2", high: "110", low: "100.2", close: "107.77", volume: "1", trades: 2)
        let stats = try #require(TickerStatistics(minutes: minutes))
        #expect(stats.minuteCount == 1_440 && stats.openTime == 60 * 60_000 && stats.closeTime == 1_499 * 60_000 + 59_999)
        #expect(stats.openPrice.description == "100.00000000" && stats.lastPrice.description == "107.77000000")
        #expect(stats.highPrice.description == "110.00000000" && stats.lowPrice.description == "99.50000000")
        #expect(stats.priceChange.description == "7.77000000" && stats.priceChangePercent.description == "7.77000000")
        // 1437 minutes of 0.00000001 + 0.5 + 1, exactly.
        #expect(stats.volume.description == "1.50001437" && stats.quoteVolume.description == "4.50004311")
        #expect(stats.tradeCount == 1_437 + 4 + 2)
        #expect(TickerStatistics(minutes: []) == nil)
    }

    @Test func percentRoundsHalfAwayFromZero() throws {
        let minutes = [
            Self.minute(0, open: "3", high: "3", low: "3", close: "3", volume: "1", trades: 1),
            Self.minute(1, open: "3", high: "3", low: "2", close: "2", volume: "1", trades: 1),
        ]
        let stats = try #require(TickerStatistics(minutes: minutes))
        #expect(stats.priceChange.description == "-1.00000000" && stats.priceChangePercent.description == "-33.33333333")
    }
}
