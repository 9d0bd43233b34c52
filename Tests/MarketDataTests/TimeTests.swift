import MarketData
import Testing

struct TimeTests {
    @Test func formatsAndParsesISO8601() {
        #expect(UTCTime.iso8601(0) == "1970-01-01T00:00:00.000Z")
        #expect(UTCTime.iso8601(1_499_040_000_000) == "2017-07-03T00:00:00.000Z")
        #expect(UTCTime.iso8601(1_709_251_199_999) == "2024-02-29T23:59:59.999Z")
        #expect(UTCTime.parse("2024-02-29T23:59:59.999Z") == 1_709_251_199_999)
        #expect(UTCTime.parse("2017-07-03") == 1_499_040_000_000)
        #expect(UTCTime.parse("2017-07-03T02:00+02:00") == 1_499_040_000_000)
        #expect(UTCTime.parse("1499040000000") == 1_499_040_000_000)
        for bad in ["2024-02-30", "yesterday", "2024-1-1", "2024-01-01T25:00", ""] { #expect(UTCTime.parse(bad) == nil, "\(bad)") }
    }

    @Test func civilDatesRoundTripOverCenturies() {
        var day: Int64 = -1_000
        while day < 200_000 {
            let date = CivilDate(epochMilliseconds: day * 86_400_000 + 12_345)
            #expect(date.daysSinceEpoch == day)
            day += 37
        }
    }

    @Test func intervalsAlignLikeBinance() {
        let t: Int64 = 1_700_000_123_456  // 2023-11-14T22:15:23.456Z, a Tuesday
        #expect(Interval.oneMinute.openTime(containing: t) == 1_700_000_100_000)
        #expect(Interval.oneHour.openTime(containing: t) == 1_699_999_200_000)
        #expect(Interval.oneDay.openTime(containing: t) == 1_699_920_000_000)
        #expect(UTCTime.iso8601(Interval.oneWeek.openTime(containing: t)) == "2023-11-13T00:00:00.000Z")
        #expect(UTCTime.iso8601(Interval.oneMonth.openTime(containing: t)) == "2023-11-01T00:00:00.000Z")
        #expect(UTCTime.iso8601(Interval.oneMonth.nextOpenTime(after: 1_701_388_800_000)) == "2024-01-01T00:00:00.000Z")
        #expect(Interval.allCases.count == 16)
        #expect(Interval(rawValue: "1M") == .oneMonth && Interval(rawValue: "1m") == .oneMinute)
    }
}
