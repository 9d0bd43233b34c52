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

    @Test func formatsAndParsesHTTPDates() {
        #expect(UTCTime.httpDate(0) == "Thu, 01 Jan 1970 00:00:00 GMT")
        #expect(UTCTime.httpDate(1_796_212_401_999) == "Wed, 02 Dec 2026 11:53:21 GMT")
        #expect(UTCTime.httpDate(784_111_777_000) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(UTCTime.httpDate(.max) == "Fri, 31 Dec 9999 23:59:59 GMT")
        #expect(UTCTime.parseHTTPDate("Sun, 06 Nov 1994 08:49:37 GMT") == 784_111_777_000)
        #expect(UTCTime.parseHTTPDate("Wed, 02 Dec 2026 11:53:21 GMT") == 1_796_212_401_000)
        for time in stride(from: 0 as Int64, to: UTCTime.latest, by: 9_876_543_210_987) {
            #expect(UTCTime.parseHTTPDate(UTCTime.httpDate(time)) == time - time % 1_000)
        }
        for bad in [
            "", "Sun, 06 Nov 1994 08:49:37 UTC", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994",
            "Sun, 31 Feb 1994 08:49:37 GMT", "Sun, 06 Nov 1969 08:49:37 GMT", "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, 6 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 08:49:37 GMT ", "Sun, 06 Nov -994 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:+7 GMT", "Sun, 06 Nov 1994 08:49 GMT",
        ] {
            #expect(UTCTime.parseHTTPDate(bad) == nil, "\(bad)")
        }
    }

    /// Whatever a server sends as `Date` gives a time or `nil`: no trap, no time outside 1970–9999. (The libFuzzer
    /// target `time` explores further; this fixed sequence runs with every test.)
    @Test func httpDateParsingIsTotal() {
        struct FixedSequence: RandomNumberGenerator {
            var state: UInt64 = 0x5EED
            mutating func next() -> UInt64 {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return state ^ (state >> 29)
            }
        }
        var generator = FixedSequence()
        let alphabet = Array("0123456789 :,-+GMTSunNovDecFebx\u{0}é".unicodeScalars)
        for _ in 0..<20_000 {
            var text = "Wed, 02 Dec 2026 11:53:21 GMT".unicodeScalars.map { $0 }
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                let index = Int.random(in: 0..<text.count, using: &generator)
                text[index] = alphabet[Int.random(in: 0..<alphabet.count, using: &generator)]
            }
            if Bool.random(using: &generator) {
                text.insert(
                    alphabet[Int.random(in: 0..<alphabet.count, using: &generator)], at: Int.random(in: 0...text.count, using: &generator))
            } else {
                text.remove(at: Int.random(in: 0..<text.count, using: &generator))
            }
            let input = String(String.UnicodeScalarView(text))
            let value = UTCTime.parseHTTPDate(input)
            #expect(value.map { (0...UTCTime.latest).contains($0) && $0 % 1_000 == 0 } ?? true, "\(input)")
        }
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
