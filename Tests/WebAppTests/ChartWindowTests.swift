import Foundation
import MarketData
import Testing

@testable import WebApp

/// The Analytics chart's windows: `/api/chart/{symbol}` (what the chart loads when it scrolls) and the page's
/// `from`/`to`, which must show exactly the candles opening in the window, with the indicators' settled values.
@Suite struct ChartWindowTests {
    typealias Fixture = APIFixture
    static let minute: Int64 = 60_000

    static func minuteTime(_ index: Int) -> Int64 { Fixture.start + Int64(index) * minute }

    static func candles(_ reply: Fixture.Reply) -> [[String: Any]] { reply.json["candles"] as? [[String: Any]] ?? [] }
    static func openTimes(_ reply: Fixture.Reply) -> [Int64] { candles(reply).compactMap { ($0["open_time"] as? NSNumber)?.int64Value } }

    @Test func aWindowIsTheCandlesOpeningInItAndSaysWhatLiesAroundIt() async throws {
        let fixture = try await Fixture()
        defer { fixture.folder.remove() }
        try await fixture.loadMarket()
        try await fixture.withClient { client in
            let reply = try await client.send(
                .get, "/api/chart/BTCUSDT?interval=1m&start=\(Self.minuteTime(600))&end=\(Self.minuteTime(699))&limit=1000")
            #expect(reply.status == .ok, "\(reply.body.prefix(200))")
            #expect(Self.openTimes(reply) == (600...699).map(Self.minuteTime))
            #expect(reply.json["reaches_oldest"] as? Bool == false && reply.json["reaches_newest"] as? Bool == false)
            #expect(reply.json["truncated"] as? Bool == false && reply.json["count"] as? Int == 100)
            let first = try #require(Self.candles(reply).first)
            // Exact decimal strings, as the candlestick endpoint gives them; the indicators are settled (300 candles of
            // warm-up before the window), not restarting at its first candle.
            #expect(first["close"] as? String == "106.00000000" && first["open"] as? String == "105.99000000")
            #expect(first["rsi"] is Double && first["macd"] is Double && first["bollinger_upper"] is Double)

            let oldest = try await client.send(.get, "/api/chart/BTCUSDT?interval=1m&start=0&limit=50")
            #expect(Self.openTimes(oldest) == (0..<50).map(Self.minuteTime))
            #expect(oldest.json["reaches_oldest"] as? Bool == true && oldest.json["reaches_newest"] as? Bool == false)
            // The first 14 candles have no RSI yet: nothing before them to warm up on.
            #expect(Self.candles(oldest).prefix(14).allSatisfy { $0["rsi"] is NSNull })
            #expect(Self.candles(oldest)[14]["rsi"] is Double)

            let newest = try await client.send(.get, "/api/chart/BTCUSDT?interval=1m&limit=50")
            #expect(Self.openTimes(newest) == (1_450..<1_500).map(Self.minuteTime))
            #expect(newest.json["reaches_newest"] as? Bool == true && newest.json["reaches_oldest"] as? Bool == false)
            #expect(Self.candles(newest).last?["closed"] as? Bool == false)

            // Scrolling back: the window before the newest one ends just before it, with the indicator values the
            // indicators endpoint gives for those candles (both warm up on 300 candles before their first one).
            let older = try await client.send(.get, "/api/chart/BTCUSDT?interval=1m&limit=50&end=\(Self.minuteTime(1_450) - 1)")
            #expect(Self.openTimes(older) == (1_400..<1_450).map(Self.minuteTime))
            let indicators = try await client.send(.get, "/api/indicators/BTCUSDT?interval=1m&limit=99")
            let series = try #require(indicators.json["series"] as? [[String: Any]])
            let byTime = Dictionary(uniqueKeysWithValues: series.map { (($0["open_time"] as? NSNumber)?.int64Value ?? -1, $0) })
            for candle in Self.candles(older) {
                let time = (candle["open_time"] as? NSNumber)?.int64Value ?? -1
                let point = try #require(byTime[time], "\(time) is not in the indicators' series")
                for key in ["rsi", "macd", "macd_signal", "macd_histogram", "bollinger_upper", "bollinger_lower"] {
                    #expect(candle[key] as? Double == point[key] as? Double, "\(key) at \(time)")
                }
            }
        }
    }

