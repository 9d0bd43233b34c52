import MarketData
import Testing

@testable import MarketStreams

/// The rotation rule for order books: while a replacement connection and the one it replaces carry the same stream,
/// neither being ahead of the other breaks the book.
struct SymbolStreamTests {
    static let symbol = try! Symbol("BTCUSDT")

    static func level(_ price: Int, _ quantity: Int) -> PriceLevel {
        PriceLevel(price: ExactDecimal(price), quantity: ExactDecimal(quantity))
    }

    static func event(_ first: Int64, _ last: Int64, bid: PriceLevel? = nil) -> DepthDiffEvent {
        DepthDiffEvent(
            symbol: symbol, eventTime: 0, firstUpdateId: first, finalUpdateId: last, bids: bid.map { [$0] } ?? [], asks: [])
    }

    /// A stream whose book is synced at update id 100.
    static func synced() -> SymbolStream {
        var stream = SymbolStream(symbol: symbol)
        let snapshot = OrderBookSnapshot(lastUpdateId: 100, bids: [level(99, 1)], asks: [level(101, 1)])
        _ = stream.book.applySnapshot(snapshot, limit: 100)
        return stream
    }

    @Test func aReplacementAheadOfTheOldConnectionIsHeldUntilItCatchesUp() {
        var stream = Self.synced()
        #expect(stream.book.receive(Self.event(101, 102)) == .applied)
        // The replacement delivers 105–106 before the old connection delivered 103–104: held, not a gap.
        #expect(stream.receiveFromReplacement(Self.event(105, 106, bid: Self.level(99, 6))) == nil)
        #expect(stream.book.state == .synced && stream.heldFromReplacement.count == 1)
        // An event that continues the book applies at once, whichever connection brings it.
        #expect(stream.receiveFromReplacement(Self.event(103, 104)) == .applied)
        #expect(stream.applyHeld(all: false) == nil)
        #expect(stream.book.lastUpdateId == 106 && stream.heldFromReplacement.isEmpty)
        // The old connection's copies are already in the book.
        #expect(stream.book.receive(Self.event(103, 104)) == .stale)
        #expect(stream.book.receive(Self.event(105, 106)) == .stale)
        #expect(stream.book.top(1)?.bids == [Self.level(99, 6)])
    }

    @Test func atTakeoverHeldEventsThatDoNotContinueTheBookRebuildIt() {
        var stream = Self.synced()
        #expect(stream.receiveFromReplacement(Self.event(104, 105)) == nil)
        // The old connection stops at 102: 103 was never delivered by either.
        #expect(stream.book.receive(Self.event(101, 102)) == .applied)
        #expect(stream.applyHeld(all: false) == nil && stream.heldFromReplacement.count == 1)
        #expect(stream.applyHeld(all: true) == .outOfSequence(expected: 103, got: 104))
        #expect(stream.book.state == .awaitingSnapshot && stream.heldFromReplacement.isEmpty)
    }

    @Test func aReplacementGivenUpOrAResetDropsWhatItHeld() {
        var stream = Self.synced()
        _ = stream.receiveFromReplacement(Self.event(110, 111))
        stream.dropHeld()
        #expect(stream.heldFromReplacement.isEmpty && stream.book.lastUpdateId == 100)
        _ = stream.receiveFromReplacement(Self.event(110, 111))
        stream.resetBook()
        #expect(stream.heldFromReplacement.isEmpty && stream.book.state == .awaitingSnapshot)
        // With no book to continue, the replacement's events are buffered for the snapshot like any others.
        #expect(stream.receiveFromReplacement(Self.event(110, 111)) == .buffered)
    }

    @Test func heldEventsAreBounded() {
        var stream = Self.synced()
        for first in stride(from: Int64(1_000), to: 1_000 + 2 * Int64(SymbolStream.heldLimit) * 2, by: 2) {
            _ = stream.receiveFromReplacement(Self.event(first, first + 1))
        }
        #expect(stream.heldFromReplacement.count == SymbolStream.heldLimit)
    }
}
