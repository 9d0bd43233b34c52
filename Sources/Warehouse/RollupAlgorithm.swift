package import MarketData

/// The storage steps incremental roll-ups need, all inside one write transaction. Each SQL backend implements
/// these few statements; the algorithm (``RollupAlgorithm``) is written once, so both compute identical candles.
package protocol RollupStore {
    /// Pending marks of a period, ordered by symbol and open time.
    func pending(period: RollupPeriod) throws -> [(symbol: String, openTime: Int64)]
    func clearPending(period: RollupPeriod) throws
    func markPending(symbol: Symbol, period: RollupPeriod, openTimes: Set<Int64>) throws
    /// Open time of the symbol's newest final 1m candle, `.min` when it has none.
    func newestFinalMinute(_ symbol: String) throws -> Int64
    /// Candles of `interval` (1m final only; 1h all) with open time in `[from, to]`, ascending.
    func parts(symbol: Symbol, interval: Interval, from: Int64, to: Int64) throws -> [Kline]
    /// Sum of `minute_count` of the stored hours in `[from, to]`.
    func minuteCount(symbol: Symbol, from: Int64, to: Int64) throws -> Int64
    /// The stored hour's minute count and finality, `nil` when no row exists.
    func storedHour(symbol: Symbol, openTime: Int64) throws -> (minuteCount: Int64, isFinal: Bool)?
    /// Inserts or replaces one hourly or daily row.
    func store(_ table: RollupTable, symbol: Symbol, candle: Kline, minuteCount: Int64, isFinal: Bool) throws
    /// Removes the row of a candle that is still open; final rows stay.
    func deleteOpen(_ table: RollupTable, symbol: Symbol, openTime: Int64) throws
    /// Hours among `openTimes` whose candle the backend already knows without reading minutes: complete hours of 60
    /// final minutes it loaded itself, which can no longer change. The default knows none.
    func knownCompleteHours(symbol: Symbol, openTimes: [Int64]) -> [Int64: KlineBatch.HourRollup]
    /// Stores several hourly candles under ``RollupAlgorithm/storeCandle(_:_:symbol:candle:minuteCount:isFinal:)``'s
    /// rule; a backend may do it in one statement. The default stores them one by one.
    func storeHours(_ hours: [(candle: Kline, minuteCount: Int64, isFinal: Bool)], symbol: Symbol) throws
}

extension RollupStore {
    package func knownCompleteHours(symbol: Symbol, openTimes: [Int64]) -> [Int64: KlineBatch.HourRollup] { [:] }

    package func storeHours(_ hours: [(candle: Kline, minuteCount: Int64, isFinal: Bool)], symbol: Symbol) throws {
        for hour in hours {
            try RollupAlgorithm.storeCandle(
                self, .hourly, symbol: symbol, candle: hour.candle, minuteCount: hour.minuteCount, isFinal: hour.isFinal)
        }
    }
}

/// The periods roll-ups are kept for, as `rollup_pending.period` stores them.
package enum RollupPeriod: String, Sendable, Hashable {
    case hour = "1h"
    case day = "1d"
}

package enum RollupTable: String, Sendable {
    case hourly = "hourly_klines"
    case daily = "daily_klines"
}