    @Test func indicatorValuesAreSettledWhereverTheWindowStarts() async throws {
        let fixture = try await Fixture()
        defer { fixture.folder.remove() }
        try await fixture.loadMarket()
        try await fixture.withClient { client in
            // Two windows over the same candles (minutes 900–999), one starting 500 candles earlier: their warm-ups start
            // at different candles, and the values agree to far below anything a chart or a reader can see.
            let narrow = try await client.send(
                .get, "/api/chart/BTCUSDT?interval=1m&start=\(Self.minuteTime(900))&end=\(Self.minuteTime(999))")
            let wide = try await client.send(
                .get, "/api/chart/BTCUSDT?interval=1m&start=\(Self.minuteTime(400))&end=\(Self.minuteTime(999))&limit=1000")
            let late = Self.candles(narrow)
            let early = Array(Self.candles(wide).suffix(100))
            #expect(late.count == 100 && Self.openTimes(narrow) == early.compactMap { ($0["open_time"] as? NSNumber)?.int64Value })
            for (a, b) in zip(late, early) {
                for key in ["rsi", "macd", "macd_signal", "macd_histogram", "bollinger_upper", "bollinger_middle", "bollinger_lower"] {
                    let x = try #require(a[key] as? Double, "\(key)")
                    let y = try #require(b[key] as? Double, "\(key)")
                    #expect(abs(x - y) <= 1e-9 * max(1, abs(x)), "\(key): \(x) against \(y)")
                }
            }
        }
    }

    @Test func windowsAtTheEdgesOfTimeAreEmptyNotErrors() async throws {
        let fixture = try await Fixture()
        defer { fixture.folder.remove() }
        try await fixture.loadMarket()
        try await fixture.withClient { client in
            let latest = QueryValue.latestTime
            for query in ["end=0", "start=\(latest)", "start=\(latest)&end=\(latest)", "start=0&end=0", "end=\(latest)&limit=1"] {
                let reply = try await client.send(.get, "/api/chart/BTCUSDT?interval=1M&\(query)")
                #expect(reply.status == .ok, "\(query): \(reply.body.prefix(200))")
            }
            let page = try await client.send(.get, "/analytics?symbol=BTCUSDT&interval=1w&from=\(latest)&to=\(latest)")
            #expect(page.status == .ok && page.body.contains("No 1w candles of BTCUSDT open in this window"))
        }
    }

    @Test func aWindowWiderThanTheLimitIsCutAndSaysSo() async throws {
        let fixture = try await Fixture()
        defer { fixture.folder.remove() }
        try await fixture.loadMarket()
        try await fixture.withClient { client in
            let reply = try await client.send(.get, "/api/chart/BTCUSDT?interval=1m&start=0&end=\(Self.minuteTime(1_499))&limit=1000")
            #expect(reply.json["truncated"] as? Bool == true && Self.openTimes(reply) == (0..<1_000).map(Self.minuteTime))
            // Formed intervals are windows too: 15m candles opening in the first five hours.
            let formed = try await client.send(.get, "/api/chart/BTCUSDT?interval=15m&start=0&end=\(Self.minuteTime(299))")
            #expect(Self.openTimes(formed) == stride(from: 0, through: 285, by: 15).map(Self.minuteTime))
            #expect(Self.candles(formed).first?["volume"] as? String == "22.50000000")
            // The page says how much of the window it shows.
            let page = try await client.send(.get, "/analytics?symbol=BTCUSDT&interval=1m&from=0&to=\(Self.minuteTime(99))&limit=30")
            #expect(page.body.contains("The window holds more than 30 1m candles: these are its first 30."))
        }
    }

    @Test func badWindowsAreClientErrors() async throws {
        let fixture = try await Fixture()
        defer { fixture.folder.remove() }
        try await fixture.loadMarket()
        try await fixture.withClient { client in
            for (query, code) in [
                ("start=2024-01-02&end=2024-01-01", "invalid_range"), ("interval=7m", "invalid_interval"), ("limit=1001", "invalid_limit"),
                ("end=yesterday", "invalid_end"), ("start=99999999999999999999", "invalid_start"),
            ] {
                let reply = try await client.send(.get, "/api/chart/BTCUSDT?\(query)")
                #expect(reply.status == .badRequest && reply.errorCode == code, "\(query): \(reply.body.prefix(200))")
            }
            let unknown = try await client.send(.get, "/api/chart/DOGEUSDT")
            #expect(unknown.status == .notFound)
        }
    }

