import Crypto
import Foundation
public import Logging
public import MarketData
public import Warehouse

/// Rows of the original Python system's database as its tables hold them, before any checking: its `DATETIME`s as
/// text (`2026-03-01 00:00:00`, UTC), its decimals as text, nullable where its DDL allows.
public struct OriginalMinuteRow: Sendable, Hashable {
    public var symbol: String
    public var openTime: String
    public var open, high, low, close, volume, quoteVolume, takerBuyVolume, takerBuyQuoteVolume: String?
    public var tradeCount: Int64?
    /// When the row was first inserted: the original fetched it then and never again.
    public var createdAt: String?

    public init(
        symbol: String, openTime: String, open: String?, high: String?, low: String?, close: String?, volume: String?,
        quoteVolume: String?, tradeCount: Int64?, takerBuyVolume: String?, takerBuyQuoteVolume: String?, createdAt: String?
    ) {
        self.symbol = symbol
        self.openTime = openTime
        self.open = open
        self.high = high
        self.low = low
        self.close = close
        self.volume = volume
        self.quoteVolume = quoteVolume
        self.tradeCount = tradeCount
        self.takerBuyVolume = takerBuyVolume
        self.takerBuyQuoteVolume = takerBuyQuoteVolume
        self.createdAt = createdAt
    }
}

/// One price level of one of the original's order-book snapshots (`fact_orderbook`).
public struct OriginalBookRow: Sendable, Hashable {
    public var symbol: String
    public var capturedAt: String
    public var side: String
    public var price: String
    public var quantity: String?

    public init(symbol: String, capturedAt: String, side: String, price: String, quantity: String?) {
        self.symbol = symbol
        self.capturedAt = capturedAt
        self.side = side
        self.price = price
        self.quantity = quantity
    }
}

/// One row of the original's `extraction_metadata`.
public struct OriginalExtractionRow: Sendable, Hashable {
    public var symbol: String
    public var dataType: String
    public var lastFetchTime: String?
    public var lastOpenTime: String?
    public var recordCount: Int64?

    public init(symbol: String, dataType: String, lastFetchTime: String?, lastOpenTime: String?, recordCount: Int64?) {
        self.symbol = symbol
        self.dataType = dataType
        self.lastFetchTime = lastFetchTime
        self.lastOpenTime = lastOpenTime
        self.recordCount = recordCount
    }
}

/// Rows of the original's `hourly_klines` or `daily_klines` for periods it holds no minutes of: not adopted.
public struct OriginalPeriodsWithoutMinutes: Sendable, Hashable {
    public var table: String
    public var symbol: String
    public var count: Int
    public var first: String
    public var last: String
    /// Some minutes of these periods remain (ours are computed from them); the original's rows covered more.
    public var partly: Bool

    public init(table: String, symbol: String, count: Int, first: String, last: String, partly: Bool = false) {
        self.partly = partly
        self.table = table
        self.symbol = symbol
        self.count = count
        self.first = first
        self.last = last
    }
}

/// Where a paged read stopped: the last row's symbol and time, as the source wrote them.
public struct OriginalCursor: Sendable, Hashable {
    public var symbol: String
    public var time: String

    public init(symbol: String, time: String) {
        self.symbol = symbol
        self.time = time
    }

    /// `SYMBOL|time`, as saved in the warehouse's settings.
    var saved: String { "\(symbol)|\(time)" }

    /// Split at the last `|`: a time never holds one, a symbol read from the source might.
    init?(saved: String) {
        guard let bar = saved.lastIndex(of: "|") else { return nil }
        self.init(symbol: String(saved[..<bar]), time: String(saved[saved.index(after: bar)...]))
    }
}

/// A failure reading the original's database, with what was being read.
public struct AdoptionError: Error, Sendable, CustomStringConvertible {
    public var operation: String
    public var detail: String

    public init(operation: String, detail: String) {
        self.operation = operation
        self.detail = detail
    }

    public var description: String { "cannot \(operation): \(detail)" }
}

