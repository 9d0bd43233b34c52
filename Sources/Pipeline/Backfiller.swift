import Exchange
import Logging
public import MarketData
public import Warehouse

/// Fetches a symbol's 1m history for a time range, 1000 candles per request, into the lake (raw stays the source of
/// truth), loading it into the warehouse as it goes.
///
/// After each page is in the lake, the next start time is saved as a checkpoint in the warehouse's settings, so a
/// backfill killed at any point resumes where it stopped. A kill between a page's write and its checkpoint fetches that
/// page again: its candles are loaded twice and upserted once, so nothing is duplicated.
///
/// The exchange, lake, warehouse, clock and logger are the extractor's.
public struct Backfiller: Sendable {
    let extractor: Extractor
    let transformer: Transformer
    /// Pages between two transforms: large enough to load in big transactions, small enough that a kill leaves little
    /// untransformed (the next run or cycle loads it anyway).
    let pagesPerTransform: Int
    /// Prefix of the checkpoint settings, so a backfill of another kind (the demo's) does not take over the position of
    /// a `cryptopipe backfill` in progress.
    let checkpointPrefix: String

    public init(extractor: Extractor, transformer: Transformer, pagesPerTransform: Int = 20, checkpointPrefix: String = "backfill") {
        self.extractor = extractor
        self.transformer = transformer
        self.pagesPerTransform = max(1, pagesPerTransform)
        self.checkpointPrefix = checkpointPrefix
    }

    /// Checkpoints are settings, kept beside what the transformer loads.
    var warehouse: any SettingsStore { transformer.warehouse }
    var clock: PipelineClock { extractor.clock }
    var logger: Logger { extractor.logger }

    /// Settings key of a symbol's checkpoint for `cryptopipe backfill`.
    public static func checkpointKey(_ symbol: Symbol) -> String { "backfill.\(symbol.rawValue)" }

    func checkpointKey(_ symbol: Symbol) -> String { "\(checkpointPrefix).\(symbol.rawValue)" }

    /// The minutes a backfill covers: those opening in `from...to`, `to` defaulting to the last closed minute; `nil` when
    /// the range is empty.
    ///
    /// Both ends come from outside (flags, API calls) and are clamped to ±``timeBound``, so the range's arithmetic
    /// (`last + 60_000`, `last - first`) cannot overflow; no exchange has candles that far out anyway.
    public func minutes(from: Int64, to: Int64?) -> MinuteRange? {
        let first = Interval.oneMinute.openTime(containing: Self.clamped(from))
        let last =
            to.map { Interval.oneMinute.openTime(containing: Self.clamped($0)) }
            ?? (Interval.oneMinute.openTime(containing: Self.clamped(clock.now())) - 60_000)
        return first <= last ? MinuteRange(from: first, to: last) : nil
    }

    /// The largest magnitude a backfill range reaches (2⁶¹ ms, about 73 million years).
    public static let timeBound: Int64 = 1 << 61

    static func clamped(_ time: Int64) -> Int64 { min(max(time, -timeBound), timeBound) }

