public import MarketData

/// What the collector holds for one symbol between flushes: the final candles its stream delivered, its local order
/// book and what happened to them. No I/O, so the rules are tested without sockets.
public struct SymbolStream: Sendable {
    public let symbol: Symbol
    /// Final 1m candles by open time, newer than ``written``.
    private(set) var finals: [Int64: Kline] = [:]
    /// The open time of the newest candle in the lake (from the stream or a REST repair); `nil` before the first.
    public internal(set) var written: Int64?
    public internal(set) var book: LocalOrderBook
    /// When the last event of either stream arrived, on the collector's clock.
    public internal(set) var lastEvent: Int64?
    public internal(set) var connected = false
    /// Books discarded for a broken sequence (or a disconnect) and fetched again.
    public internal(set) var rebuilds = 0
    /// Flushes that fetched missing minutes over REST.
    public internal(set) var repairs = 0
    /// A snapshot request is on its way: events are buffered meanwhile.
    var snapshotPending = false
    /// Counts the book's resets, so a snapshot asked for an earlier book is not applied to a later one.
    var bookGeneration = 0
    /// Diff events from a replacement connection that run ahead of the book (the old connection is still behind),
    /// in arrival order; applied once the old one catches up, or when the replacement takes over.
    private(set) var heldFromReplacement: [DepthDiffEvent] = []
    /// Snapshot requests failed in a row, and when the next may go.
    var snapshotFailures = 0
    var snapshotRetryAt: Int64 = .min

    /// At most this many final candles are held (a day and a bit): beyond it the oldest go and REST repairs them.
    static let finalLimit = 1_500
    /// A minute of `@depth@100ms` events, and as many levels as a book buffers: a replacement that stays ahead longer
    /// has its oldest dropped (its takeover then rebuilds the book, as any gap does).
    static let heldLimit = 600
    static let heldLevelLimit = 20_000
    private var heldLevels = 0

    public init(symbol: Symbol) {
        self.symbol = symbol
        self.book = LocalOrderBook(symbol: symbol)
    }

    /// Discards the book; a snapshot still on its way is for the old one and will be dropped.
    mutating func resetBook() {
        book.reset()
        bookGeneration += 1
        snapshotPending = false
        dropHeld()
    }

    /// Takes a diff event from the connection opened to replace this symbol's. Both carry the same stream while they
    /// overlap and the book drops what it already has; but the replacement may deliver an event the old connection
    /// has not yet delivered the one before of. Such an event is held, not taken for a gap: `nil` when held.
    mutating func receiveFromReplacement(_ event: DepthDiffEvent) -> LocalOrderBook.Outcome? {
        guard book.state != .awaitingSnapshot, let last = book.lastUpdateId, event.firstUpdateId > last &+ 1 else {
            return book.receive(event)
        }
        let levels = event.bids.count + event.asks.count
        while !heldFromReplacement.isEmpty,
            heldFromReplacement.count >= Self.heldLimit || heldLevels + levels > Self.heldLevelLimit
        {
            let dropped = heldFromReplacement.removeFirst()
            heldLevels -= dropped.bids.count + dropped.asks.count
        }
        heldFromReplacement.append(event)
        heldLevels += levels
        return nil
    }

    /// Applies the held events the book now continues; with `all` (the replacement took over, nothing more comes from
    /// the old connection) every held event, so one that still does not continue the book breaks its sequence.
    /// Returns the outcome that broke the book, if one did.
    mutating func applyHeld(all: Bool) -> LocalOrderBook.Outcome? {
        while let event = heldFromReplacement.first {
            guard book.state != .awaitingSnapshot, let last = book.lastUpdateId else {
                dropHeld()
                return nil
            }
            if !all, event.firstUpdateId > last &+ 1 { return nil }
            heldFromReplacement.removeFirst()
            heldLevels -= event.bids.count + event.asks.count
            let outcome = book.receive(event)
            switch outcome {
            case .outOfSequence, .discarded:
                dropHeld()
                return outcome
            default:
                continue
            }
        }
        return nil
    }

    /// Drops what is held: the replacement was given up (the old connection carries on), or the book was reset.
    mutating func dropHeld() {
        heldFromReplacement.removeAll()
        heldLevels = 0
    }

    /// Keeps a final candle the lake does not have yet.
    mutating func receiveFinal(_ kline: Kline) {
        if let written, kline.openTime <= written { return }
        finals[kline.openTime] = kline
        if finals.count > Self.finalLimit, let oldest = finals.keys.min() { finals[oldest] = nil }
    }

    /// What a flush up to the minute opening at `lastClosed` writes: the candles after ``written`` in order when the
    /// stream delivered every one of them; `nil` when one is missing and REST must fill them (after a disconnect, a
    /// final event that never came, or the first flush of a symbol).
    func flushable(upTo lastClosed: Int64) -> [Kline]? {
        guard let written else { return nil }
        var candles: [Kline] = []
        var minute = written + 60_000
        while minute <= lastClosed {
            guard let candle = finals[minute] else { return nil }
            candles.append(candle)
            minute += 60_000
        }
        return candles
    }

    /// The lake now holds candles up to `openTime`.
    mutating func markWritten(upTo openTime: Int64) {
        written = max(written ?? openTime, openTime)
        finals = finals.filter { $0.key > openTime }
    }
}
