public import DataLake
public import Exchange
public import Logging
public import MarketData
import Synchronization
public import Warehouse

/// Fetches new k-lines and an order-book snapshot per symbol and writes each raw response to the lake.
///
/// Metadata advances only after the lake write succeeded, so a crash or a lake outage can make the
/// next run fetch a range again (harmless: loads are idempotent) but can never skip one.
public struct Extractor: Sendable {
    public struct Configuration: Sendable {
        public var symbols: [Symbol]
        /// Candles fetched the first time a symbol is seen.
        public var initialCandles: Int
        /// Levels per side of each order-book snapshot.
        public var depthLimit: Int
        public var interval: Interval
        /// Requests in flight at once: enough to hide the exchange's latency for hundreds of symbols, few enough that
        /// the weight budget, not a burst, decides the pace.
        public var concurrency: Int

        public init(
            symbols: [Symbol], initialCandles: Int = 100, depthLimit: Int = 100, interval: Interval = .oneMinute, concurrency: Int = 8
        ) {
            self.symbols = symbols
            self.initialCandles = initialCandles
            self.depthLimit = depthLimit
            self.interval = interval
            self.concurrency = max(1, concurrency)
        }
    }

    public let configuration: Configuration
    let source: any MarketDataSource
    let lake: any ObjectStore
    let layout: LakeLayout
    let warehouse: any ExtractionLedger
    /// The exchange's "now": where a first fetch starts. Capture times (and with them finality) come from the
    /// source's responses, stamped on the exchange's clock.
    let clock: PipelineClock
    /// Measures the exchange's clock before work that depends on it; `nil` where the clock is the source's own (tests).
    let clockSync: ExchangeClockSync?
    let logger: Logger
    let captureTimes = CaptureTimes()

    public init(
        configuration: Configuration, source: any MarketDataSource, lake: any ObjectStore, layout: LakeLayout = LakeLayout(),
        warehouse: any ExtractionLedger, clock: PipelineClock = .system, clockSync: ExchangeClockSync? = nil, logger: Logger
    ) {
        self.configuration = configuration
        self.source = source
        self.lake = lake
        self.layout = layout
        self.warehouse = warehouse
        self.clock = clock
        self.clockSync = clockSync
        self.logger = logger
    }

    /// Measures the exchange's clock when a measurement is due (before the first extraction, then every few minutes).
    public func synchronizeClock() async {
        await clockSync?.synchronizeIfDue()
    }

    /// Extracts `symbols` (by default the configured ones): first the new k-lines of every symbol, then the order books
    /// of the symbols `plan` says are due in `cycle` (all of them without a plan), each phase with bounded concurrency, so
    /// fresh candles never wait behind order books. A failing symbol is logged and reported, and the others go on.
    public func extractAll(_ symbols: [Symbol]? = nil, cycle: Int = 0, plan: ExtractionPlan? = nil) async -> ExtractionReport {
        let list = symbols ?? configuration.symbols
        await synchronizeClock()
        var results = await concurrently(list) { symbol in
            await Self.outcome { () throws(PipelineError) in try await extractKlines(symbol) }
        }
        let dueForDepth = list.indices.filter { index in
            guard case .success = results[index] else { return false }
            return plan?.includesDepth(symbolIndex: index, cycle: cycle) ?? true
        }
        let books = await concurrently(dueForDepth.map { list[$0] }) { symbol in
            await Self.outcome { () throws(PipelineError) in try await extractDepth(symbol) }
        }
        for (index, book) in zip(dueForDepth, books) {
            switch (results[index], book) {
            case (.success(var extraction), .success(let depth)):
                extraction.depthLevels = depth.levels
                extraction.objects.append(depth.key)
                results[index] = .success(extraction)
            case (_, .failure(let error)): results[index] = .failure(error)
            default: break
            }
        }
        var report = ExtractionReport()
        for (symbol, result) in zip(list, results) {
            switch result {
            case .success(let extraction):
                report.symbols.append(extraction)
                logger.debug(
                    "extracted",
                    metadata: ["symbol": "\(symbol)", "klines": "\(extraction.klines)", "depth.levels": "\(extraction.depthLevels)"])
            case .failure(let error):
                logger.error("extraction failed", metadata: ["symbol": "\(symbol)", "error": "\(error)"])
                report.failures.append(ExtractionFailure(symbol: symbol, message: "\(error)"))
            }
        }
        logger.info(
            "extraction finished",
            metadata: [
                "symbols": "\(report.symbols.count)", "failures": "\(report.failures.count)", "order_books": "\(dueForDepth.count)",
                "klines": "\(report.symbols.reduce(0) { $0 + $1.klines })",
            ])
        return report
    }

    static func outcome<Value>(_ body: () async throws(PipelineError) -> Value) async -> Result<Value, PipelineError> {
        do {
            return .success(try await body())
        } catch {
            return .failure(error)
        }
    }

