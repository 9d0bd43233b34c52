package import MarketData

/// What a backend knows of a stored candle when deciding whether a load replaces it.
package struct StoredCandleState: Sendable, Hashable {
    package var isFinal: Bool
    package var capturedAt: Int64

    package init(isFinal: Bool, capturedAt: Int64) {
        self.isFinal = isFinal
        self.capturedAt = capturedAt
    }
}

/// The storage steps a load of candles needs, all inside one write transaction. The decisions (which rows are
/// written, which hours and days become pending, when a batch's own roll-ups may be stored) are ``CandleLoading``'s.
package protocol CandleLoadStore: RollupStore {
    /// The stored candles of `interval` opening at `openTimes` (ascending, distinct), by open time; a backend with
    /// concurrent writers locks them until commit. Read as one range when ``CandleLoading/isDense(_:)`` says so, else
    /// by key, so a page whose candles lie years apart does not read the years between.
    func storedCandles(symbol: Symbol, interval: Interval, openTimes: [Int64]) throws -> [Int64: StoredCandleState]
    /// Inserts a dump file's or a lake page's 1m candles into a range that holds none: the fast path, which may bind the
    /// batch's text.
    func insertIntoEmptyRange(_ batch: KlineBatch, symbol: Symbol, capturedAt: Int64) throws
    /// Inserts or overwrites these candles (the rows ``CandleLoading`` chose), `is_final` from `capturedAt`.
    func write(_ klines: [Kline], symbol: Symbol, interval: Interval, capturedAt: Int64) throws
    /// Inserts or updates the object's `processed_files` row.
    func recordProcessed(_ object: ProcessedObject, rows: Int, unchanged: Int) throws
    /// Whether the backend keeps the complete hours a load brings (``RollupStore/knownCompleteHours(symbol:openTimes:)``),
    /// so ``CandleLoading/load(_:_:batch:symbol:interval:capturedAt:object:)`` computes them. The default keeps none.
    var remembersCompleteHours: Bool { get }
}

extension CandleLoadStore {
    package var remembersCompleteHours: Bool { false }
}

/// Loads of candles, written once for every backend.
///
/// The rule: a new candle is stored; a stored candle that was still open when captured is replaced by a final capture
/// or a later one; a final candle is never rewritten (a re-fetch, a replayed object or an old dump cannot change what
/// the exchange closed). Hours whose final minutes changed are marked for ``RollupAlgorithm``.
package enum CandleLoading {
    /// Whether the stored rows of `openTimes` (ascending) are cheaper to read as one range than one by one: the range
    /// holds at most two minutes per candle asked for.
    package static func isDense(_ openTimes: [Int64]) -> Bool {
        guard let first = openTimes.first, let last = openTimes.last else { return true }
        let (span, overflow) = last.subtractingReportingOverflow(first)
        return !overflow && span / 60_000 < 2 * Int64(openTimes.count)
    }

    /// Whether a candle captured at `capturedAt` (final or not) replaces the stored row.
    package static func replaces(_ stored: StoredCandleState?, isFinal: Bool, capturedAt: Int64) -> Bool {
        guard let stored else { return true }
        return !stored.isFinal && (isFinal || capturedAt > stored.capturedAt)
    }

    /// One object's candles and its ledger row. With `batch` (the same candles, prepared: an import, or a page the
    /// transform prepared) into a range that held nothing, the batch is inserted as it is and its complete hours are
    /// stored from its own roll-ups, so they are not read back from the minutes; the rest of its hours and its days are
    /// left pending.
    ///
    /// Returns the result, and for a plain load of ascending minutes into an empty range its complete hours, which a
    /// backend may remember (``RollupStore/knownCompleteHours(symbol:openTimes:)``) once committed.
    package static func load(
        _ store: some CandleLoadStore, _ klines: [Kline], batch: KlineBatch? = nil, symbol: Symbol, interval: Interval,
        capturedAt: Int64, object: ProcessedObject
    ) throws -> (result: LoadResult, completeHours: [KlineBatch.HourRollup]) {
        guard !klines.isEmpty else {
            try store.recordProcessed(object, rows: 0, unchanged: 0)
            return (LoadResult(rowsWritten: 0, rowsUnchanged: 0), [])
        }
        // Pages come ascending; a hostile or hand-made one may not, or may repeat a candle.
        let ascending = zip(klines, klines.dropFirst()).allSatisfy { $0.openTime < $1.openTime }
        let openTimes = ascending ? klines.map(\.openTime) : Set(klines.map(\.openTime)).sorted()
        let stored = try store.storedCandles(symbol: symbol, interval: interval, openTimes: openTimes)
        // Only a range read (a dense page) shows the page's range empty: read by key, a page of a few minutes far apart
        // could take an hour whose other minutes are stored for complete.
        if stored.isEmpty, ascending, isDense(openTimes), let batch, batch.klines.count == klines.count, interval == .oneMinute {
            try store.insertIntoEmptyRange(batch, symbol: symbol, capturedAt: capturedAt)
            let plan = RollupAlgorithm.importPlan(klines, hours: batch.hours, capturedAt: capturedAt)
            try store.storeHours(plan.complete.map { ($0.candle, Int64($0.minuteCount), true) }, symbol: symbol)
            try store.markPending(symbol: symbol, period: .hour, openTimes: plan.pendingHours)
            try store.markPending(symbol: symbol, period: .day, openTimes: plan.days)
            try store.recordProcessed(object, rows: klines.count, unchanged: 0)
            return (LoadResult(rowsWritten: klines.count, rowsUnchanged: 0), [])
        }
        // Applied candle by candle, so a page that repeats a candle (a hostile object) keeps its first copy: the second
        // was captured no later.
        let repeats = openTimes.count < klines.count
        var states = stored
        var kept: [Int] = []
        kept.reserveCapacity(klines.count)
        var touchedHours = Set<Int64>()
        for (index, kline) in klines.enumerated() {
            let isFinal = kline.isClosed(at: capturedAt)
            guard replaces(states[kline.openTime], isFinal: isFinal, capturedAt: capturedAt) else { continue }
            if repeats { states[kline.openTime] = StoredCandleState(isFinal: isFinal, capturedAt: capturedAt) }
            if isFinal { touchedHours.insert(Interval.oneHour.openTime(containing: kline.openTime)) }
            kept.append(index)
        }
        // A page of new candles (the usual case) is written as it came, without a copy.
        let changed = kept.count == klines.count ? klines : kept.map { klines[$0] }
        try store.write(changed, symbol: symbol, interval: interval, capturedAt: capturedAt)
        if interval == .oneMinute { try store.markPending(symbol: symbol, period: .hour, openTimes: touchedHours) }
        try store.recordProcessed(object, rows: klines.count, unchanged: klines.count - changed.count)
        var complete: [KlineBatch.HourRollup] = []
        if store.remembersCompleteHours, stored.isEmpty, interval == .oneMinute, ascending {
            complete = RollupAlgorithm.importPlan(klines, hours: KlineBatch.hourRollups(klines), capturedAt: capturedAt).complete
        }
        return (LoadResult(rowsWritten: changed.count, rowsUnchanged: klines.count - changed.count), complete)
    }
}
