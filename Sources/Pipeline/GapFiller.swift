import Exchange
public import Logging
public import MarketData
public import Warehouse

/// Finds missing minutes per symbol, records them in `kline_gaps`, and fills open gaps from the exchange through the
/// lake. A range the exchange has nothing for becomes `exchange-empty` and is never asked for again.
public struct GapFiller: Sendable {
    let extractor: Extractor
    let transformer: Transformer
    let warehouse: any GapStore
    let clock: PipelineClock
    let logger: Logger

    public init(extractor: Extractor, transformer: Transformer, warehouse: any GapStore, clock: PipelineClock = .system, logger: Logger) {
        self.extractor = extractor
        self.transformer = transformer
        self.warehouse = warehouse
        self.clock = clock
        self.logger = logger
    }

    /// Gaps close together, fetched with one request each run: runs of gaps spanning at most a page of minutes. Many
    /// short gaps (a minute here and there, such as the open minutes `adopt` takes over) would otherwise cost a request
    /// each; the minutes between them are fetched again and left as they are by the upserts.
    /// A window never spans a range in `avoiding` (the exchange has nothing there, and it is not asked again).
    package static func windows(
        _ gaps: [MinuteRange], avoiding: [MinuteRange] = []
    ) -> [(range: MinuteRange, gaps: [MinuteRange])] {
        let page = Int64(KlineRequest.maximumLimit - 1) * 60_000
        var windows: [(range: MinuteRange, gaps: [MinuteRange])] = []
        for gap in gaps.sorted(by: { $0.from < $1.from }) {
            if let last = windows.last, case let (span, overflow) = gap.to.subtractingReportingOverflow(last.range.from), !overflow,
                span <= page, gap.from > last.range.to,
                !avoiding.contains(where: { $0.overlaps(MinuteRange(from: last.range.to, to: gap.from)) })
            {
                windows[windows.count - 1].range.to = gap.to
                windows[windows.count - 1].gaps.append(gap)
            } else {
                windows.append((gap, [gap]))
            }
        }
        return windows
    }

    /// Detects and records gaps of `symbols`; returns every recorded gap of them.
    public func detect(_ symbols: [Symbol]) async throws(PipelineError) -> [KlineGap] {
        var gaps: [KlineGap] = []
        for symbol in symbols {
            try await wrap { () throws(WarehouseError) in
                let missing = try await warehouse.missingMinutes(symbol: symbol)
                try await warehouse.recordGaps(symbol: symbol, missing: missing, at: clock.now())
                gaps += try await warehouse.gaps(symbol: symbol)
            }
        }
        return gaps
    }

    public struct FillReport: Sendable, Hashable {
        public var requested = 0
        public var candlesFetched = 0
        public var filled = 0
        public var exchangeEmpty = 0
        public var failures: [String] = []
        public init() {}
    }

    /// Fills the open gaps of `symbols`: fetch, transform, detect again; what is still missing inside a requested
    /// range is what the exchange does not have.
    public func fill(_ symbols: [Symbol]) async throws(PipelineError) -> FillReport {
        var report = FillReport()
        var requested: [Symbol: [MinuteRange]] = [:]
        let recorded = try await detect(symbols)
        let empty = Dictionary(grouping: recorded.filter { $0.status == .exchangeEmpty }, by: \.symbol)
        let open = recorded.filter { $0.status == .open }
        for (symbol, gaps) in Dictionary(grouping: open, by: \.symbol).sorted(by: { $0.key < $1.key }) {
            for window in Self.windows(gaps.map(\.range), avoiding: empty[symbol]?.map(\.range) ?? []) {
                do {
                    report.candlesFetched += try await extractor.fetchRange(symbol, range: window.range)
                    requested[symbol, default: []] += window.gaps
                    report.requested += 1
                } catch {
                    logger.error("gap fill failed", metadata: ["symbol": "\(symbol)", "error": "\(error)"])
                    report.failures.append(
                        "\(symbol) \(UTCTime.iso8601(window.range.from))…\(UTCTime.iso8601(window.range.to)): \(error)")
                }
            }
        }
        guard !requested.isEmpty else { return report }
        _ = try await transformer.transformPending()
        let now = clock.now()
        for (symbol, ranges) in requested.sorted(by: { $0.key < $1.key }) {
            try await wrap { () throws(WarehouseError) in
                let missing = try await warehouse.missingMinutes(symbol: symbol)
                for range in ranges {
                    for hole in missing where hole.overlaps(range) {
                        let empty = MinuteRange(from: max(hole.from, range.from), to: min(hole.to, range.to))
                        try await warehouse.setGap(symbol: symbol, range: empty, status: .exchangeEmpty, at: now)
                        report.exchangeEmpty += 1
                    }
                }
                try await warehouse.recordGaps(symbol: symbol, missing: missing, at: now)
                let asked = Set(ranges.map(\.from))
                report.filled += try await warehouse.gaps(symbol: symbol).filter { $0.status == .filled && asked.contains($0.range.from) }
                    .count
            }
        }
        return report
    }
}