    /// The candle count of the page's chart data, and its first and last open times.
    static func pageWindow(_ body: String) -> (count: Int, first: Int64?, last: Int64?) {
        guard let start = body.range(of: "id=\"chart-data\">"),
            let end = body.range(of: "</script>", range: start.upperBound..<body.endIndex)
        else { return (0, nil, nil) }
        let json = (try? JSONSerialization.jsonObject(with: Data(body[start.upperBound..<end.lowerBound].utf8))) as? [String: Any]
        let times = (json?["candles"] as? [[String: Any]] ?? []).compactMap { ($0["open_time"] as? NSNumber)?.int64Value }
        return (times.count, times.first, times.last)
    }

    @Test func thePageShowsExactlyTheWindowInItsURL() async throws {
        let fixture = try await Fixture()
        defer { fixture.folder.remove() }
        try await fixture.loadMarket()
        try await fixture.withClient { client in
            let from = UTCTime.iso8601(Self.minuteTime(600))
            let to = UTCTime.iso8601(Self.minuteTime(719))
            let page = try await client.send(.get, "/analytics?symbol=BTCUSDT&interval=1m&from=\(from)&to=\(to)")
            #expect(page.status == .ok)
            let window = Self.pageWindow(page.body)
            #expect(window.count == 120 && window.first == Self.minuteTime(600) && window.last == Self.minuteTime(719))
            // The form shows the window (UTC, to the minute); the links move it without the script.
            #expect(page.body.contains("name=\"from\" step=\"60\" value=\"\(from.prefix(16))\""))
            #expect(
                page.body.contains(
                    "data-move=\"older\" href=\"/analytics?symbol=BTCUSDT&amp;interval=1m&amp;to=\(UTCTime.iso8601(Self.minuteTime(600) - 1))&amp;limit=120\">"
                ))
            #expect(
                page.body.contains(
                    "data-move=\"newer\" href=\"/analytics?symbol=BTCUSDT&amp;interval=1m&amp;from=\(UTCTime.iso8601(Self.minuteTime(719) + 1))&amp;limit=120\">"
                ))
            #expect(page.body.contains("id=\"chart-edge\" hidden"))
            // The form's blank fields mean "not given": the newest candles.
            let blank = try await client.send(.get, "/analytics?symbol=BTCUSDT&interval=1m&from=&to=")
            #expect(Self.pageWindow(blank.body).last == Self.minuteTime(1_499) && Self.pageWindow(blank.body).count == 120)
            #expect(blank.body.contains("data-move=\"newer\" href=\"#\" hidden"))
            // A minute typed into the form (datetime-local sends no seconds or zone) is read as UTC.
            let typed = try await client.send(.get, "/analytics?symbol=BTCUSDT&interval=5m&from=2024-01-01T10:00&to=2024-01-01T11:00")
            #expect(Self.pageWindow(typed.body).count == 13 && Self.pageWindow(typed.body).first == Self.minuteTime(600))
        }
    }

    @Test func theFirstStoredCandleOffersTheCoarserHistory() async throws {
        let fixture = try await Fixture()
        defer { fixture.folder.remove() }
        try await fixture.loadMarket()
        try await fixture.withClient { client in
            let page = try await client.send(.get, "/analytics?symbol=BTCUSDT&interval=1m&from=0&limit=60")
            #expect(Self.pageWindow(page.body).first == Fixture.start)
            #expect(page.body.contains("<p class=\"muted\" id=\"chart-edge\">This is the first stored 1m candle of BTCUSDT."))
            #expect(page.body.contains("data-interval=\"1h\"") && page.body.contains("data-interval=\"1d\""))
            #expect(page.body.contains("data-move=\"older\" href=\"#\" hidden"))
            // The range selector: five links with a window each, at an interval that fits it.
            for range in ["1H", "1D", "1W", "1M", "All"] { #expect(page.body.contains(">\(range)</a>"), "\(range)") }
            #expect(page.body.contains("title=\"Last day at 3m\""))
        }
    }

    @Test func badPageWindowsAreExplainedOnThePage() async throws {
        let fixture = try await Fixture()
        defer { fixture.folder.remove() }
        try await fixture.loadMarket()
        try await fixture.withClient { client in
            let reversed = try await client.send(.get, "/analytics?symbol=BTCUSDT&from=2024-01-02&to=2024-01-01")
            #expect(reversed.status == .badRequest && reversed.body.contains("from must not be after to"))
            let bad = try await client.send(.get, "/analytics?symbol=BTCUSDT&to=tomorrow")
            #expect(bad.status == .badRequest && bad.body.contains("to must be epoch milliseconds or ISO-8601"))
            let empty = try await client.send(.get, "/analytics?symbol=BTCUSDT&from=2030-01-01")
            #expect(empty.status == .ok && empty.body.contains("No 1m candles of BTCUSDT open in this window"))
        }
    }

    @Test func timeLabelsFallOnRoundTimes() {
        let hour: Int64 = 3_600_000
        let day = 24 * hour
        let monday = Fixture.start  // 2024-01-01 was a Monday.
        // 1,000 minutes (16.7 h): a label every 3 hours, the date at midnight.
        let minutes = TimeTicks(candles: 1_000, interval: .oneMinute)
        #expect(minutes.step == .fixed(3 * hour))
        #expect(minutes.isTick(monday + 3 * hour) && !minutes.isTick(monday + 3 * hour + 60_000))
        #expect(TimeTicks.label(monday, interval: .oneMinute) == "01-01" && TimeTicks.label(monday + hour, interval: .oneMinute) == "01:00")
        // 120 minutes: every 30 minutes.
        #expect(TimeTicks(candles: 120, interval: .oneMinute).step == .fixed(30 * 60_000))
        // 40 days: Mondays; 100 days: the first of each month; 200 days: of every third month; 60 months: each year.
        let days = TimeTicks(candles: 40, interval: .oneDay)
        #expect(days.step == .week && days.isTick(monday) && !days.isTick(monday + day))
        let months = TimeTicks(candles: 100, interval: .oneDay)
        #expect(months.step == .months(1) && months.isTick(Fixture.start + 31 * day) && !months.isTick(Fixture.start + 30 * day))
        let quarters = TimeTicks(candles: 200, interval: .oneDay)
        #expect(quarters.step == .months(3) && quarters.isTick(Fixture.start + 91 * day) && !quarters.isTick(Fixture.start + 31 * day))
        #expect(TimeTicks(candles: 60, interval: .oneMonth).step == .months(12))
        // 3d and 1w candles never open on such times: every sixth candle, counted from the epoch.
        let threeDays = TimeTicks(candles: 120, interval: .threeDays)
        #expect(threeDays.step == .everyNth(20) && threeDays.isTick(20 * 3 * day) && !threeDays.isTick(21 * 3 * day))
        // Where no candle falls on the step, the first gets the label.
        #expect(minutes.ticks([monday + 60_000, monday + 120_000]) == [0] && minutes.ticks([]) == [])
        // Outside times: no trap at the ends of Int64.
        #expect(!TimeTicks(candles: .max, interval: .oneMonth).isTick(.max) && !months.isTick(.min))
    }

    @Test func theRangeSelectorPicksAnIntervalThatFitsTheRange() {
        let hour: Int64 = 3_600_000
        let day = 24 * hour
        #expect(ChartRange.interval(showing: hour, current: .oneMinute) == .oneMinute)
        #expect(ChartRange.interval(showing: day, current: .oneMinute) == .threeMinutes)
        #expect(ChartRange.interval(showing: 7 * day, current: .oneMinute) == .fifteenMinutes)
        #expect(ChartRange.interval(showing: 30 * day, current: .fiveMinutes) == .oneHour)
        #expect(ChartRange.interval(showing: day, current: .oneHour) == .oneHour)
        #expect(ChartRange.interval(showing: hour, current: .oneDay) == .oneMinute)
        #expect(ChartRange.interval(showing: 3 * 365 * day, current: .oneMinute) == .threeDays)
        #expect(ChartRange.interval(showing: 300 * 365 * day, current: .oneMinute) == .oneMonth)
    }
}
