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

        public init(symbols: [Symbol], initialCandles: Int = 100, depthLimit: Int = 100, interval: Interval = .oneMinute) {
            self.symbols = symbols
            self.initialCandles = initialCandles
            self.depthLimit = depthLimit
            self.interval = interval
        }
    }

    public let configuration: Configuration
    let source: any MarketDataSource
    let lake: any ObjectStore
    let layout: LakeLayout
    let warehouse: any Warehouse
    let clock: PipelineClock
    let logger: Logger
    let captureTimes = CaptureTimes()

    public init(
        configuration: Configuration, source: any MarketDataSource, lake: any ObjectStore, layout: LakeLayout = LakeLayout(),
        warehouse: any Warehouse, clock: PipelineClock = .system, logger: Logger
    ) {
        self.configuration = configuration
        self.source = source
        self.lake = lake
        self.layout = layout
        self.warehouse = warehouse
        self.clock = clock
        self.logger = logger
    }

    /// Extracts `symbols` (by default the configured ones); a failing symbol is logged and reported, and the others go on.
    public func extractAll(_ symbols: [Symbol]? = nil) async -> ExtractionReport {
        var report = ExtractionReport()
        for symbol in symbols ?? configuration.symbols {
            do {
                let result = try await extract(symbol)
                report.symbols.append(result)
            } catch {
                logger.error("extraction failed", metadata: ["symbol": "\(symbol)", "error": "\(error)"])
                report.failures.append(ExtractionFailure(symbol: symbol, message: "\(error)"))
            }
        }
        return report
    }

    /// One symbol: new k-lines (paginated), then one depth snapshot.
    public func extract(_ symbol: Symbol) async throws(PipelineError) -> SymbolExtraction {
        var result = SymbolExtraction(symbol: symbol)
        let interval = configuration.interval
        let step = interval.milliseconds ?? 60_000
        let state = try await wrap { () throws(WarehouseError) in try await warehouse.extractionState(symbol: symbol, type: .klines) }
        var startTime: Int64
        if let last = state?.lastOpenTime {
            startTime = interval.nextOpenTime(after: last)
        } else {
            let current = interval.openTime(containing: clock.now())
            startTime = current - Int64(max(configuration.initialCandles, 1) - 1) * step
        }
        while true {
            let request = KlineRequest(symbol: symbol, interval: interval, startTime: startTime, limit: KlineRequest.maximumLimit)
            let response = try await wrap { () throws(ExchangeError) in try await source.klines(request) }
            let (key, capturedAt) = try await saveRaw(
                response.body, receivedAt: response.receivedAt, symbol: symbol, type: .klines, interval: interval)
            let closed = response.value.filter { $0.isClosed(at: capturedAt) }
            let newestClosed = closed.last?.openTime
            try await wrap { () throws(WarehouseError) in
                try await warehouse.recordExtraction(
                    ExtractionUpdate(
                        symbol: symbol, type: .klines, fetchTime: capturedAt, lastOpenTime: newestClosed, records: response.value.count))
            }
            result.klines += response.value.count
            result.objects.append(key)
            // A full page whose every candle is closed means more may follow.
            guard response.value.count == KlineRequest.maximumLimit, closed.count == response.value.count, let newestClosed else { break }
            startTime = interval.nextOpenTime(after: newestClosed)
        }
        let depth = try await wrap { () throws(ExchangeError) in try await source.depth(symbol: symbol, limit: configuration.depthLimit) }
        let (key, capturedAt) = try await saveRaw(depth.body, receivedAt: depth.receivedAt, symbol: symbol, type: .depth, interval: nil)
        try await wrap { () throws(WarehouseError) in
            try await warehouse.recordExtraction(
                ExtractionUpdate(
                    symbol: symbol, type: .depth, fetchTime: capturedAt, lastOpenTime: nil,
                    records: depth.value.bids.count + depth.value.asks.count))
        }
        result.depthLevels = depth.value.bids.count + depth.value.asks.count
        result.objects.append(key)
        logger.info(
            "extracted", metadata: ["symbol": "\(symbol)", "klines": "\(result.klines)", "depth.levels": "\(result.depthLevels)"])
        return result
    }
}

extension Extractor {
    /// Fetches the 1m candles opening in `range` (paginated, 1000 per request) into the lake, for gap filling.
    /// Extraction metadata is not moved: the range lies behind what the regular cycle fetches. Returns the candles
    /// the exchange returned.
    public func fetchRange(_ symbol: Symbol, range: MinuteRange) async throws(PipelineError) -> Int {
        var startTime = range.from
        var fetched = 0
        while startTime <= range.to {
            let request = KlineRequest(
                symbol: symbol, interval: .oneMinute, startTime: startTime, endTime: range.to + 59_999, limit: KlineRequest.maximumLimit)
            let response = try await wrap { () throws(ExchangeError) in try await source.klines(request) }
            guard let last = response.value.last else { break }
            _ = try await saveRaw(response.body, receivedAt: response.receivedAt, symbol: symbol, type: .klines, interval: .oneMinute)
            fetched += response.value.count
            guard response.value.count == KlineRequest.maximumLimit else { break }
            startTime = last.openTime + 60_000
        }
        return fetched
    }
}

extension Extractor {
    /// Writes one response, unchanged inside its envelope, to the raw bucket under a capture time unique
    /// to its stream, and returns where and when.
    func saveRaw(
        _ body: [UInt8], receivedAt: Int64, symbol: Symbol, type: RawDataType, interval: Interval?
    )
        async throws(PipelineError) -> (key: String, capturedAt: Int64)
    {
        let capturedAt = captureTimes.next(for: "\(symbol)/\(type.rawValue)", proposed: receivedAt)
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
