public import MarketData

/// One order-book snapshot as the warehouse stores it: one row per snapshot, each side a short JSON array of integer
/// pairs (the layout of `orderbook_snapshots`; `fact_orderbook` is a view over it on both backends).
///
/// A book's prices sit a few ticks apart and its quantities are multiples of the symbol's lot, so each level is kept as
/// `[steps, lots]`: the distance in ticks from the level before it (the first level: its price in ticks) and its
/// quantity in lots, with `priceTick` and `quantityLot` the greatest common divisors of the snapshot's prices and
/// quantities in 10⁻⁸ units. A BTCUSDT level is `[1,1234],`: about 11 bytes instead of 67 as a row of text decimals, and
/// still plain JSON that SQL can unfold (`json_each`, `JSON_TABLE`) into the old columns, exactly.
///
/// Values outside 0…2⁶²−1 units (no exchange quotes them, but a lake object may hold them) keep the snapshot in the plain
/// form instead: `priceTick` 0 and `["price","quantity"]` pairs of canonical decimal text. Within one side a price seen
/// twice keeps its first level (as the old primary key did), and levels are numbered densely from 0.
public struct CompactOrderBook: Sendable, Hashable {
    public var lastUpdateId: Int64
    /// Price unit of the steps in 10⁻⁸; 0 marks the plain form.
    public var priceTick: Int64
    /// Quantity unit in 10⁻⁸.
    public var quantityLot: Int64
    /// Bid and ask levels stored.
    public var levelCount: Int
    public var bids: String
    public var asks: String

    public init(lastUpdateId: Int64, priceTick: Int64, quantityLot: Int64, levelCount: Int, bids: String, asks: String) {
        self.lastUpdateId = lastUpdateId
        self.priceTick = priceTick
        self.quantityLot = quantityLot
        self.levelCount = levelCount
        self.bids = bids
        self.asks = asks
    }

    /// The largest value (in 10⁻⁸ units) kept in the compact form: twice it still fits `Int64`, which the views'
    /// arithmetic on bids needs.
    static let compactLimit = Int128(Int64.max / 2)

    public init(_ book: OrderBookSnapshot) {
        let bids = Self.firstOfEachPrice(book.bids, descending: true)
        let asks = Self.firstOfEachPrice(book.asks, descending: false)
        let levels = bids + asks
        lastUpdateId = book.lastUpdateId
        levelCount = levels.count
        guard levels.allSatisfy({ (0...Self.compactLimit).contains($0.price.units) && (0...Self.compactLimit).contains($0.quantity.units) })
        else {
            (priceTick, quantityLot) = (0, 1)
            self.bids = Self.plainText(bids)
            self.asks = Self.plainText(asks)
            return
        }
        let tick = Self.greatestCommonDivisor(levels.lazy.map { Int64($0.price.units) })
        let lot = Self.greatestCommonDivisor(levels.lazy.map { Int64($0.quantity.units) })
        (priceTick, quantityLot) = (tick, lot)
        self.bids = Self.compactText(bids, tick: tick, lot: lot, descending: true)
        self.asks = Self.compactText(asks, tick: tick, lot: lot, descending: false)
    }

    /// The first `limit` levels of each side, best first; a malformed side (the warehouse's file was edited or damaged)
    /// is an error, never a trap.
    public func levels(limit: Int) throws(CompactOrderBookError) -> (bids: [PriceLevel], asks: [PriceLevel]) {
        (
            try Self.levels(bids, limit: limit, tick: priceTick, lot: quantityLot, descending: true),
            try Self.levels(asks, limit: limit, tick: priceTick, lot: quantityLot, descending: false)
        )
    }

    // MARK: Encoding

