/// An exact local order book kept from a REST snapshot and `@depth@100ms` diff events, by Binance's procedure: buffer
/// events, take a snapshot, drop events it already contains (`u` ≤ `lastUpdateId`), require the first kept event to
/// straddle it (`U` ≤ `lastUpdateId`+1 ≤ `u`) and every later one to continue it (`U` = previous `u`+1). A gap discards
/// the book; the caller fetches a new snapshot.
///
/// A snapshot of `limit` levels says nothing of the levels beyond its last one; diffs then report changes there, but
/// levels that never change stay unknown. So the book is exact only between the snapshot's deepest bid and ask, and
/// ``top(_:)`` gives only levels from that range.
///
/// A value type with no I/O, so the rules are tested (and fuzzed) apart from sockets and clocks.
public struct LocalOrderBook: Sendable {
    public enum State: Sendable, Hashable {
        /// Buffering events until a snapshot arrives.
        case awaitingSnapshot
        /// A snapshot is applied and no event has continued it yet.
        case awaitingFirstEvent
        /// Events apply in sequence.
        case synced
    }

    /// What one call did.
    public enum Outcome: Sendable, Hashable {
        case buffered
        case applied
        /// An event the book already contains (`u` ≤ the last applied id).
        case stale
        /// The snapshot is older than the oldest buffered event can continue: fetch a newer one.
        case snapshotTooOld(lastUpdateId: Int64, firstBuffered: Int64)
        /// The sequence broke: the book is discarded and events are buffered again for a new snapshot.
        case outOfSequence(expected: Int64, got: Int64)
    }

    public let symbol: Symbol
    public private(set) var state: State = .awaitingSnapshot
    /// The id of the last update in the book: the snapshot's `lastUpdateId`, then each applied event's `u`.
    public private(set) var lastUpdateId: Int64?
    private var bids: [ExactDecimal: ExactDecimal] = [:]
    private var asks: [ExactDecimal: ExactDecimal] = [:]
    private var buffer: [DepthDiffEvent] = []
    /// The deepest bid and ask of the snapshot when it was cut off at its limit; `nil` when it held the whole side.
    private var bidFloor: ExactDecimal?
    private var askCeiling: ExactDecimal?
    /// Events held while no snapshot is applied; beyond it the oldest go (the snapshot they wait for is then too new
    /// for them anyway, and memory stays bounded whatever the stream sends).
    public let bufferLimit: Int
    /// Levels kept per side; a stream that adds levels without end cannot grow the book without end.
    public let levelLimit: Int

    public init(symbol: Symbol, bufferLimit: Int = 2_000, levelLimit: Int = 20_000) {
        self.symbol = symbol
        self.bufferLimit = max(1, bufferLimit)
        self.levelLimit = max(1, levelLimit)
    }

    public var bufferedEvents: Int { buffer.count }

    /// Takes one diff event.
    public mutating func receive(_ event: DepthDiffEvent) -> Outcome {
        switch state {
        case .awaitingSnapshot:
            if buffer.count == bufferLimit { buffer.removeFirst(buffer.count / 2) }
            buffer.append(event)
            return .buffered
        case .awaitingFirstEvent, .synced:
            return apply(event)
        }
    }

    /// Applies a REST snapshot and the buffered events it does not contain.
    /// `limit` is the limit the snapshot was asked for: a side with that many levels may have had more.
    public mutating func applySnapshot(_ snapshot: OrderBookSnapshot, limit: Int) -> Outcome {
        let pending = buffer.filter { $0.finalUpdateId > snapshot.lastUpdateId }
        if let first = pending.first, first.firstUpdateId > snapshot.lastUpdateId &+ 1 {
            buffer = pending
            return .snapshotTooOld(lastUpdateId: snapshot.lastUpdateId, firstBuffered: first.firstUpdateId)
        }
        buffer = []
        bids = [:]
        asks = [:]
        for level in snapshot.bids.prefix(levelLimit) where !level.quantity.isZero { bids[level.price] = level.quantity }
        for level in snapshot.asks.prefix(levelLimit) where !level.quantity.isZero { asks[level.price] = level.quantity }
        bidFloor = snapshot.bids.count >= limit ? snapshot.bids.prefix(limit).map(\.price).min() : nil
        askCeiling = snapshot.asks.count >= limit ? snapshot.asks.prefix(limit).map(\.price).max() : nil
        lastUpdateId = snapshot.lastUpdateId
        state = .awaitingFirstEvent
        for event in pending {
            let outcome = apply(event)
            if case .outOfSequence = outcome { return outcome }
        }
        return .applied
    }

    /// Drops the book and waits for a new snapshot (after a disconnect: events missed meanwhile are not replayed).
    public mutating func reset() {
        state = .awaitingSnapshot
        buffer = []
        bids = [:]
        asks = [:]
        bidFloor = nil
        askCeiling = nil
        lastUpdateId = nil
    }

    private mutating func apply(_ event: DepthDiffEvent) -> Outcome {
        guard let last = lastUpdateId else { return .buffered }
        if event.finalUpdateId <= last { return .stale }
        // Binance asks the first event to straddle the snapshot and each later one to start right after the last; an
        // event that overlaps what is applied is taken too: its levels are their states at `u`, so re-applying changes
        // already applied is harmless. That lets two connections carry the same stream during a rotation.
        let next = last &+ 1
        guard event.firstUpdateId <= next else {
            reset()
            buffer.append(event)
            return .outOfSequence(expected: next, got: event.firstUpdateId)
        }
        Self.update(&bids, with: event.bids, limit: levelLimit)
        Self.update(&asks, with: event.asks, limit: levelLimit)
        lastUpdateId = event.finalUpdateId
        state = .synced
        return .applied
    }

    private static func update(_ side: inout [ExactDecimal: ExactDecimal], with levels: [PriceLevel], limit: Int) {
        for level in levels {
            if level.quantity.isZero {
                side[level.price] = nil
            } else if side[level.price] != nil || side.count < limit {
                side[level.price] = level.quantity
            }
        }
    }

    /// The best `limit` levels per side, as `/api/v3/depth?limit=` would give them, with the last applied update id;
    /// `nil` until a snapshot is applied.
    public func top(_ limit: Int) -> OrderBookSnapshot? {
        guard state != .awaitingSnapshot, let lastUpdateId else { return nil }
        let count = max(0, limit)
        let (bidFloor, askCeiling) = (bidFloor, askCeiling)
        let bestBids = bids.filter { level in bidFloor.map { level.key >= $0 } ?? true }.sorted { $0.key > $1.key }.prefix(count)
        let bestAsks = asks.filter { level in askCeiling.map { level.key <= $0 } ?? true }.sorted { $0.key < $1.key }.prefix(count)
        return OrderBookSnapshot(
            lastUpdateId: lastUpdateId, bids: bestBids.map { PriceLevel(price: $0.key, quantity: $0.value) },
            asks: bestAsks.map { PriceLevel(price: $0.key, quantity: $0.value) })
    }

    /// Whether `top(limit)` is exact for `limit` levels a side: the known range still holds that many levels (or the
    /// whole book). When the price wanders towards the snapshot's edge the book needs a new snapshot.
    public func covers(_ limit: Int) -> Bool {
        guard let top = top(limit) else { return false }
        return (bidFloor == nil || top.bids.count >= limit) && (askCeiling == nil || top.asks.count >= limit)
    }
}
