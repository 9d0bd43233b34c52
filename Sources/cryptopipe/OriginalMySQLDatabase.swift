import DataLake
import Foundation
import MarketData
import Pipeline
import WarehouseMySQL

/// The original Python system's MySQL database as `adopt` reads it (its DDL: `../shared/original-design.md`).
struct OriginalMySQLDatabase: OriginalDatabase {
    let reader: MySQLReader

    /// The database's name for adoption's checkpoints: its server (or, for a cluster, its servers in any order) and name.
    var identity: String {
        let configuration = reader.configuration
        guard configuration.servers.count > 1 else { return "\(configuration.host):\(configuration.port)/\(configuration.database)" }
        return configuration.servers.map(\.description).sorted().joined(separator: ",") + "/" + configuration.database
    }

    private func query(
        _ what: String, _ sql: String, _ parameters: MySQLParameters = MySQLParameters()
    ) async throws(AdoptionError)
        -> MySQLRows
    {
        do {
            return try await reader.query(sql, parameters)
        } catch {
            throw AdoptionError(
                operation: "read \(what) from \(reader.configuration)", detail: "\(error.message) (MySQL error \(error.code))")
        }
    }

    func counts(
        minutesAfter: OriginalCursor?, snapshotsAfter: OriginalCursor?
    ) async throws(AdoptionError) -> (
        minutes: Int, snapshots: Int, otherIntervals: Int
    ) {
        var parameters = MySQLParameters()
        let minutes = Self.after(minutesAfter, symbol: "symbol", time: "open_time", into: &parameters)
        let snapshots = Self.after(snapshotsAfter, symbol: "symbol", time: "captured_at", into: &parameters)
        let row = try await query(
            "the row counts",
            """
            SELECT (SELECT COUNT(*) FROM fact_klines WHERE interval_code = '1m' AND \(minutes)),
                (SELECT COUNT(*) FROM (SELECT 1 FROM fact_orderbook WHERE \(snapshots) GROUP BY symbol, captured_at) AS snapshots),
                (SELECT COUNT(*) FROM fact_klines WHERE interval_code <> '1m')
            """, parameters
        ).first
        return (Int(row?.int64(0) ?? 0), Int(row?.int64(1) ?? 0), Int(row?.int64(2) ?? 0))
    }

    /// `(symbol, time) > cursor` written so the primary key serves it.
    private static func after(_ cursor: OriginalCursor?, symbol: String, time: String, into parameters: inout MySQLParameters) -> String {
        guard let cursor else { return "TRUE" }
        parameters.append(cursor.symbol)
        parameters.append(cursor.symbol)
        parameters.append(cursor.time)
        return "(\(symbol) > ? OR (\(symbol) = ? AND \(time) > ?))"
    }

    func minutes(after cursor: OriginalCursor?, limit: Int) async throws(AdoptionError) -> [OriginalMinuteRow] {
        var parameters = MySQLParameters()
        let condition = Self.after(cursor, symbol: "symbol", time: "open_time", into: &parameters)
        parameters.append(limit)
        let rows = try await query(
            "fact_klines",
            """
            SELECT symbol, open_time, open_price, high_price, low_price, close_price, volume, quote_volume, trade_count,
                taker_buy_volume, taker_buy_quote_volume, created_at
            FROM fact_klines WHERE interval_code = '1m' AND \(condition) ORDER BY symbol, open_time LIMIT ?
            """, parameters)
        return rows.all.map { row in
            OriginalMinuteRow(
                symbol: row.string(0) ?? "", openTime: row.string(1) ?? "", open: row.string(2), high: row.string(3),
                low: row.string(4), close: row.string(5), volume: row.string(6), quoteVolume: row.string(7), tradeCount: row.int64(8),
                takerBuyVolume: row.string(9), takerBuyQuoteVolume: row.string(10), createdAt: row.string(11))
        }
    }

    func snapshots(after cursor: OriginalCursor?, limit: Int) async throws(AdoptionError) -> [OriginalBookRow] {
        var parameters = MySQLParameters()
        let condition = Self.after(cursor, symbol: "symbol", time: "captured_at", into: &parameters)
        parameters.append(limit)
        // Bounds the page's memory whatever the source holds: a page larger than its snapshots could be is refused.
        let maxRows = limit * (Adopter.maxLevels + 1)
        parameters.append(maxRows + 1)
        let rows = try await query(
            "fact_orderbook",
            """
            SELECT o.symbol, o.captured_at, o.side, o.price, o.quantity FROM fact_orderbook AS o
            JOIN (
                SELECT symbol, captured_at FROM fact_orderbook WHERE \(condition)
                GROUP BY symbol, captured_at ORDER BY symbol, captured_at LIMIT ?
            ) AS page ON o.symbol = page.symbol AND o.captured_at = page.captured_at
            ORDER BY o.symbol, o.captured_at, o.side, o.price
            LIMIT ?
            """, parameters)
        guard rows.count <= maxRows else {
            throw AdoptionError(
                operation: "read fact_orderbook from \(reader.configuration)",
                detail: "\(limit) snapshots hold more than \(maxRows) levels; this is not the original system's order book")
        }
        return rows.all.map { row in
            OriginalBookRow(
                symbol: row.string(0) ?? "", capturedAt: row.string(1) ?? "", side: row.string(2) ?? "", price: row.string(3) ?? "",
                quantity: row.string(4))
        }
    }

