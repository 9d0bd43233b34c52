public import MarketData

/// Where a market's book sits at one moment: best bid and ask, the distance between levels (`tick`, a multiple of the
/// symbol's tick size) and the size of a lot, in ``ExactDecimal`` units.
public struct BookAnchor: Sendable, Hashable {
    public var bestBid: Int128
    public var bestAsk: Int128
    public var tick: Int128
    public var lot: Int128
    /// Lots of a typical level.
    public var typicalLots: Int64

    public init(bestBid: Int128, bestAsk: Int128, tick: Int128, lot: Int128, typicalLots: Int64) {
        self.bestBid = bestBid
        self.bestAsk = bestAsk
        self.tick = max(1, tick)
        self.lot = max(1, lot)
        self.typicalLots = max(1, typicalLots)
    }
}

/// The simulated order book as a function of time, shared by the REST snapshot and the diff stream so that they agree
/// to the level: the book of update id `n` is the book at the end of 100 ms slot `n - base`.
///
/// Levels sit on whole ticks from the best bid down and the best ask up, ``depth`` a side. A level's quantity changes
/// once a minute, at a second that depends on its price, so a second's diff holds about 1/60 of the levels plus what a
/// move of the best prices adds or removes; between changes no event is due, as the issue allows.
public struct SimulatedBook: Sendable {
    /// Levels a side.
    public static let depth = 1_000

    let market: any SimulatedMarket

    public init(market: any SimulatedMarket) { self.market = market }

    /// The 100 ms slot whose end the book of `time` shows: the last one completed.
    public static func completedSlot(at time: Int64) -> Int64 { time / 100 - 1 }

    /// Update ids per symbol start far apart, as on Binance, where each symbol has its own sequence.
    public static func updateId(_ symbol: Symbol, slot: Int64) -> Int64 {
        Int64(SyntheticMarket.fnv1a(symbol.rawValue) % 1_000_000) * 1_000_000_000 + slot
    }

    static func slotEnd(_ slot: Int64) -> Int64 { slot * 100 + 99 }

    /// The best `limit` levels a side at the end of `slot`, with that slot's update id.
    public func book(_ symbol: Symbol, slot: Int64, limit: Int) -> OrderBookSnapshot {
        let time = Self.slotEnd(slot)
        guard let anchor = market.bookAnchor(symbol, at: time) else {
            return OrderBookSnapshot(lastUpdateId: Self.updateId(symbol, slot: slot), bids: [], asks: [])
        }
        let count = min(max(0, limit), Self.depth)
        let key = SyntheticMarket.fnv1a(symbol.rawValue)
        let bestBid = anchor.bestBid / anchor.tick
        let bestAsk = anchor.bestAsk / anchor.tick
        var bids: [PriceLevel] = []
        var asks: [PriceLevel] = []
        bids.reserveCapacity(count)
        asks.reserveCapacity(count)
        for index in 0..<Int128(count) {
            let bid = bestBid - index
            if bid > 0 { bids.append(level(key, anchor, tickIndex: bid, time: time)) }
            asks.append(level(key, anchor, tickIndex: bestAsk + index, time: time))
        }
        return OrderBookSnapshot(lastUpdateId: Self.updateId(symbol, slot: slot), bids: bids, asks: asks)
    }

    /// The levels that differ between the ends of slots `from` and `to` (`from` < `to`), as a diff event's bids and asks
    /// (quantity 0 for a level gone); `nil` when nothing changed.
    public func diff(_ symbol: Symbol, from: Int64, to: Int64) -> (bids: [PriceLevel], asks: [PriceLevel])? {
        let (before, after) = (Self.slotEnd(from), Self.slotEnd(to))
        let old = market.bookAnchor(symbol, at: before)
        let new = market.bookAnchor(symbol, at: after)
        let (secondBefore, secondAfter) = (before / 1_000, after / 1_000)
        if old == new, secondBefore == secondAfter { return nil }
        guard let old, let new, old.tick == new.tick, old.lot == new.lot, old.typicalLots == new.typicalLots,
            secondAfter - secondBefore < 60
        else { return fullDiff(symbol, from: from, to: to) }
        let key = SyntheticMarket.fnv1a(symbol.rawValue)
        var sides: [[PriceLevel]] = []
        for side in [BookSide.bid, .ask] {
            let (oldWindow, newWindow) = (window(old, side: side), window(new, side: side))
            guard oldWindow.overlaps(newWindow) else { return fullDiff(symbol, from: from, to: to) }
            var candidates = Set<Int128>()
            // Levels whose quantity turned over in the seconds passed: level p turns over when (second + p) % 60 == 0.
            let low = min(oldWindow.lowerBound, newWindow.lowerBound)
            let high = max(oldWindow.upperBound, newWindow.upperBound)
            for second in (secondBefore + 1)...max(secondBefore + 1, secondAfter) where second <= secondAfter {
                let residue = Int128((60 - second % 60) % 60)
                var price = low + ((residue - low % 60) % 60 + 60) % 60
                while price < high {
                    candidates.insert(price)
                    price += 60
                }
            }
            // Levels that entered or left as the best prices moved: the two windows' edges.
            for edge in [
                min(oldWindow.lowerBound, newWindow.lowerBound)..<max(oldWindow.lowerBound, newWindow.lowerBound),
                min(oldWindow.upperBound, newWindow.upperBound)..<max(oldWindow.upperBound, newWindow.upperBound),
            ] {
                candidates.formUnion(edge)
            }
            var changed: [PriceLevel] = []
            for price in candidates {
                let was = oldWindow.contains(price) ? quantity(key, old, tickIndex: price, time: before) : 0
                let now = newWindow.contains(price) ? quantity(key, new, tickIndex: price, time: after) : 0
                if was != now {
                    changed.append(PriceLevel(price: ExactDecimal(units: price * new.tick), quantity: ExactDecimal(units: now)))
                }
            }
            sides.append(side == .bid ? changed.sorted { $0.price > $1.price } : changed.sorted { $0.price < $1.price })
        }
        return sides[0].isEmpty && sides[1].isEmpty ? nil : (sides[0], sides[1])
    }

