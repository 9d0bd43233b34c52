import MarketData
import Testing

struct LocalOrderBookTests {
    static let symbol = try! Symbol("BTCUSDT")

    static func level(_ price: Int, _ quantity: Int) -> PriceLevel {
        PriceLevel(price: ExactDecimal(price), quantity: ExactDecimal(quantity))
    }

    static func event(_ first: Int64, _ last: Int64, bids: [PriceLevel] = [], asks: [PriceLevel] = []) -> DepthDiffEvent {
        DepthDiffEvent(symbol: symbol, eventTime: 0, firstUpdateId: first, finalUpdateId: last, bids: bids, asks: asks)
    }

    static let snapshot = OrderBookSnapshot(
        lastUpdateId: 100, bids: [level(99, 1), level(98, 2), level(97, 3)], asks: [level(101, 1), level(102, 2), level(103, 3)])

    @Test func followsBinancesProcedure() {
        var book = LocalOrderBook(symbol: Self.symbol)
        #expect(book.receive(Self.event(90, 95, bids: [Self.level(50, 1)])) == .buffered)
        #expect(book.receive(Self.event(96, 102, bids: [Self.level(99, 5)])) == .buffered)
        #expect(book.top(5) == nil)
        // The first event is contained in the snapshot and dropped; the second straddles it and applies.
        #expect(book.applySnapshot(Self.snapshot, limit: 100) == .applied)
        #expect(book.lastUpdateId == 102 && book.state == .synced)
        #expect(book.receive(Self.event(101, 102)) == .stale)
        #expect(book.receive(Self.event(103, 104, bids: [Self.level(98, 0)], asks: [Self.level(100, 7)])) == .applied)
        let top = book.top(2)
        #expect(
            top
                == OrderBookSnapshot(
                    lastUpdateId: 104, bids: [Self.level(99, 5), Self.level(97, 3)], asks: [Self.level(100, 7), Self.level(101, 1)]))
    }

    @Test func aGapDiscardsTheBook() {
        var book = LocalOrderBook(symbol: Self.symbol)
        _ = book.applySnapshot(Self.snapshot, limit: 100)
        #expect(book.receive(Self.event(101, 105)) == .applied)
        #expect(book.receive(Self.event(107, 110)) == .outOfSequence(expected: 106, got: 107))
        #expect(book.state == .awaitingSnapshot && book.top(1) == nil && book.bufferedEvents == 1)
        // The event that broke the sequence waits for the next snapshot.
        #expect(book.applySnapshot(OrderBookSnapshot(lastUpdateId: 108, bids: [], asks: []), limit: 100) == .applied)
        #expect(book.lastUpdateId == 110)
    }

    @Test func aSnapshotOlderThanTheBufferIsRefused() {
        var book = LocalOrderBook(symbol: Self.symbol)
        _ = book.receive(Self.event(150, 160))
        #expect(book.applySnapshot(Self.snapshot, limit: 100) == .snapshotTooOld(lastUpdateId: 100, firstBuffered: 150))
        #expect(book.state == .awaitingSnapshot && book.bufferedEvents == 1)
    }

    @Test func theFirstEventMustStraddleTheSnapshot() {
        var book = LocalOrderBook(symbol: Self.symbol)
        _ = book.applySnapshot(Self.snapshot, limit: 100)
        #expect(book.receive(Self.event(102, 103)) == .outOfSequence(expected: 101, got: 102))
    }

    @Test func overlappingEventsFromASecondConnectionApply() {
        var book = LocalOrderBook(symbol: Self.symbol)
        _ = book.applySnapshot(Self.snapshot, limit: 100)
        #expect(book.receive(Self.event(101, 105, asks: [Self.level(101, 4)])) == .applied)
        // The same stream on a replacement connection: its first event overlaps what is applied.
        #expect(book.receive(Self.event(104, 106, asks: [Self.level(101, 4), Self.level(102, 9)])) == .applied)
        #expect(book.top(2)?.asks == [Self.level(101, 4), Self.level(102, 9)] && book.lastUpdateId == 106)
    }

    @Test func eventsOfTwoConnectionsBufferedInterleavedApplyInOrder() {
        var book = LocalOrderBook(symbol: Self.symbol)
        // The replacement delivered 103–104 before the old connection delivered 101–102; both copies of 101–102 came.
        for event in [Self.event(101, 102), Self.event(103, 104, bids: [Self.level(98, 9)]), Self.event(101, 102)] {
            #expect(book.receive(event) == .buffered)
        }
        #expect(book.applySnapshot(Self.snapshot, limit: 100) == .applied)
        #expect(book.lastUpdateId == 104 && book.state == .synced && book.top(2)?.bids.last == Self.level(98, 9))
    }

    @Test func onlyTheRangeTheSnapshotCoveredIsExact() {
        var book = LocalOrderBook(symbol: Self.symbol)
        // A snapshot cut at 3 levels a side knows nothing below 97 or above 103.
        _ = book.applySnapshot(Self.snapshot, limit: 3)
        #expect(book.covers(3))
        #expect(book.receive(Self.event(101, 101, bids: [Self.level(96, 4), Self.level(99, 0)])) == .applied)
        #expect(book.top(3)?.bids == [Self.level(98, 2), Self.level(97, 3)] && !book.covers(3))
        // A snapshot with fewer levels than asked held the whole side.
        var whole = LocalOrderBook(symbol: Self.symbol)
        _ = whole.applySnapshot(Self.snapshot, limit: 5)
        #expect(whole.receive(Self.event(101, 101, bids: [Self.level(96, 4)])) == .applied)
        #expect(whole.top(5)?.bids.count == 4 && whole.covers(5))
    }

    @Test func memoryStaysBounded() {
        var book = LocalOrderBook(symbol: Self.symbol, bufferLimit: 10, bufferedLevelLimit: 30, levelLimit: 5)
        for index in 0..<100 { _ = book.receive(Self.event(Int64(index), Int64(index))) }
        #expect(book.bufferedEvents <= 10)
        // Levels count too: three events of 20 levels do not fit in 30.
        for index in 100..<103 { _ = book.receive(Self.event(Int64(index), Int64(index), bids: (1...20).map { Self.level($0, 1) })) }
        #expect(book.bufferedEvents == 1)
        _ = book.applySnapshot(OrderBookSnapshot(lastUpdateId: 102, bids: [], asks: []), limit: 1_000)
        // More levels than the book keeps: it is discarded rather than kept wrong.
        guard case .discarded = book.receive(Self.event(103, 103, bids: (1...50).map { Self.level($0, 1) })) else {
            Issue.record("a side over its limit was kept")
            return
        }
        #expect(book.state == .awaitingSnapshot)
    }

    @Test func aStreamThatOnlyRepeatsItselfOrClaimsTheFutureIsDiscarded() {
        var book = LocalOrderBook(symbol: Self.symbol)
        _ = book.applySnapshot(Self.snapshot, limit: 100)
        guard case .discarded = book.receive(Self.event(0, .max)) else {
            Issue.record("an event spanning every update id was applied")
            return
        }
        _ = book.applySnapshot(Self.snapshot, limit: 100)
        #expect(book.receive(Self.event(101, 101)) == .applied)
        for _ in 0..<999 { #expect(book.receive(Self.event(100, 101)) == .stale) }
        guard case .discarded = book.receive(Self.event(100, 101)) else {
            Issue.record("a book fed only repeats stayed synced")
            return
        }
    }

    @Test func levelsBeyondTheSnapshotAreNotKept() {
        var book = LocalOrderBook(symbol: Self.symbol, levelLimit: 3)
        _ = book.applySnapshot(Self.snapshot, limit: 3)
        // Far below the deepest bid: never shown, so it takes no room.
        #expect(book.receive(Self.event(101, 101, bids: (1...50).map { Self.level($0, 1) })) == .applied)
        #expect(book.top(3)?.bids == Self.snapshot.bids)
    }
}