    /// Runs `work` for every symbol with at most `configuration.concurrency` at once; results in the order given.
    func concurrently<Value: Sendable>(_ symbols: [Symbol], _ work: @escaping @Sendable (Symbol) async -> Value) async -> [Value] {
        await withTaskGroup(of: (Int, Value).self) { group in
            var results: [Value?] = Array(repeating: nil, count: symbols.count)
            var next = 0
            func startNext() {
                guard next < symbols.count else { return }
                let index = next
                next += 1
                group.addTask { (index, await work(symbols[index])) }
            }
            for _ in 0..<min(configuration.concurrency, symbols.count) { startNext() }
            while let (index, value) = await group.next() {
                results[index] = value
                startNext()
            }
            return results.compactMap { $0 }
        }
    }

    /// New k-lines of one symbol, paginated, from where the last extraction stopped. The stream collector calls it to
    /// repair what its streams missed.
    public func extractKlines(_ symbol: Symbol) async throws(PipelineError) -> SymbolExtraction {
        var result = SymbolExtraction(symbol: symbol)
        let interval = configuration.interval
        let step = interval.milliseconds ?? 60_000
        let state = try await wrap { () throws(WarehouseError) in try await warehouse.extractionState(symbol: symbol, type: .klines) }
        var startTime: Int64
        var firstFetch = state?.lastOpenTime == nil
        if let last = state?.lastOpenTime {
            // The recorded open time came from the exchange: the step past it is checked, not trusted to fit.
            let resume = KlineRequest(symbol: symbol, interval: interval, startTime: nil)
            startTime = try await wrap { () throws(ExchangeError) in try resume.nextStartTime(after: last) }
        } else {
            let current = interval.openTime(containing: clock.now())
            startTime = current - Int64(max(configuration.initialCandles, 1) - 1) * step
        }
        while true {
            // A `Date` header that contradicted the offset (a stepped clock) gets it measured before the next page, not
            // only in the next cycle; until then responses are stamped no later than their `Date`.
            await synchronizeClock()
            let request = KlineRequest(symbol: symbol, interval: interval, startTime: startTime, limit: KlineRequest.maximumLimit)
            let response = try await wrap { () throws(ExchangeError) in
                let response = try await source.klines(request)
                try request.checkPage(response.value)
                return response
            }
            let (key, capturedAt) = try await saveRaw(
                response.body, capturedAt: response.capturedAt, symbol: symbol, type: .klines, interval: interval)
            let closed = response.value.filter { $0.isClosed(at: capturedAt) }
            let newestClosed = closed.last?.openTime
            // A symbol's first fetch with nothing final yet (within the finality margin of a close) still records where
            // it started: otherwise the next cycle would start afresh from its own "now" and never fetch the final
            // versions of the candles seen open.
            let handledUpTo = newestClosed ?? (firstFetch ? interval.openTime(containing: startTime - 1) : nil)
            firstFetch = false
            try await wrap { () throws(WarehouseError) in
                try await warehouse.recordExtraction(
                    ExtractionUpdate(
                        symbol: symbol, type: .klines, fetchTime: capturedAt, lastOpenTime: handledUpTo, records: response.value.count))
            }
            result.klines += response.value.count
            result.objects.append(key)
            // A full page whose every candle is closed means more may follow.
            guard response.value.count == KlineRequest.maximumLimit, closed.count == response.value.count, let newestClosed else { break }
            // A full page that does not move the start forward (the same page again) is an error, not a loop.
            startTime = try await wrap { () throws(ExchangeError) in try request.nextStartTime(after: newestClosed) }
        }
        return result
    }

    /// One order-book snapshot of one symbol.
    func extractDepth(_ symbol: Symbol) async throws(PipelineError) -> (key: String, levels: Int) {
        let depth = try await wrap { () throws(ExchangeError) in try await source.depth(symbol: symbol, limit: configuration.depthLimit) }
        let (key, capturedAt) = try await saveRaw(depth.body, capturedAt: depth.capturedAt, symbol: symbol, type: .depth, interval: nil)
        let levels = depth.value.bids.count + depth.value.asks.count
        try await wrap { () throws(WarehouseError) in
            try await warehouse.recordExtraction(
                ExtractionUpdate(symbol: symbol, type: .depth, fetchTime: capturedAt, lastOpenTime: nil, records: levels))
        }
        return (key, levels)
    }
}

extension Extractor {
    /// Fetches the 1m candles opening in `range` (paginated, 1000 per request) into the lake, for gap filling.
    /// Extraction metadata is not moved: the range lies behind what the regular cycle fetches. Returns the candles
    /// the exchange returned.
    public func fetchRange(_ symbol: Symbol, range: MinuteRange) async throws(PipelineError) -> Int {
        await synchronizeClock()
        var startTime = range.from
        var fetched = 0
        // The end bound is inclusive, so past `Int64.max` it saturates rather than traps (gap ranges come from open
        // times the exchange sent).
        let (end, endOverflows) = range.to.addingReportingOverflow(59_999)
        while startTime <= range.to {
            let request = KlineRequest(
                symbol: symbol, interval: .oneMinute, startTime: startTime, endTime: endOverflows ? .max : end,
                limit: KlineRequest.maximumLimit)
            let response = try await wrap { () throws(ExchangeError) in
                let response = try await source.klines(request)
                try request.checkPage(response.value)
                return response
            }
            guard let last = response.value.last else { break }
            let full = response.value.count == KlineRequest.maximumLimit
            // Checked before the page is stored: a page that does not advance ends the fill with an error.
            let next = try await wrap { () throws(ExchangeError) in full ? try request.nextStartTime(after: last.openTime) : nil }
            _ = try await saveRaw(response.body, capturedAt: response.capturedAt, symbol: symbol, type: .klines, interval: .oneMinute)
            fetched += response.value.count
            guard let next else { break }
            startTime = next
        }
        return fetched
    }
}

