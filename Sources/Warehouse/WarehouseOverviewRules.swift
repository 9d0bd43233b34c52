public import MarketData

/// Figures about the warehouse as a whole, formed once for every backend from what it reads.
public enum WarehouseOverviewRules {
    /// The tables ``WarehouseOverview/tableCounts()`` counts, in the order `status` lists them.
    public static let countedTables = [
        "fact_klines", "fact_orderbook", "hourly_klines", "daily_klines", "extraction_metadata", "processed_files",
        "rejected_files", "kline_gaps", "job_runs",
    ]

    /// The query counting `table`'s rows: `fact_orderbook`, a view unfolding every level, is counted from the levels
    /// each snapshot row records rather than by unfolding them all.
    public static func countQuery(_ table: String) -> String {
        table == "fact_orderbook" ? "SELECT coalesce(sum(levels), 0) FROM orderbook_snapshots" : "SELECT count(*) FROM \(table)"
    }

    /// A symbol's stored span of one data type, as the backend's aggregate query returns it.
    public struct Span: Sendable, Hashable {
        public var symbol: String
        public var rows: Int
        public var first: Int64?
        public var last: Int64?
        /// K-lines only: the newest final open time.
        public var lastFinal: Int64?

        public init(symbol: String, rows: Int, first: Int64?, last: Int64?, lastFinal: Int64? = nil) {
            self.symbol = symbol
            self.rows = rows
            self.first = first
            self.last = last
            self.lastFinal = lastFinal
        }
    }

    /// One `extraction_metadata` row.
    public struct Fetch: Sendable, Hashable {
        public var symbol: String
        public var type: String
        public var lastFetchTime: Int64?

        public init(symbol: String, type: String, lastFetchTime: Int64?) {
            self.symbol = symbol
            self.type = type
            self.lastFetchTime = lastFetchTime
        }
    }

    /// `status`'s lines: one per symbol and data type with rows (1m k-lines; order-book snapshots), and one for each
    /// symbol fetched but not yet transformed; rows whose symbol or type is not valid are left out. Sorted by symbol,
    /// then type.
    public static func summaries(klines: [Span], books: [Span], fetches: [Fetch]) -> [DataSummary] {
        var lastFetch: [String: Int64] = [:]
        for fetch in fetches { lastFetch["\(fetch.symbol)/\(fetch.type)"] = fetch.lastFetchTime }
        var summaries: [DataSummary] = []
        for (type, spans) in [(ExtractionDataType.klines, klines), (.depth, books)] {
            for span in spans {
                guard let symbol = try? Symbol(span.symbol) else { continue }
                summaries.append(
                    DataSummary(
                        symbol: symbol, type: type, rows: span.rows, first: span.first, last: span.last, lastFinal: span.lastFinal,
                        lastFetchTime: lastFetch["\(symbol)/\(type.rawValue)"]))
            }
        }
        // Symbols fetched but not yet transformed still deserve a line.
        for fetch in fetches {
            guard let symbol = try? Symbol(fetch.symbol), let type = ExtractionDataType(rawValue: fetch.type) else { continue }
            if !summaries.contains(where: { $0.symbol == symbol && $0.type == type }) {
                summaries.append(
                    DataSummary(symbol: symbol, type: type, rows: 0, first: nil, last: nil, lastFetchTime: fetch.lastFetchTime))
            }
        }
        return summaries.sorted { ($0.symbol.rawValue, $0.type.rawValue) < ($1.symbol.rawValue, $1.type.rawValue) }
    }
}