/// The original system's database, read only.
public protocol OriginalDatabase: Sendable {
    /// Names the source in settings and ledger keys (`host:port/database`), so adopting another source starts afresh.
    var identity: String { get }
    /// Rows left to adopt, for the progress bar: 1m candles and order-book snapshots after the cursors; and
    /// `fact_klines` rows of other intervals, which are not adopted.
    func counts(
        minutesAfter: OriginalCursor?, snapshotsAfter: OriginalCursor?
    ) async throws(AdoptionError) -> (
        minutes: Int, snapshots: Int, otherIntervals: Int
    )
    /// Up to `limit` 1m rows after `cursor`, by symbol and open time.
    func minutes(after cursor: OriginalCursor?, limit: Int) async throws(AdoptionError) -> [OriginalMinuteRow]
    /// The levels of up to `limit` whole snapshots after `cursor`, by symbol, capture time, side and price.
    func snapshots(after cursor: OriginalCursor?, limit: Int) async throws(AdoptionError) -> [OriginalBookRow]
    func extractionMetadata() async throws(AdoptionError) -> [OriginalExtractionRow]
    /// When the original fetched k-lines of `symbol`: the times in its `processed_files` names
    /// (`SYMBOL_klines_<epoch ms>.json`), ascending; empty when it has none.
    func klineFetchTimes(symbol: String) async throws(AdoptionError) -> [Int64]
    /// Its hourly and daily rows it cannot have computed from the minutes it still holds: periods without any minute,
    /// and hours whose `trade_count` (its count of minutes) exceeds the minutes left (retention cut through them).
    func aggregatesWithoutMinutes() async throws(AdoptionError) -> [OriginalPeriodsWithoutMinutes]
}

/// What `adopt` did.
public struct AdoptionReport: Sendable, Hashable {
    public var minutesRead = 0
    public var minutesWritten = 0
    /// Stored by the original before they closed (it never fetched them again): adopted as open, so the next gap fill
    /// fetches them whole.
    public var minutesOpen = 0
    /// Symbols the original's `processed_files` names no k-line fetches of: with nothing to tell its minutes caught
    /// open from closed ones, all of theirs are adopted as open.
    public var symbolsWithoutFetchTimes: Set<Symbol> = []
    /// Minutes older than the first fetch its `processed_files` names (its archive cleanup removed older names):
    /// adopted as open for the same reason.
    public var minutesBeforeFetchTimes = 0
    public var snapshotsRead = 0
    public var snapshotsWritten = 0
    /// Rows that could not be adopted, and the first few reasons.
    public var rowsRefused = 0
    public var refusals: [String] = []
    public var otherIntervals = 0
    public var metadataAdopted = 0
    /// `extraction_metadata` rows for which the warehouse already had its own state, which is kept.
    public var metadataKept = 0
    public var hoursRolledUp = 0
    public var daysRolledUp = 0
    public var notAdopted: [OriginalPeriodsWithoutMinutes] = []
    public var symbols: Set<Symbol> = []
    /// Rows were adopted earlier (the source is resumed from where that run stopped).
    public var resumed = false
    /// Stopped on request; every page adopted so far is complete, and the next run continues after it.
    public var interrupted = false

    public init() {}

    mutating func refuse(_ reason: String) {
        rowsRefused += 1
        if refusals.count < 5 { refusals.append(reason) }
    }
}

/// Progress of an adoption: rows done of the total, for the progress bar.
public struct AdoptionProgress: Sendable {
    public var done: Int
    public var total: Int
}

/// Copies the original system's `fact_klines` (1m), `fact_orderbook` and `extraction_metadata` into the warehouse
/// exactly, then rolls the minutes up into hours and days with our (Binance's) rule. The original's own hourly and
/// daily rows are not taken: where minutes exist ours are computed from them (its `trade_count` counted minutes and
/// it kept no quote or taker volumes); periods it holds without minutes are listed as not adopted.
///
/// Resumable and idempotent: pages are loaded through the warehouse's upserts, each under a ledger key naming the
/// source, and the position after each committed page is saved in the warehouse's settings, so a stopped adoption
/// continues where it stopped and a repeated one writes nothing. The source is only read.
public struct Adopter: Sendable {
    /// What adoption writes: candles, books, extraction state, and its position (a setting).
    public typealias Storage = CandleStore & OrderBookStore & ExtractionLedger & SettingsStore

    let source: any OriginalDatabase
    let warehouse: any Adopter.Storage
    let logger: Logger
    let clock: PipelineClock
    /// Rows per page of minutes; snapshots per page of order books.
    let minutesPerPage: Int
    let snapshotsPerPage: Int
    let sourceKey: String

    public init(
        source: any OriginalDatabase, warehouse: any Adopter.Storage, clock: PipelineClock, logger: Logger, minutesPerPage: Int = 5_000,
        snapshotsPerPage: Int = 200
    ) {
        self.source = source
        self.warehouse = warehouse
        self.clock = clock
        self.logger = logger
        self.minutesPerPage = max(1, minutesPerPage)
        // Settings keys of the positions are named by a hash of the source, whose name may be longer than a key can be.
        sourceKey = "adopt." + SHA256.hash(data: Array(source.identity.utf8)).prefix(8).map { String(format: "%02x", $0) }.joined()
        self.snapshotsPerPage = max(1, snapshotsPerPage)
    }