extension Extractor {
    /// Where k-line extraction of `symbol` stands: the open time of the newest final candle in the lake, `nil` before
    /// the first extraction.
    public func lastExtractedOpenTime(_ symbol: Symbol) async throws(PipelineError) -> Int64? {
        try await wrap { () throws(WarehouseError) in try await warehouse.extractionState(symbol: symbol, type: .klines) }?.lastOpenTime
    }

    /// Writes final 1m candles received from a stream as one k-lines object, in the envelope and body REST gives them,
    /// and moves extraction past them. The capture time is at least the finality margin after the last close, so the
    /// transform takes every candle as final.
    public func storeStreamedKlines(_ symbol: Symbol, _ klines: [Kline], capturedAt: Int64) async throws(PipelineError) -> String? {
        guard let last = klines.last else { return nil }
        // Never later than a minute past `capturedAt`: capture times only grow per symbol, so one from a bad close time
        // would date every later capture, REST's included.
        let (finalAt, overflow) = last.closeTime.addingReportingOverflow(Kline.finalityMarginMilliseconds + 1)
        let latest = capturedAt.addingReportingOverflow(60_000)
        let stamped = overflow || latest.overflow ? capturedAt : min(max(capturedAt, finalAt), latest.partialValue)
        let (key, captured) = try await saveRaw(
            BinanceCodec.encodeKlines(klines), capturedAt: stamped, symbol: symbol, type: .klines, interval: .oneMinute)
        try await wrap { () throws(WarehouseError) in
            try await warehouse.recordExtraction(
                ExtractionUpdate(symbol: symbol, type: .klines, fetchTime: captured, lastOpenTime: last.openTime, records: klines.count))
        }
        return key
    }

    /// Writes a local order book's top levels as a depth object, as REST's `/api/v3/depth` would give them.
    public func storeBook(_ symbol: Symbol, _ book: OrderBookSnapshot, capturedAt: Int64) async throws(PipelineError) -> String {
        let (key, captured) = try await saveRaw(
            BinanceCodec.encodeDepth(book), capturedAt: capturedAt, symbol: symbol, type: .depth, interval: nil)
        try await wrap { () throws(WarehouseError) in
            try await warehouse.recordExtraction(
                ExtractionUpdate(
                    symbol: symbol, type: .depth, fetchTime: captured, lastOpenTime: nil, records: book.bids.count + book.asks.count))
        }
        return key
    }

    /// A REST order-book snapshot to start a local book from, through the weight budget like every request.
    public func depthSnapshot(_ symbol: Symbol, limit: Int) async throws(PipelineError) -> OrderBookSnapshot {
        try await wrap { () throws(ExchangeError) in try await source.depth(symbol: symbol, limit: limit) }.value
    }
}

extension Extractor {
    /// Writes one response, unchanged inside its envelope, to the raw bucket under a capture time unique
    /// to its stream, and returns where and when.
    func saveRaw(
        _ body: [UInt8], capturedAt proposed: Int64, symbol: Symbol, type: RawDataType, interval: Interval?
    )
        async throws(PipelineError) -> (key: String, capturedAt: Int64)
    {
        let capturedAt = captureTimes.next(for: "\(symbol)/\(type.rawValue)", proposed: proposed)
        let key = LakeLayout.objectKey(symbol: symbol, type: type, capturedAt: capturedAt)
        let object = RawEnvelope.encode(symbol: symbol, capturedAt: capturedAt, type: type, interval: interval, data: body)
        try await wrap { () throws(ObjectStoreError) in try await lake.put(bucket: layout.rawBucket, key: key, bytes: object) }
        return (key, capturedAt)
    }
}

/// Hands out strictly increasing capture times per stream, so two responses captured in the same
/// millisecond (pagination on a fast network) never get the same object name and overwrite each other.
final class CaptureTimes: Sendable {
    private let last = Mutex<[String: Int64]>([:])

    func next(for stream: String, proposed: Int64) -> Int64 {
        last.withLock { times in
            let value = max(proposed, (times[stream] ?? .min) + 1)
            times[stream] = value
            return value
        }
    }
}

public struct ExtractionReport: Sendable {
    public var symbols: [SymbolExtraction] = []
    public var failures: [ExtractionFailure] = []
    public init() {}
}

public struct SymbolExtraction: Sendable {
    public var symbol: Symbol
    public var klines = 0
    public var depthLevels = 0
    /// Lake keys written.
    public var objects: [String] = []
    public init(symbol: Symbol) { self.symbol = symbol }
}

public struct ExtractionFailure: Sendable {
    public var symbol: Symbol
    public var message: String
}
