import MarketData
import Testing

@testable import Warehouse

/// The rules every backend shares, on their own: which stored candle a load replaces, and how a detection changes the
/// gap ledger. (The conformance suite checks each backend applies them.)
struct SharedRuleTests {
    @Test func anOpenCandleGivesWayToAFinalOrLaterCaptureAndAFinalOneNever() {
        let open = StoredCandleState(isFinal: false, capturedAt: 1_000)
        let final = StoredCandleState(isFinal: true, capturedAt: 1_000)
        #expect(CandleLoading.replaces(nil, isFinal: false, capturedAt: 1))
        #expect(CandleLoading.replaces(open, isFinal: true, capturedAt: 500))
        #expect(CandleLoading.replaces(open, isFinal: false, capturedAt: 1_001))
        #expect(!CandleLoading.replaces(open, isFinal: false, capturedAt: 1_000))
        #expect(!CandleLoading.replaces(final, isFinal: true, capturedAt: 9_999))
        #expect(!CandleLoading.replaces(final, isFinal: false, capturedAt: 9_999))
    }

    @Test func detectionOpensNewGapsFillsVanishedOnesAndLeavesExchangeEmptyRangesClosed() throws {
        let symbol = try Symbol("BTCUSDT")
        func gap(_ from: Int64, _ to: Int64, _ status: GapStatus) -> KlineGap {
            KlineGap(symbol: symbol, range: MinuteRange(from: from, to: to), status: status, detectedAt: 0, updatedAt: 0)
        }
        let known = [gap(0, 60_000, .open), gap(600_000, 600_000, .open), gap(1_200_000, 1_800_000, .exchangeEmpty)]
        let missing = [
            MinuteRange(from: 0, to: 60_000),  // unchanged: not written
            MinuteRange(from: 1_260_000, to: 1_320_000),  // inside the exchange-empty range: not asked again
            MinuteRange(from: 2_400_000, to: 2_400_000),  // new
        ]
        let changes = GapReconciliation.changes(known: known, missing: missing)
        #expect(changes.map(\.range) == [MinuteRange(from: 2_400_000, to: 2_400_000), MinuteRange(from: 600_000, to: 600_000)])
        #expect(changes.map(\.status) == [.open, .filled])
        // A range that grew is written again; a filled gap missing again is reopened.
        let grown = GapReconciliation.changes(
            known: [gap(0, 60_000, .open), gap(120_000, 120_000, .filled)],
            missing: [MinuteRange(from: 0, to: 120_000), MinuteRange(from: 120_000, to: 120_000)])
        #expect(grown.map(\.status) == [.open, .open] && grown.map(\.range.to) == [120_000, 120_000])
        #expect(GapReconciliation.changes(known: known, missing: []).map(\.status) == [.filled, .filled])
    }
}