    var minutesKey: String { sourceKey + ".fact_klines" }
    var snapshotsKey: String { sourceKey + ".fact_orderbook" }
    /// Levels one snapshot may have (Binance sends at most 5,000); a source's larger "snapshot" is refused.
    public static let maxLevels = 10_000

    public func run(
        progress: (AdoptionProgress) -> Void = { _ in }, isCancelled: () -> Bool = { false }
    ) async throws -> AdoptionReport {
        var report = AdoptionReport()
        var fetchTimes: [Symbol: [Int64]] = [:]
        var cursor = try await savedCursor(minutesKey)
        var bookCursor = try await savedCursor(snapshotsKey)
        report.resumed = cursor != nil || bookCursor != nil
        let counts = try await source.counts(minutesAfter: cursor, snapshotsAfter: bookCursor)
        report.otherIntervals = counts.otherIntervals
        let total = counts.minutes + counts.snapshots
        var done = 0

        while true {
            if isCancelled() {
                report.interrupted = true
                return report
            }
            let rows = try await source.minutes(after: cursor, limit: minutesPerPage)
            guard let last = rows.last else { break }
            try await adopt(rows, fetchTimes: &fetchTimes, report: &report)
            cursor = OriginalCursor(symbol: last.symbol, time: last.openTime)
            try await warehouse.saveSetting(minutesKey, value: cursor?.saved ?? "", at: clock.now())
            done += rows.count
            progress(AdoptionProgress(done: done, total: total))
        }

        while true {
            if isCancelled() {
                report.interrupted = true
                return report
            }
            let rows = try await source.snapshots(after: bookCursor, limit: snapshotsPerPage)
            guard let last = rows.last else { break }
            let snapshots = try await adopt(rows, report: &report)
            bookCursor = OriginalCursor(symbol: last.symbol, time: last.capturedAt)
            try await warehouse.saveSetting(snapshotsKey, value: bookCursor?.saved ?? "", at: clock.now())
            done += snapshots
            progress(AdoptionProgress(done: done, total: total))
        }

        for row in try await source.extractionMetadata() { try await adopt(row, report: &report) }
        let rollup = try await warehouse.rollUpPending()
        for failure in rollup.failures { logger.error("roll-up failed", metadata: ["detail": "\(failure)"]) }
        report.hoursRolledUp = rollup.hours
        report.daysRolledUp = rollup.days
        report.notAdopted = try await source.aggregatesWithoutMinutes()
        // Done: the next run reads the source whole again (the upserts keep what is stored), so rows the original wrote
        // meanwhile anywhere, not only after the last position, are taken.
        try await warehouse.saveSetting(minutesKey, value: "", at: clock.now())
        try await warehouse.saveSetting(snapshotsKey, value: "", at: clock.now())
        return report
    }

    private func savedCursor(_ key: String) async throws -> OriginalCursor? {
        guard let text = try await warehouse.setting(key), !text.isEmpty else { return nil }
        return OriginalCursor(saved: text)
    }

    /// The source's time text as epoch milliseconds (its `DATETIME`s are UTC).
    static func time(_ text: String?) -> Int64? {
        guard let text, !text.isEmpty, text.utf8.contains(UInt8(ascii: "-")), let time = UTCTime.parse(text),
            (0...UTCTime.latest).contains(time)
        else { return nil }
        return time
    }

    /// How far the original's clock (which named its files) may have been from the exchange's.
    static let clockSlack: Int64 = 30_000

    /// Whether the original may have fetched during the minute opening at `openTime` (or within the finality margin
    /// after it), its clock off by up to ``clockSlack`` either way: it then stored the minute before it closed, and
    /// never fetched it again.
    static func fetchedWhileOpen(_ openTime: Int64, fetchTimes: [Int64]) -> Bool {
        let from = openTime - clockSlack
        var low = 0
        var high = fetchTimes.count
        while low < high {
            let middle = (low + high) / 2
            if fetchTimes[middle] < from { low = middle + 1 } else { high = middle }
        }
        return low < fetchTimes.count && fetchTimes[low] < openTime + 60_000 + Kline.finalityMarginMilliseconds + clockSlack
    }

