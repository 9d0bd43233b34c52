import MarketData
import Testing

@testable import Pipeline

/// The one definition of lag that `status`, the API, the pages and `/metrics` show.
struct FreshnessTests {
    @Test func lagsCountFromTheEndOfTheNewestClosedMinuteAndTheNewestBook() {
        let minute: Int64 = 1_704_067_200_000
        let fresh = Freshness(newestClosedOpenTime: minute, latestBookCapturedAt: minute + 50_000, measuredAt: minute + 62_500)
        #expect(fresh.klineLagMilliseconds == 2_500 && fresh.klineLagSeconds == 2)
        #expect(fresh.depthLagMilliseconds == 12_500 && fresh.depthLagSeconds == 12)
        // A local clock behind the exchange's shows no lag rather than a negative one.
        let behind = Freshness(newestClosedOpenTime: minute, latestBookCapturedAt: minute, measuredAt: minute - 5_000)
        #expect(behind.klineLagMilliseconds == 0 && behind.depthLagMilliseconds == 0)
        let nothing = Freshness(newestClosedOpenTime: nil, latestBookCapturedAt: nil, measuredAt: minute)
        #expect(nothing.klineLagSeconds == nil && nothing.depthLagSeconds == nil)
        // Times no warehouse holds saturate instead of trapping.
        #expect(Freshness(newestClosedOpenTime: .max, latestBookCapturedAt: .min, measuredAt: 0).klineLagMilliseconds == 0)
        #expect(Freshness(newestClosedOpenTime: nil, latestBookCapturedAt: .min, measuredAt: .max).depthLagMilliseconds == .max)
    }
}