    static func firstOfEachPrice(_ levels: [PriceLevel], descending: Bool) -> [PriceLevel] {
        // A side in order (as the exchange sends it) has no price twice; only another needs the set.
        let ordered = zip(levels, levels.dropFirst()).allSatisfy { descending ? $0.price > $1.price : $0.price < $1.price }
        if ordered { return levels }
        var seen = Set<ExactDecimal>(minimumCapacity: levels.count)
        return levels.filter { seen.insert($0.price).inserted }
    }

    /// The greatest common divisor of the non-zero values; 1 when there are none.
    static func greatestCommonDivisor(_ values: some Sequence<Int64>) -> Int64 {
        var divisor: Int64 = 0
        for value in values where value != 0 {
            var (a, b) = (divisor, value)
            while b != 0 { (a, b) = (b, a % b) }
            divisor = a
            if divisor == 1 { break }
        }
        return divisor == 0 ? 1 : divisor
    }

    static func compactText(_ levels: [PriceLevel], tick: Int64, lot: Int64, descending: Bool) -> String {
        var bytes: [UInt8] = [UInt8(ascii: "[")]
        bytes.reserveCapacity(levels.count * 12 + 2)
        var previous: Int64 = 0
        for (index, level) in levels.enumerated() {
            // Every value is a multiple of its divisor and within 0…2⁶²−1, so neither the division nor the difference can
            // overflow.
            let ticks = Int64(level.price.units) / tick
            let steps = index == 0 ? ticks : descending ? previous - ticks : ticks - previous
            previous = ticks
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            bytes.append(UInt8(ascii: "["))
            appendDecimal(steps, to: &bytes)
            bytes.append(UInt8(ascii: ","))
            appendDecimal(Int64(level.quantity.units) / lot, to: &bytes)
            bytes.append(UInt8(ascii: "]"))
        }
        bytes.append(UInt8(ascii: "]"))
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `value` in decimal digits, without the allocation of `String(value)`.
    static func appendDecimal(_ value: Int64, to bytes: inout [UInt8]) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        // Room for the 19 digits of `Int64.min`'s magnitude.
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        withUnsafeMutableBytes(of: &digits) { buffer in
            var start = buffer.count
            repeat {
                start -= 1
                buffer[start] = UInt8(truncatingIfNeeded: magnitude % 10) + 48
                magnitude /= 10
            } while magnitude > 0
            bytes.append(contentsOf: buffer[start...])
        }
    }

