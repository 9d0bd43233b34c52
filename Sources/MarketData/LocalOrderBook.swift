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
        /// A level the book has no room for, or a run of events it already had: the book is discarded, as for a gap.
        case discarded(reason: String)
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
    /// Events, and their levels, held while no snapshot is applied; beyond either the oldest go (the snapshot they wait
    /// for is then too new for them anyway), so memory stays bounded whatever the stream sends and however long
    /// snapshots are paused.
    public let bufferLimit: Int
    public let bufferedLevelLimit: Int
    private var bufferedLevels = 0
    /// Events in a row that the book already had; a stream that only repeats itself (or one event claiming a range to
    /// the end of time) would otherwise freeze the book while it looks synced.
    private var staleRun = 0
    static let staleRunLimit = 1_000
    /// An event spanning more update ids than this is not believed.
    static let maximumSpan: Int64 = 100_000_000
    /// Levels kept per side; a stream that adds levels without end cannot grow the book without end.
    public let levelLimit: Int

    public init(symbol: Symbol, bufferLimit: Int = 1_000, bufferedLevelLimit: Int = 20_000, levelLimit: Int = 20_000) {
        self.symbol = symbol
        self.bufferLimit = max(1, bufferLimit)
        self.bufferedLevelLimit = max(1, bufferedLevelLimit)
        self.levelLimit = max(1, levelLimit)
    }

    public var bufferedEvents: Int { buffer.count }

    /// Takes one diff event.
    public mutating func receive(_ event: DepthDiffEvent) -> Outcome {
        switch state {
        case .awaitingSnapshot:
            hold(event)
            return .buffered
        case .awaitingFirstEvent, .synced:
            return apply(event)
        }
    }

    /// Applies a REST snapshot and the buffered events it does not contain.
    /// `limit` is the limit the snapshot was asked for: a side with that many levels may have had more.
    public mutating func applySnapshot(_ snapshot: OrderBookSnapshot, limit: Int) -> Outcome {
        // In update-id order: while two connections carry the stream (a rotation), their events interleave in the
        // buffer; copies of one event become stale once the first is applied.
        let pending = buffer.filter { $0.finalUpdateId > snapshot.lastUpdateId }.sorted {
            ($0.firstUpdateId, $0.finalUpdateId) < ($1.firstUpdateId, $1.finalUpdateId)
        }
        if let first = pending.first, first.firstUpdateId > snapshot.lastUpdateId &+ 1 {
            buffer = pending
            return .snapshotTooOld(lastUpdateId: snapshot.lastUpdateId, firstBuffered: first.firstUpdateId)
        }
        buffer = []
        bufferedLevels = 0
        staleRun = 0
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
            switch outcome {
            case .outOfSequence, .discarded: return outcome
            default: continue
            }
        }
        return .applied
    }

    private mutating func hold(_ event: DepthDiffEvent) {
        let levels = event.bids.count + event.asks.count
        while !buffer.isEmpty, buffer.count >= bufferLimit || bufferedLevels + levels > bufferedLevelLimit {
            let dropped = buffer.removeFirst()
            bufferedLevels -= dropped.bids.count + dropped.asks.count
        }
        buffer.append(event)
        bufferedLevels += levels
    }

    /// Drops the book and waits for a new snapshot (after a disconnect: events missed meanwhile are not replayed).
    public mutating func reset() {
        state = .awaitingSnapshot
        buffer = []
        bufferedLevels = 0
        staleRun = 0
        bids = [:]
        asks = [:]
        bidFloor = nil
        askCeiling = nil
        lastUpdateId = nil
    }

    private mutating func apply(_ event: DepthDiffEvent) -> Outcome {
        guard let last = lastUpdateId else { return .buffered }
        if event.finalUpdateId <= last {
            staleRun += 1
            guard staleRun < Self.staleRunLimit else {
                reset()
                return .discarded(reason: "\(Self.staleRunLimit) events in a row the book already had")
            }
            return .stale
        }
        staleRun = 0
        let (span, overflow) = event.finalUpdateId.subtractingReportingOverflow(event.firstUpdateId)
        guard !overflow, span <= Self.maximumSpan else {
            reset()
            return .discarded(reason: "an event spans update ids \(event.firstUpdateId) to \(event.finalUpdateId)")
        }
        // Binance asks the first event to straddle the snapshot and each later one to start right after the last; an
        // event that overlaps what is applied is taken too: its levels are their states at `u`, so re-applying changes
        // already applied is harmless. That lets two connections carry the same stream during a rotation.
        let next = last &+ 1
        guard event.firstUpdateId <= next else {
            reset()
            hold(event)
            return .outOfSequence(expected: next, got: event.firstUpdateId)
        }
        // Levels beyond the snapshot's range are never shown (see `top`), so they are not kept either.
        let (bidFloor, askCeiling) = (bidFloor, askCeiling)
        guard Self.update(&bids, with: event.bids, limit: levelLimit, keeps: { price in bidFloor.map { price >= $0 } ?? true }),
            Self.update(&asks, with: event.asks, limit: levelLimit, keeps: { price in askCeiling.map { price <= $0 } ?? true })
        else {
            reset()
            return .discarded(reason: "more than \(levelLimit) levels on a side")
        }
        lastUpdateId = event.finalUpdateId
        state = .synced
        return .applied
    }

    /// Applies `levels` within the range `keeps` accepts; `false` when one does not fit under `limit`.
    private static func update(
        _ side: inout [ExactDecimal: ExactDecimal], with levels: [PriceLevel], limit: Int, keeps: (ExactDecimal) -> Bool
    ) -> Bool {
        for level in levels where keeps(level.price) {
            if level.quantity.isZero {
                side[level.price] = nil
            } else if side[level.price] != nil || side.count < limit {
                side[level.price] = level.quantity
            } else {
                return false
            }
        }
        return true
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