    /// Whether a minute of the original's is adopted as closed (final). Only with evidence: its fetch times cover the
    /// minute, none fell while it was open, and it was not written before it ended. Wrongly open costs a refetch
    /// (`gaps --fill`, 1,000 minutes a request); wrongly final would keep a partial candle for good.
    static func isClosed(_ kline: Kline, createdAt: Int64?, fetchTimes: [Int64]) -> Bool {
        guard let first = fetchTimes.first, kline.openTime >= first - clockSlack else { return false }
        if let createdAt, !kline.isClosed(at: createdAt) { return false }
        return !fetchedWhileOpen(kline.openTime, fetchTimes: fetchTimes)
    }

    private func adopt(
        _ rows: [OriginalMinuteRow], fetchTimes: inout [Symbol: [Int64]], report: inout AdoptionReport
    ) async throws {
        var bySymbol: [Symbol: (closed: [Kline], closedAt: Int64, open: [Kline], openAt: Int64)] = [:]
        for row in rows {
            report.minutesRead += 1
            let kline: Kline
            let symbol: Symbol
            do {
                (symbol, kline) = try Self.kline(row)
            } catch {
                report.refuse("\(row.symbol) \(row.openTime): \(error.reason)")
                continue
            }
            if fetchTimes[symbol] == nil {
                let times = try await source.klineFetchTimes(symbol: symbol.rawValue)
                // Minutes come by symbol: only the current one's fetch times are kept.
                fetchTimes = [symbol: times]
                if times.isEmpty { report.symbolsWithoutFetchTimes.insert(symbol) }
            }
            var entry = bySymbol[symbol] ?? ([], Int64.min, [], Int64.max)
            // The original fetched from the minute after its newest stored one, so the candle a fetch caught open was
            // never fetched again: it holds what that minute had traded by then.
            let times = fetchTimes[symbol] ?? []
            let created = Self.time(row.createdAt)
            let closed = Self.isClosed(kline, createdAt: created, fetchTimes: times)
            if !closed, let first = times.first, kline.openTime < first - Self.clockSlack { report.minutesBeforeFetchTimes += 1 }
            if closed {
                entry.closed.append(kline)
                // Our capture time: after its end, and the original's write time where that is later.
                entry.closedAt = max(entry.closedAt, created ?? 0, kline.closeTime + Kline.finalityMarginMilliseconds + 1)
            } else {
                entry.open.append(kline)
                entry.openAt = min(entry.openAt, kline.openTime)
                report.minutesOpen += 1
            }
            bySymbol[symbol] = entry
        }
        for (symbol, entry) in bySymbol.sorted(by: { $0.key < $1.key }) {
            report.symbols.insert(symbol)
            for (klines, capturedAt, kind) in [(entry.closed, entry.closedAt, "closed"), (entry.open, entry.openAt, "open")]
            where !klines.isEmpty {
                let key = "adopt/\(source.identity)/fact_klines/\(symbol)/\(klines[0].openTime)-\(kind)"
                let result = try await warehouse.loadKlines(
                    klines, symbol: symbol, interval: .oneMinute, capturedAt: capturedAt,
                    object: ProcessedObject(bucket: "adopt", key: key, processedAt: clock.now()))
                report.minutesWritten += result.rowsWritten
            }
        }
    }

    struct Refusal: Error {
        var reason: String
    }

    static func kline(_ row: OriginalMinuteRow) throws(Refusal) -> (Symbol, Kline) {
        let symbol: Symbol
        do {
            symbol = try Symbol(row.symbol)
        } catch {
            throw Refusal(reason: error.description)
        }
        guard let openTime = time(row.openTime), openTime % 60_000 == 0 else {
            throw Refusal(reason: "open_time is not a whole minute")
        }
        func decimal(_ text: String?, _ column: String) throws(Refusal) -> ExactDecimal {
            guard let text else { throw Refusal(reason: "\(column) is NULL") }
            do {
                let value = try ExactDecimal(parsing: text)
                guard value.units >= 0 else { throw Refusal(reason: "\(column) is negative") }
                return value
            } catch let error as Refusal {
                throw error
            } catch {
                throw Refusal(reason: "\(column) '\(text.prefix(40))' is not a decimal")
            }
        }
        let open = try decimal(row.open, "open_price")
        let high = try decimal(row.high, "high_price")
        let low = try decimal(row.low, "low_price")
        let close = try decimal(row.close, "close_price")
        guard low <= open, low <= close, open <= high, close <= high else {
            throw Refusal(reason: "prices are not within low_price…high_price")
        }
        guard let trades = row.tradeCount, trades >= 0 else { throw Refusal(reason: "trade_count is NULL or negative") }
        let kline = Kline(
            openTime: openTime, open: open, high: high, low: low, close: close, volume: try decimal(row.volume, "volume"),
            closeTime: openTime + 59_999, quoteVolume: try decimal(row.quoteVolume, "quote_volume"), tradeCount: trades,
            takerBuyBaseVolume: try decimal(row.takerBuyVolume, "taker_buy_volume"),
            takerBuyQuoteVolume: try decimal(row.takerBuyQuoteVolume, "taker_buy_quote_volume"))
        return (symbol, kline)
    }