    static func plainText(_ levels: [PriceLevel]) -> String {
        var bytes: [UInt8] = [UInt8(ascii: "[")]
        for (index, level) in levels.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            bytes.append(contentsOf: Array("[\"".utf8))
            level.price.appendCanonical(to: &bytes)
            bytes.append(contentsOf: Array("\",\"".utf8))
            level.quantity.appendCanonical(to: &bytes)
            bytes.append(contentsOf: Array("\"]".utf8))
        }
        bytes.append(UInt8(ascii: "]"))
        return String(decoding: bytes, as: UTF8.self)
    }

    // MARK: Decoding

    static func levels(
        _ text: String, limit: Int, tick: Int64, lot: Int64, descending: Bool
    ) throws(CompactOrderBookError)
        -> [PriceLevel]
    {
        var scanner = PairScanner(bytes: Array(text.utf8))
        var levels: [PriceLevel] = []
        var ticks: Int64 = 0
        var first = true
        while levels.count < limit, let (left, right) = try scanner.nextPair() {
            if tick == 0 {
                guard case .text(let price) = left, case .text(let quantity) = right else { throw scanner.error("a text pair") }
                levels.append(PriceLevel(price: price, quantity: quantity))
                continue
            }
            guard case .integer(let steps) = left, case .integer(let lots) = right, tick > 0, lot > 0 else {
                throw scanner.error("an integer pair")
            }
            let moved =
                first ? (steps, false) : descending ? ticks.subtractingReportingOverflow(steps) : ticks.addingReportingOverflow(steps)
            first = false
            ticks = moved.0
            let price = ticks.multipliedReportingOverflow(by: tick)
            let quantity = lots.multipliedReportingOverflow(by: lot)
            guard !moved.1, !price.overflow, !quantity.overflow else { throw scanner.error("values within 64 bits") }
            levels.append(
                PriceLevel(
                    price: ExactDecimal(units: Int128(price.partialValue)), quantity: ExactDecimal(units: Int128(quantity.partialValue))))
        }
        return levels
    }

    /// Reads `[[a,b],[a,b],…]` where each value is an integer or a quoted decimal; total on any bytes.
    struct PairScanner {
        enum Value {
            case integer(Int64)
            case text(ExactDecimal)
        }

        let bytes: [UInt8]
        var index = 0
        var started = false
        var finished = false

        init(bytes: [UInt8]) { self.bytes = bytes }

        func error(_ expected: String) -> CompactOrderBookError {
            CompactOrderBookError(offset: index, expected: expected)
        }

        mutating func expect(_ byte: UInt8) throws(CompactOrderBookError) {
            guard index < bytes.count, bytes[index] == byte else { throw error("'\(Character(Unicode.Scalar(byte)))'") }
            index += 1
        }

        mutating func nextPair() throws(CompactOrderBookError) -> (Value, Value)? {
            if finished { return nil }
            if !started {
                try expect(UInt8(ascii: "["))
                started = true
                if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                    finished = true
                    return nil
                }
            } else if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                finished = true
                return nil
            } else {
                try expect(UInt8(ascii: ","))
            }
            try expect(UInt8(ascii: "["))
            let left = try value()
            try expect(UInt8(ascii: ","))
            let right = try value()
            try expect(UInt8(ascii: "]"))
            return (left, right)
        }

        mutating func value() throws(CompactOrderBookError) -> Value {
            if index < bytes.count, bytes[index] == UInt8(ascii: "\"") {
                index += 1
                let start = index
                while index < bytes.count, bytes[index] != UInt8(ascii: "\"") { index += 1 }
                guard index < bytes.count else { throw error("a closing quote") }
                let decimal: ExactDecimal
                do {
                    decimal = try bytes[start..<index].withUnsafeBufferPointer { buffer throws(DecimalParseError) in
                        try ExactDecimal(bytes: buffer)
                    }
                } catch {
                    throw self.error("a decimal")
                }
                index += 1
                return .text(decimal)
            }
            var negative = false
            if index < bytes.count, bytes[index] == UInt8(ascii: "-") {
                negative = true
                index += 1
            }
            var magnitude: Int64 = 0
            let start = index
            while index < bytes.count, case let digit = bytes[index] &- 48, digit < 10 {
                let next = magnitude.multipliedReportingOverflow(by: 10)
                let sum = next.partialValue.addingReportingOverflow(Int64(digit))
                guard !next.overflow, !sum.overflow else { throw error("an integer within 64 bits") }
                magnitude = sum.partialValue
                index += 1
            }
            guard index > start else { throw error("an integer or a quoted decimal") }
            return .integer(negative ? -magnitude : magnitude)
        }
    }
}

/// A stored order-book side that is not the JSON ``CompactOrderBook`` writes.
public struct CompactOrderBookError: Error, Sendable, CustomStringConvertible {
    public var offset: Int
    public var expected: String

    public var description: String { "stored order-book levels: expected \(expected) at byte \(offset)" }
}

/// Moves order books stored one row per level (the layout before `v6-compact-books`) into ``CompactOrderBook`` rows, a
/// batch of snapshots per transaction, so a conversion that is stopped continues where it was at the next start.
/// Backends supply the storage steps; the walk, the grouping and the encoding are here once.
///
/// A snapshot whose stored values do not read as decimals (a hand-edited file) is left in the old table, and the walk
/// goes on past it: the move ends, and the old table stays with only such snapshots.
public enum OrderBookLayoutConversion {
    /// Snapshots converted per transaction.
    public static let batchSize = 500

    /// A snapshot of the old table.
    public struct SnapshotKey: Sendable, Hashable {
        public var symbol: String
        public var capturedAt: Int64