    /// Backfills every symbol over ``minutes(from:to:)``; an empty range does nothing.
    public func run(
        symbols: [Symbol], from: Int64, to: Int64? = nil, progress: @Sendable (BackfillProgress) -> Void = { _ in },
        isCancelled: @Sendable () -> Bool = { false }
    ) async throws(PipelineError) -> BackfillReport {
        let started = ContinuousClock.now
        var report = BackfillReport()
        guard let range = minutes(from: from, to: to) else { return report }
        let (first, last) = (range.from, range.to)
        // Progress only: a product past `Int64` (absurdly many symbols over a huge range) shows as `Int64.max`.
        let (minutesTotal, overflow) = Int64(symbols.count).multipliedReportingOverflow(by: (last - first) / 60_000 + 1)
        var state = BackfillProgress(symbolsTotal: symbols.count, minutesTotal: overflow ? .max : minutesTotal, elapsedSeconds: 0)
        var pagesSinceTransform = 0
        for symbol in symbols {
            let resumeAt = try await checkpoint(symbol, from: first)
            if resumeAt > first { report.resumed.append(symbol) }
            state.minutesDone += min(resumeAt, last + 60_000) / 60_000 - first / 60_000
            var startTime = resumeAt
            while startTime <= last {
                if isCancelled() {
                    report.interrupted = true
                    break
                }
                let request = KlineRequest(
                    symbol: symbol, interval: .oneMinute, startTime: startTime, endTime: last + 59_999, limit: KlineRequest.maximumLimit)
                let response = try await wrap { () throws(ExchangeError) in
                    let response = try await extractor.source.klines(request)
                    try request.checkPage(response.value)
                    return response
                }
                let next: Int64
                if let newest = response.value.last {
                    // Checked before the page is stored: a page that does not advance fails the backfill instead of
                    // being fetched (and saved) forever.
                    let full = response.value.count == KlineRequest.maximumLimit
                    let following = try await wrap { () throws(ExchangeError) in
                        full ? try request.nextStartTime(after: newest.openTime) : nil
                    }
                    _ = try await extractor.saveRaw(
                        response.body, capturedAt: response.capturedAt, symbol: symbol, type: .klines, interval: .oneMinute)
                    report.pages += 1
                    report.klines += response.value.count
                    pagesSinceTransform += 1
                    // A short page is the end of what the exchange has in the range.
                    next = following ?? last + 60_000
                } else {
                    next = last + 60_000
                }
                try await saveCheckpoint(symbol, from: first, next: next)
                state.minutesDone += (min(next, last + 60_000) - startTime) / 60_000
                state.klines = report.klines
                state.elapsedSeconds = (ContinuousClock.now - started).seconds
                progress(state)
                startTime = next
                if pagesSinceTransform >= pagesPerTransform {
                    report.rowsWritten += try await transformer.transformPending().rowsWritten
                    pagesSinceTransform = 0
                }
            }
            if report.interrupted { break }
            state.symbolsDone += 1
            report.symbolsCompleted += 1
            logger.info("backfilled", metadata: ["symbol": "\(symbol)", "klines": "\(report.klines)"])
        }
        // Whatever is in the lake is loaded, also when interrupted: the checkpoint already counts it as fetched.
        report.rowsWritten += try await transformer.transformPending().rowsWritten
        state.elapsedSeconds = (ContinuousClock.now - started).seconds
        report.elapsedSeconds = state.elapsedSeconds
        progress(state)
        return report
    }

    /// Where to start: the saved position when the checkpoint is for the same start, else `from`.
    func checkpoint(_ symbol: Symbol, from: Int64) async throws(PipelineError) -> Int64 {
        let saved = try await wrap { () throws(WarehouseError) in try await warehouse.setting(checkpointKey(symbol)) }
        guard let saved else { return from }
        let parts = saved.split(separator: ":")
        guard parts.count == 2, let savedFrom = Int64(parts[0]), let next = Int64(parts[1]) else {
            logger.warning("ignoring an unreadable backfill checkpoint", metadata: ["symbol": "\(symbol)", "checkpoint": "\(saved)"])
            return from
        }
        return savedFrom == from ? max(from, next) : from
    }

    func saveCheckpoint(_ symbol: Symbol, from: Int64, next: Int64) async throws(PipelineError) {
        try await wrap { () throws(WarehouseError) in
            try await warehouse.saveSetting(checkpointKey(symbol), value: "\(from):\(next)", at: clock.now())
        }
    }
}

/// Where a backfill stands, for a progress bar.
public struct BackfillProgress: Sendable, Hashable {
    public var symbolsDone = 0
    public var symbolsTotal: Int
    public var minutesDone: Int64 = 0
    public var minutesTotal: Int64
    public var klines = 0
    public var elapsedSeconds: Double

    public var fraction: Double { minutesTotal > 0 ? min(1, Double(minutesDone) / Double(minutesTotal)) : 1 }
    /// Seconds left at the pace so far.
    public var etaSeconds: Double? {
        guard minutesDone > 0, elapsedSeconds > 0 else { return nil }
        return Double(minutesTotal - minutesDone) / (Double(minutesDone) / elapsedSeconds)
    }
}

public struct BackfillReport: Sendable, Hashable {
    public var symbolsCompleted = 0
    /// Symbols that continued from a checkpoint.
    public var resumed: [Symbol] = []
    public var pages = 0
    public var klines = 0
    public var rowsWritten = 0
    public var interrupted = false
    public var elapsedSeconds = 0.0
}