    /// The last slot at or before `slot` in which the book changed (levels turn over every second, so it is at most ten
    /// slots back).
    public func lastChange(_ symbol: Symbol, atOrBefore slot: Int64) -> Int64 {
        var candidate = slot
        while candidate > slot - 20 {
            if diff(symbol, from: candidate - 1, to: candidate) != nil { return candidate }
            candidate -= 1
        }
        return slot
    }

    /// The diff of two whole books, for changes of tick or lot, jumps and long pauses.
    private func fullDiff(_ symbol: Symbol, from: Int64, to: Int64) -> (bids: [PriceLevel], asks: [PriceLevel])? {
        let old = book(symbol, slot: from, limit: Self.depth)
        let new = book(symbol, slot: to, limit: Self.depth)
        func changes(_ before: [PriceLevel], _ after: [PriceLevel]) -> [PriceLevel] {
            let was = Dictionary(before.map { ($0.price, $0.quantity) }, uniquingKeysWith: { first, _ in first })
            let now = Dictionary(after.map { ($0.price, $0.quantity) }, uniquingKeysWith: { first, _ in first })
            var result = after.filter { was[$0.price] != $0.quantity }
            result += before.filter { now[$0.price] == nil }.map { PriceLevel(price: $0.price, quantity: .zero) }
            return result
        }
        let bids = changes(old.bids, new.bids).sorted { $0.price > $1.price }
        let asks = changes(old.asks, new.asks).sorted { $0.price < $1.price }
        return bids.isEmpty && asks.isEmpty ? nil : (bids, asks)
    }

    /// The tick indices of one side's levels.
    private func window(_ anchor: BookAnchor, side: BookSide) -> Range<Int128> {
        switch side {
        case .bid:
            let best = anchor.bestBid / anchor.tick
            return max(1, best - Int128(Self.depth) + 1)..<max(1, best + 1)
        case .ask:
            let best = anchor.bestAsk / anchor.tick
            return best..<(best + Int128(Self.depth))
        }
    }

    private func level(_ key: UInt64, _ anchor: BookAnchor, tickIndex: Int128, time: Int64) -> PriceLevel {
        PriceLevel(
            price: ExactDecimal(units: tickIndex * anchor.tick),
            quantity: ExactDecimal(units: quantity(key, anchor, tickIndex: tickIndex, time: time)))
    }

    /// A level's quantity in units: a whole number of lots, renewed once a minute at a second set by its price.
    private func quantity(_ key: UInt64, _ anchor: BookAnchor, tickIndex: Int128, time: Int64) -> Int128 {
        let price = UInt64(truncatingIfNeeded: tickIndex)
        let epoch = (time / 1_000 + Int64(price % 60)) / 60
        let roll = SyntheticMarket.unit(SyntheticMarket.hash(SyntheticMarket.hash(key, price), UInt64(bitPattern: epoch)))
        let lots = max(1, Int64(Double(anchor.typicalLots) * (0.1 + 3 * roll)))
        return Int128(lots) * anchor.lot
    }
}

extension BookAnchor {
    /// A book around `price` whose levels lie `spacing` apart: the smallest power-of-ten multiple of `tick` of at least
    /// 1/50,000 of the price, so a book of ``SimulatedBook/depth`` levels spans ±2–20 % and a snapshot of a few hundred
    /// levels stays exact for as long as a real one (the price wanders a few levels a minute).
    static func around(price: Int128, tick: Int128, spreadLevels: Int128, lot: Int128, typicalLots: Int64) -> BookAnchor {
        let tick = max(1, tick)
        var spacing = tick
        while spacing < price / 50_000, spacing < Int128(Int64.max) { spacing *= 10 }
        let bestBid = max(spacing, price / spacing * spacing - (spreadLevels / 2) * spacing)
        return BookAnchor(
            bestBid: bestBid, bestAsk: bestBid + max(1, spreadLevels) * spacing, tick: spacing, lot: lot, typicalLots: typicalLots)
    }
}

extension SimulatedMarket {
    /// The order book served at `now`: the last completed slot's, with its update id.
    public func orderBook(_ symbol: Symbol, now: Int64, limit: Int) -> OrderBookSnapshot {
        SimulatedBook(market: self).book(symbol, slot: SimulatedBook.completedSlot(at: now), limit: limit)
    }
}