        public init(symbol: String, capturedAt: Int64) {
            self.symbol = symbol
            self.capturedAt = capturedAt
        }
    }

    /// One row of the old `fact_orderbook`; `level` is `nil` when its price or quantity is not a decimal.
    public struct LegacyLevel: Sendable {
        public var capturedAt: Int64
        public var isBid: Bool
        public var level: PriceLevel?
        public var lastUpdateId: Int64

        public init(capturedAt: Int64, isBid: Bool, level: PriceLevel?, lastUpdateId: Int64) {
            self.capturedAt = capturedAt
            self.isBid = isBid
            self.level = level
            self.lastUpdateId = lastUpdateId
        }
    }

    /// What a batch did: snapshots moved, snapshots left for unreadable values, and the last key it looked at (`nil`:
    /// none were left after the position it started from).
    public struct BatchOutcome: Sendable, Hashable {
        public var moved = 0
        public var left = 0
        public var last: SnapshotKey?

        /// Nothing moved and nothing left: also what a batch finds when the old table is gone.
        public init() {}
    }

    public protocol Steps {
        associatedtype Failure: Error
        /// Whether the old table is still there: another process may have finished the move and dropped it.
        func legacyTableExists() throws(Failure) -> Bool
        /// Keys of up to `limit` legacy snapshots after `key` (from the first when `nil`), ordered by symbol and time.
        func nextSnapshots(after key: SnapshotKey?, limit: Int) throws(Failure) -> [SnapshotKey]
        /// The rows of `symbol`'s snapshots captured in `from…through`, ordered by time, side (`ask` before `bid`) and level.
        func levels(symbol: String, from: Int64, through: Int64) throws(Failure) -> [LegacyLevel]
        /// Stores a converted snapshot (leaving one already stored as it is).
        func insert(_ book: CompactOrderBook, symbol: String, capturedAt: Int64) throws(Failure)
        func deleteLegacy(_ key: SnapshotKey) throws(Failure)
    }

    /// Converts the batch after `position` inside the caller's transaction.
    public static func convertBatch<S: Steps>(
        _ steps: S, after position: SnapshotKey?, limit: Int = batchSize
    ) throws(S.Failure)
        -> BatchOutcome
    {
        var outcome = BatchOutcome()
        guard try steps.legacyTableExists() else { return outcome }
        let keys = try steps.nextSnapshots(after: position, limit: limit)
        outcome.last = keys.last
        var bySymbol: [(symbol: String, keys: [Int64])] = []
        for key in keys {
            if let last = bySymbol.last, last.symbol == key.symbol {
                bySymbol[bySymbol.count - 1].keys.append(key.capturedAt)
            } else {
                bySymbol.append((key.symbol, [key.capturedAt]))
            }
        }
        for (symbol, times) in bySymbol {
            guard let from = times.first, let through = times.last else { continue }
            let rows = try steps.levels(symbol: symbol, from: from, through: through)
            var start = rows.startIndex
            while start < rows.endIndex {
                let capturedAt = rows[start].capturedAt
                var end = start
                while end < rows.endIndex, rows[end].capturedAt == capturedAt { end += 1 }
                let snapshot = rows[start..<end]
                start = end
                guard snapshot.allSatisfy({ $0.level != nil }) else {
                    outcome.left += 1
                    continue
                }
                let book = OrderBookSnapshot(
                    lastUpdateId: snapshot.first?.lastUpdateId ?? 0,
                    bids: snapshot.filter(\.isBid).compactMap(\.level), asks: snapshot.filter { !$0.isBid }.compactMap(\.level))
                try steps.insert(CompactOrderBook(book), symbol: symbol, capturedAt: capturedAt)
                try steps.deleteLegacy(SnapshotKey(symbol: symbol, capturedAt: capturedAt))
                outcome.moved += 1
            }
        }
        return outcome
    }
}