    func extractionMetadata() async throws(AdoptionError) -> [OriginalExtractionRow] {
        let rows = try await query(
            "extraction_metadata",
            "SELECT symbol, data_type, last_fetch_time, last_open_time, record_count FROM extraction_metadata ORDER BY symbol, data_type")
        return rows.all.map { row in
            OriginalExtractionRow(
                symbol: row.string(0) ?? "", dataType: row.string(1) ?? "", lastFetchTime: row.string(2), lastOpenTime: row.string(3),
                recordCount: row.int64(4))
        }
    }

    func klineFetchTimes(symbol: String) async throws(AdoptionError) -> [Int64] {
        let escaped = symbol.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
            .replacingOccurrences(of: "_", with: "\\_")
        let rows = try await query(
            "processed_files",
            "SELECT filename FROM processed_files WHERE filename LIKE ? LIMIT 2000001",
            MySQLParameters("%" + escaped + "\\_klines\\_%.json"))
        guard rows.count <= 2_000_000 else {
            throw AdoptionError(
                operation: "read processed_files from \(reader.configuration)", detail: "more than 2,000,000 k-line files of \(symbol)")
        }
        return rows.all.compactMap { row in row.string(0).flatMap { Self.fetchTime(fileName: $0, symbol: symbol) } }.sorted()
    }

    /// The epoch milliseconds of `…/SYMBOL_klines_<ms>.json`; `nil` for any other name.
    static func fetchTime(fileName: String, symbol: String) -> Int64? {
        let base = fileName.split(separator: "/", omittingEmptySubsequences: false).last ?? Substring(fileName)
        guard let name = LakeLayout.parse(name: base), name.symbol.rawValue == symbol, name.type == .klines else { return nil }
        return name.capturedAt
    }

    func aggregatesWithoutMinutes() async throws(AdoptionError) -> [OriginalPeriodsWithoutMinutes] {
        var result: [OriginalPeriodsWithoutMinutes] = []
        for (table, start, length) in [("hourly_klines", "hour_start", "1 HOUR"), ("daily_klines", "`date`", "1 DAY")] {
            let rows = try await query(
                table,
                """
                SELECT a.symbol, COUNT(*), MIN(a.\(start)), MAX(a.\(start)) FROM \(table) AS a
                WHERE NOT EXISTS (
                    SELECT 1 FROM fact_klines AS f WHERE f.symbol = a.symbol AND f.interval_code = '1m'
                        AND f.open_time >= a.\(start) AND f.open_time < a.\(start) + INTERVAL \(length))
                GROUP BY a.symbol ORDER BY a.symbol
                """)
            for row in rows.all {
                result.append(
                    OriginalPeriodsWithoutMinutes(
                        table: table, symbol: row.string(0) ?? "", count: Int(row.int64(1) ?? 0), first: row.string(2) ?? "",
                        last: row.string(3) ?? ""))
            }
        }
        // Hours the original computed from more minutes than it still holds: its trade_count counted them.
        let partly = try await query(
            "hourly_klines",
            """
            SELECT symbol, COUNT(*), MIN(hour_start), MAX(hour_start) FROM (
                SELECT a.symbol, a.hour_start, a.trade_count, (
                    SELECT COUNT(*) FROM fact_klines AS f WHERE f.symbol = a.symbol AND f.interval_code = '1m'
                        AND f.open_time >= a.hour_start AND f.open_time < a.hour_start + INTERVAL 1 HOUR) AS minutes
                FROM hourly_klines AS a
            ) AS hours
            WHERE minutes > 0 AND trade_count > minutes
            GROUP BY symbol ORDER BY symbol
            """)
        // The day its retention cut through: its first minute of the symbol lies inside it, after midnight.
        let cutDays = try await query(
            "daily_klines",
            """
            SELECT a.symbol, COUNT(*), MIN(a.`date`), MAX(a.`date`) FROM daily_klines AS a
            JOIN (SELECT symbol, MIN(open_time) AS first FROM fact_klines WHERE interval_code = '1m' GROUP BY symbol) AS f
                ON f.symbol = a.symbol
            WHERE a.`date` = DATE(f.first) AND f.first > a.`date`
            GROUP BY a.symbol ORDER BY a.symbol
            """)
        for row in cutDays.all {
            result.append(
                OriginalPeriodsWithoutMinutes(
                    table: "daily_klines", symbol: row.string(0) ?? "", count: Int(row.int64(1) ?? 0), first: row.string(2) ?? "",
                    last: row.string(3) ?? "", partly: true))
        }
        for row in partly.all {
            result.append(
                OriginalPeriodsWithoutMinutes(
                    table: "hourly_klines", symbol: row.string(0) ?? "", count: Int(row.int64(1) ?? 0), first: row.string(2) ?? "",
                    last: row.string(3) ?? "", partly: true))
        }
        return result
    }
}