/// Hourly candles from final minutes, daily candles from hourly ones, recomputed only where inputs changed.
///
/// Candle values and open times come from outside, so a period can be impossible to compute exactly: a volume or trade
/// count sum that overflows, or an open time so near `Int64.max` that the period's end does not fit. Such a period is
/// neither trapped on nor stored wrong: it stays pending (with the day that contains it, which would otherwise be summed
/// without it), is reported as a ``RollupFailure``, and every other period is computed. It is tried again on every
/// roll-up, so a reload that corrects its minutes fixes it.
package enum RollupAlgorithm {
    /// ``rollUpPending(_:failures:)`` with the failures in the report, which is what the warehouses return.
    package static func rollUpPending(_ store: some RollupStore) throws -> RollupReport {
        var failures: [RollupFailure] = []
        var report = try rollUpPending(store, failures: &failures)
        report.failures = failures.map(\.description)
        return report
    }

    /// ``rollUpPending(_:)``, appending each period left pending because it cannot be computed to `failures`, for the
    /// caller to log.
    package static func rollUpPending(_ store: some RollupStore, failures: inout [RollupFailure]) throws -> RollupReport {
        var pass = Pass()
        try rollUpHours(store, &pass, failures: &failures)
        try rollUpDays(store, &pass, failures: &failures)
        return pass.report
    }

    /// What one roll-up learns on the way from hours to days, per symbol.
    struct Pass {
        var report = RollupReport()
        var newestFinalMinute: [String: Int64] = [:]
        /// Days holding an hour that was computed: they are recomputed after the hours.
        var touchedDays: [String: Set<Int64>] = [:]
        /// Days holding an hour that could not be computed: they wait for it rather than being summed without it.
        var blockedDays: [String: Set<Int64>] = [:]
    }

    /// Computes every pending hour, leaving pending those that cannot be computed, and marks their days.
    static func rollUpHours(_ store: some RollupStore, _ pass: inout Pass, failures: inout [RollupFailure]) throws {
        var failedHours: [String: Set<Int64>] = [:]
        let hoursBySymbol = Dictionary(grouping: try store.pending(period: .hour), by: \.symbol).mapValues { $0.map(\.openTime) }
        for (symbolText, hours) in hoursBySymbol.sorted(by: { $0.key < $1.key }) {
            guard let symbol = try? Symbol(symbolText) else { continue }
            let newest = try store.newestFinalMinute(symbolText)
            pass.newestFinalMinute[symbolText] = newest
            let known = store.knownCompleteHours(symbol: symbol, openTimes: hours)
            try store.storeHours(
                known.sorted(by: { $0.key < $1.key }).map { hour, rollup in
                    (rollup.candle, Int64(rollup.minuteCount), isFinal(newest, period: hour, lastPartOffset: 3_540_000))
                }, symbol: symbol)
            for hour in known.keys { pass.touchedDays[symbolText, default: []].insert(Interval.oneDay.openTime(containing: hour)) }
            pass.report.hours += known.count
            // Pending hours come in runs (a cycle touches the latest hour or two; a rebuild touches all): one range
            // query per run of consecutive hours, so hours far apart (the edges of many loads) never read the minutes
            // between them.
            for run in runs(of: hours.filter { known[$0] == nil }, maximumGap: 3_600_000) {
                guard let first = run.first, let last = run.last else { continue }
                // An inclusive bound past `Int64.max` saturates; the hour itself is refused below.
                let (runEnd, runEndOverflows) = last.addingReportingOverflow(3_599_999)
                let minutes = try store.parts(symbol: symbol, interval: .oneMinute, from: first, to: runEndOverflows ? .max : runEnd)
                let byHour = Dictionary(grouping: minutes, by: { Interval.oneHour.openTime(containing: $0.openTime) })
                for hour in run {
                    let day = Interval.oneDay.openTime(containing: hour)
                    let parts = byHour[hour] ?? []
                    do {
                        // An hour is final once its last minute is: later minutes can no longer change it.
                        try storeRollup(
                            store, .hourly, symbol: symbol, open: hour, length: 3_600_000, parts: parts,
                            minuteCount: Int64(parts.count), isFinal: isFinal(newest, period: hour, lastPartOffset: 3_540_000))
                    } catch let reason as RollupFailure.Reason {
                        failures.append(RollupFailure(symbol: symbolText, period: .hour, openTime: hour, reason: reason))
                        failedHours[symbolText, default: []].insert(hour)
                        pass.blockedDays[symbolText, default: []].insert(day)
                        continue
                    }
                    pass.touchedDays[symbolText, default: []].insert(day)
                    pass.report.hours += 1
                }
            }
        }
        try store.clearPending(period: .hour)
        for (symbolText, hours) in failedHours {
            guard let symbol = try? Symbol(symbolText) else { continue }
            try store.markPending(symbol: symbol, period: .hour, openTimes: hours)
        }
        for (symbolText, days) in pass.touchedDays {
            guard let symbol = try? Symbol(symbolText) else { continue }
            try store.markPending(symbol: symbol, period: .day, openTimes: days)
        }
    }

    /// Computes every pending day from its hours, except days still waiting for an hour; days that cannot be computed
    /// stay pending.
    static func rollUpDays(_ store: some RollupStore, _ pass: inout Pass, failures: inout [RollupFailure]) throws {
        var failedDays: [String: Set<Int64>] = pass.blockedDays
        for (symbolText, day) in try store.pending(period: .day) {
            guard let symbol = try? Symbol(symbolText) else { continue }
            if pass.blockedDays[symbolText]?.contains(day) == true { continue }
            let (dayEnd, dayEndOverflows) = day.addingReportingOverflow(86_399_999)
            guard !dayEndOverflows else {
                failures.append(RollupFailure(symbol: symbolText, period: .day, openTime: day, reason: .periodOutOfRange))
                failedDays[symbolText, default: []].insert(day)
                continue
            }
            let hours = try store.parts(symbol: symbol, interval: .oneHour, from: day, to: dayEnd)
            let minuteCount = try store.minuteCount(symbol: symbol, from: day, to: dayEnd)
            // A day is final once its last minute is. Imports mark days without pending hours, so the symbol's
            // newest final minute may not be known yet.
            let newest = try pass.newestFinalMinute[symbolText] ?? store.newestFinalMinute(symbolText)
            pass.newestFinalMinute[symbolText] = newest
            do {
                try storeRollup(
                    store, .daily, symbol: symbol, open: day, length: 86_400_000, parts: hours, minuteCount: minuteCount,
                    isFinal: isFinal(newest, period: day, lastPartOffset: 86_340_000))
            } catch let reason as RollupFailure.Reason {
                failures.append(RollupFailure(symbol: symbolText, period: .day, openTime: day, reason: reason))
                failedDays[symbolText, default: []].insert(day)
                continue
            }
            pass.report.days += 1
        }
        try store.clearPending(period: .day)
        for (symbolText, days) in failedDays {
            guard let symbol = try? Symbol(symbolText) else { continue }
            try store.markPending(symbol: symbol, period: .day, openTimes: days)
        }
    }

    /// Whether a period is final: its last part (opening `lastPartOffset` after it) is a final minute. A period whose
    /// last part would open past `Int64.max` is not.
    static func isFinal(_ newestFinalMinute: Int64, period: Int64, lastPartOffset: Int64) -> Bool {
        let (lastPart, overflow) = period.addingReportingOverflow(lastPartOffset)
        return !overflow && newestFinalMinute >= lastPart
    }

    /// Splits ascending times into runs whose neighbours are at most `maximumGap` apart.
    package static func runs(of times: [Int64], maximumGap: Int64) -> [[Int64]] {
        var runs: [[Int64]] = []
        for time in times {
            // Times at opposite ends of `Int64` are more than any gap apart, even when their difference overflows.
            if let last = runs.last?.last, case let (gap, overflow) = time.subtractingReportingOverflow(last), !overflow,
                gap <= maximumGap
            {
                runs[runs.count - 1].append(time)
            } else {
                runs.append([time])
            }
        }
        return runs
    }

    /// Writes the combined candle, or removes the row when no part exists any more; throws the reason when the period
    /// cannot be computed (its end past `Int64.max`, or a sum that overflows), leaving the stored row as it was.
    static func storeRollup(
        _ store: some RollupStore, _ table: RollupTable, symbol: Symbol, open: Int64, length: Int64, parts: [Kline],
        minuteCount: Int64, isFinal: Bool
    ) throws {
        let partDuration: Int64 = table == .daily ? 3_600_000 : 60_000
        let (close, closeOverflows) = open.addingReportingOverflow(length - 1)
        guard !closeOverflows else { throw RollupFailure.Reason.periodOutOfRange }
        let combined: Kline?
        do {
            combined = try KlineRollup.combineChecked(parts, openTime: open, closeTime: close, partDuration: partDuration)
        } catch {
            throw RollupFailure.Reason.sumOverflows(error)
        }
        guard let candle = combined else {
            // Only a candle still open can lose all its parts; a final one lost them to retention and stays.
            try store.deleteOpen(table, symbol: symbol, openTime: open)
            return
        }
        try storeCandle(store, table, symbol: symbol, candle: candle, minuteCount: minuteCount, isFinal: isFinal)
    }

    /// Stores one hourly or daily candle, unless ``keepsStoredHour(_:replacementMinutes:)`` says the stored one stays.
    package static func storeCandle(
        _ store: some RollupStore, _ table: RollupTable, symbol: Symbol, candle: Kline, minuteCount: Int64, isFinal: Bool
    ) throws {
        if table == .hourly,
            keepsStoredHour(try store.storedHour(symbol: symbol, openTime: candle.openTime), replacementMinutes: minuteCount)
        {
            return
        }
        try store.store(table, symbol: symbol, candle: candle, minuteCount: minuteCount, isFinal: isFinal)
    }

    /// A final hour never shrinks: final minutes are never overwritten, so fewer minutes than the stored hour was
    /// built from means some were deleted by retention. Recomputing it then (a late minute loaded into an old hour)
    /// would replace a true candle with a partial one, so the stored row is kept.
    package static func keepsStoredHour(_ stored: (minuteCount: Int64, isFinal: Bool)?, replacementMinutes: Int64) -> Bool {
        guard let stored else { return false }
        return stored.isFinal && stored.minuteCount > replacementMinutes
    }

    /// The hours of an import batch to store directly and the hours and days to leave pending, for a batch loaded
    /// into a range that held no rows: an hour's minutes are exactly the batch's when the whole hour lies inside the
    /// batch's range and its last minute is final.
    package static func importPlan(
        _ klines: [Kline], hours: [KlineBatch.HourRollup], capturedAt: Int64
    ) -> (complete: [KlineBatch.HourRollup], pendingHours: Set<Int64>, days: Set<Int64>) {
        guard let first = klines.first?.openTime, let last = klines.last?.openTime else { return ([], [], []) }
        let lastFinal = klines.last(where: { $0.isClosed(at: capturedAt) })?.openTime ?? .min
        var complete: [KlineBatch.HourRollup] = []
        var pendingHours = Set<Int64>()
        var days = Set<Int64>()
        for hour in hours {
            let open = hour.candle.openTime
            let (lastMinute, overflow) = open.addingReportingOverflow(3_540_000)
            // Every minute of it closed and on a minute boundary: a minute closing far in the future (stored open) or
            // opening between boundaries makes the batch's hour not the stored minutes' hour.
            if open >= first, !overflow, lastMinute <= min(last, lastFinal),
                klines[hour.minutes].allSatisfy({ $0.isClosed(at: capturedAt) && $0.openTime % 60_000 == 0 })
            {
                complete.append(hour)
                days.insert(Interval.oneDay.openTime(containing: open))
            } else if klines[hour.minutes].contains(where: { $0.isClosed(at: capturedAt) }) {
                pendingHours.insert(open)
            }
        }
        // An hour the batch could not roll up (a sum overflows) is missing from `hours`; left pending, the roll-up
        // reports it instead of it silently having no candle. Checked only when some minutes are not covered.
        if hours.reduce(0, { $0 + $1.minutes.count }) != klines.count {
            let rolled = Set(hours.map(\.candle.openTime))
            for kline in klines where kline.isClosed(at: capturedAt) {
                let hour = Interval.oneHour.openTime(containing: kline.openTime)
                if !rolled.contains(hour) { pendingHours.insert(hour) }
            }
        }
        return (complete, pendingHours, days)
    }
}

/// An hourly or daily candle the roll-up could not compute; it stays pending and is tried again on the next roll-up.
package struct RollupFailure: Sendable, Hashable, CustomStringConvertible {
    package enum Reason: Error, Sendable, Hashable, CustomStringConvertible {
        /// A volume, taker volume or trade count sum does not fit.
        case sumOverflows(KlineRollupError)
        /// The period's last millisecond lies past `Int64.max`.
        case periodOutOfRange

        package var description: String {
            switch self {
            case .sumOverflows(let error): error.description
            case .periodOutOfRange: "the period ends past the largest representable time"
            }
        }
    }

    package var symbol: String
    package var period: RollupPeriod
    package var openTime: Int64
    package var reason: Reason

    package var description: String { "cannot roll up the \(period.rawValue) candle of \(symbol) opening at \(openTime): \(reason)" }
}