    /// Loads whole snapshots; returns how many.
    private func adopt(_ rows: [OriginalBookRow], report: inout AdoptionReport) async throws -> Int {
        var snapshots: [(symbol: String, time: String, rows: [OriginalBookRow])] = []
        for row in rows {
            if let last = snapshots.last, last.symbol == row.symbol, last.time == row.capturedAt {
                snapshots[snapshots.count - 1].rows.append(row)
            } else {
                snapshots.append((row.symbol, row.capturedAt, [row]))
            }
        }
        for snapshot in snapshots {
            report.snapshotsRead += 1
            guard let symbol = try? Symbol(snapshot.symbol), let capturedAt = Self.time(snapshot.time) else {
                report.refuse("order book \(snapshot.symbol) \(snapshot.time): not a symbol and time")
                continue
            }
            guard snapshot.rows.count <= Self.maxLevels else {
                report.refuse("order book \(snapshot.symbol) \(snapshot.time): \(snapshot.rows.count) levels, more than a book has")
                continue
            }
            var bids: [PriceLevel] = []
            var asks: [PriceLevel] = []
            var refused: String?
            for row in snapshot.rows {
                guard let price = try? ExactDecimal(parsing: row.price), let text = row.quantity,
                    let quantity = try? ExactDecimal(parsing: text), price.units > 0, quantity.units >= 0,
                    row.side == "bid" || row.side == "ask"
                else {
                    refused = "\(row.side.prefix(10)) \(row.price.prefix(40)) is not a level (a NULL or negative quantity?)"
                    break
                }
                if row.side == "bid" {
                    bids.append(PriceLevel(price: price, quantity: quantity))
                } else {
                    asks.append(PriceLevel(price: price, quantity: quantity))
                }
            }
            // A book is taken whole or not at all.
            if let refused {
                report.refuse("order book \(snapshot.symbol) \(snapshot.time): \(refused)")
                continue
            }
            guard !bids.isEmpty || !asks.isEmpty else { continue }
            bids.sort { $0.price > $1.price }
            asks.sort { $0.price < $1.price }
            report.symbols.insert(symbol)
            let result = try await warehouse.loadOrderBook(
                OrderBookSnapshot(lastUpdateId: 0, bids: bids, asks: asks), symbol: symbol, capturedAt: capturedAt,
                object: ProcessedObject(
                    bucket: "adopt", key: "adopt/\(source.identity)/fact_orderbook/\(symbol)/\(capturedAt)", processedAt: clock.now()))
            if result.rowsWritten > 0 { report.snapshotsWritten += 1 }
        }
        return snapshots.count
    }

    /// Takes the original's extraction state where the warehouse has none of its own for that symbol and type.
    private func adopt(_ row: OriginalExtractionRow, report: inout AdoptionReport) async throws {
        guard let symbol = try? Symbol(row.symbol), let type = ExtractionDataType(rawValue: row.dataType) else {
            report.refuse("extraction_metadata \(row.symbol) \(row.dataType): not a symbol and data type")
            return
        }
        guard try await warehouse.extractionState(symbol: symbol, type: type) == nil else {
            report.metadataKept += 1
            return
        }
        guard let fetched = Self.time(row.lastFetchTime) else {
            report.refuse("extraction_metadata \(row.symbol) \(row.dataType): last_fetch_time is NULL")
            return
        }
        // The original's last_open_time may be a candle it stored before it closed: ours is the newest closed one.
        let lastOpen = Self.time(row.lastOpenTime).map { min($0, Interval.oneMinute.openTime(containing: fetched - 62_000)) }
        try await warehouse.recordExtraction(
            ExtractionUpdate(
                symbol: symbol, type: type, fetchTime: fetched, lastOpenTime: type == .klines ? lastOpen : nil,
                records: Int(clamping: max(0, row.recordCount ?? 0))))
        report.metadataAdopted += 1
    }
}
