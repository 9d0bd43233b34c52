package import MarketData
import Synchronization

/// Hourly candles of complete hours this process loaded (60 final minutes into a range that held none), kept until
/// the next roll-up so it need not read those minutes back (from the server, or SQLite's pages: a quarter of the
/// transform benchmark's time went to that).
///
/// Sound across processes and retries: an entry is made only after its load committed, and final minutes are never
/// rewritten, so the hour's candle cannot differ from one computed from the stored minutes. (Retention deletes minutes
/// only after rolling up pending hours.) An optimisation only: when an entry is missing, the minutes are read.
package final class CompleteHourCache: Sendable {
    private struct Key: Hashable {
        var symbol: Symbol
        var openTime: Int64
    }

    /// Beyond this many entries (roll-ups not run for a long time) the cache starts over rather than grow.
    static let capacity = 100_000

    private let entries = Mutex<[Key: KlineBatch.HourRollup]>([:])

    package init() {}

    package func remember(_ hours: [KlineBatch.HourRollup], symbol: Symbol) {
        guard !hours.isEmpty else { return }
        entries.withLock { entries in
            if entries.count + hours.count > Self.capacity { entries.removeAll() }
            for hour in hours where hour.minuteCount == 60 { entries[Key(symbol: symbol, openTime: hour.candle.openTime)] = hour }
        }
    }

    package func hours(symbol: Symbol, openTimes: [Int64]) -> [Int64: KlineBatch.HourRollup] {
        entries.withLock { entries in
            var found: [Int64: KlineBatch.HourRollup] = [:]
            for openTime in openTimes {
                if let hour = entries[Key(symbol: symbol, openTime: openTime)] { found[openTime] = hour }
            }
            return found
        }
    }

    /// Drops the entries a committed roll-up has used.
    package func forget(symbol: Symbol, openTimes: some Sequence<Int64>) {
        entries.withLock { entries in
            for openTime in openTimes { entries[Key(symbol: symbol, openTime: openTime)] = nil }
        }
    }
}

/// One roll-up's reads of a ``CompleteHourCache``: the stores of both backends find hours through it, and what it found
/// is forgotten once that roll-up committed (``forgetUsed()``).
package final class CompleteHourLookup: Sendable {
    private let cache: CompleteHourCache?
    private let used = Mutex<[Symbol: [Int64]]>([:])

    package init(_ cache: CompleteHourCache?) {
        self.cache = cache
    }

    package func hours(symbol: Symbol, openTimes: [Int64]) -> [Int64: KlineBatch.HourRollup] {
        guard let cache else { return [:] }
        let known = cache.hours(symbol: symbol, openTimes: openTimes)
        used.withLock { $0[symbol, default: []] += known.keys }
        return known
    }

    /// Call after the roll-up committed: its hours are stored now.
    package func forgetUsed() {
        guard let cache else { return }
        for (symbol, hours) in used.withLock({ $0 }) { cache.forget(symbol: symbol, openTimes: hours) }
    }
}
