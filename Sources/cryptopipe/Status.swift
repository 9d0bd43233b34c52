import ArgumentParser
import DataLake
import Exchange
import Foundation
import MarketData
import Pipeline
import Warehouse

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show rows, time span, last fetch and lag per symbol and data type.")

    @OptionGroup var global: GlobalOptions

    @Flag(name: .long, help: "Print JSON instead of a table.")
    var json = false

    func run() async throws {
        try await guarded {
            let configuration = try global.resolve()
            let backends = try await Backends.open(configuration)
            let summaries = try await backends.warehouse.dataSummary()
            let counts = try await backends.warehouse.tableCounts()
            let lake = try await LakeStatistics.collect(lake: backends.lake, layout: backends.layout)
            let clockReading = backends.exchangeClock.reading
            let now = backends.exchangeClock.now()
            func lag(_ summary: DataSummary) -> Int64? {
                switch summary.type {
                case .klines:
                    Freshness(newestClosedOpenTime: summary.lastFinal, latestBookCapturedAt: nil, measuredAt: now).klineLagMilliseconds
                case .depth: Freshness(newestClosedOpenTime: nil, latestBookCapturedAt: summary.last, measuredAt: now).depthLagMilliseconds
                }
            }
            if json {
                var entries: [[String: Any]] = []
                for summary in summaries {
                    var entry: [String: Any] = ["symbol": summary.symbol.rawValue, "type": summary.type.rawValue, "rows": summary.rows]
                    if let first = summary.first { entry["first"] = first }
                    if let last = summary.last { entry["last"] = last }
                    if let fetch = summary.lastFetchTime { entry["last_fetch"] = fetch }
                    if let lag = lag(summary) { entry["lag_ms"] = lag }
                    entries.append(entry)
                }
                let buckets: [[String: Any]] = lake.buckets.map { bucket in
                    [
                        "name": bucket.name, "objects": bucket.objects, "bytes": bucket.bytes,
                        "folders": bucket.days.map { ["folder": $0.folder, "objects": $0.objects, "bytes": $0.bytes] },
                    ]
                }
                var document: [String: Any] = [
                    "symbols": entries, "tables": counts, "lake": configuration.lake.description, "lake_buckets": buckets,
                    "warehouse": configuration.warehouse.description,
                ]
                if let clockReading {
                    document["exchange_clock"] = [
                        "offset_ms": clockReading.offsetMilliseconds, "round_trip_ms": clockReading.roundTripMilliseconds,
                        "measured_at": clockReading.measuredAt,
                    ]
                }
                let data = try JSONSerialization.data(withJSONObject: document, options: [.sortedKeys, .prettyPrinted])
                Console.write(data + Data("\n".utf8))
                return
            }
            Console.print("warehouse \(configuration.warehouse.description), lake \(configuration.lake.description)")
            if let clockReading {
                Console.print(
                    "exchange clock: \(ExchangeClockSync.describe(clockReading.offsetMilliseconds)) "
                        + "(offset \(clockReading.offsetMilliseconds) ms, measured \(UTCTime.iso8601(clockReading.measuredAt)))")
            }
            for bucket in lake.buckets {
                let days = bucket.days.filter { CivilDate(isoString: $0.folder) != nil }
                let span = days.first.map { first in " from \(first.folder) to \(days.last?.folder ?? first.folder)" } ?? ""
                Console.print("lake bucket \(bucket.name): \(bucket.objects) objects, \(bucket.bytes) bytes in \(days.count) days\(span)")
            }
            guard !summaries.isEmpty else {
                Console.print("no data yet: run 'cryptopipe extract' then 'cryptopipe transform' (or 'cryptopipe demo' to try it offline)")
                return
            }
            let header = ["SYMBOL", "TYPE", "ROWS", "FIRST", "LAST", "LAST FETCH", "LAG"]
            var table = [header]
            for summary in summaries {
                table.append([
                    summary.symbol.rawValue, summary.type.rawValue, String(summary.rows), summary.first.map(UTCTime.iso8601) ?? "-",
                    summary.last.map(UTCTime.iso8601) ?? "-", summary.lastFetchTime.map(UTCTime.iso8601) ?? "-",
                    lag(summary).map(formatLag) ?? "-",
                ])
            }
            Console.printTable(table)
            Console.print(
                "processed files: \(counts["processed_files"] ?? 0), rejected files: \(counts["rejected_files"] ?? 0), k-line rows: \(counts["fact_klines"] ?? 0), order-book rows: \(counts["fact_orderbook"] ?? 0)"
            )
        }
    }
}

extension Console {
    /// Prints rows (the first is the header) in left-aligned columns.
    static func printTable(_ table: [[String]]) {
        guard let header = table.first else { return }
        let widths = header.indices.map { column in table.map { $0[column].count }.max() ?? 0 }
        for row in table {
            print(row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  "))
        }
    }
}

func formatLag(_ milliseconds: Int64) -> String {
    let seconds = milliseconds / 1_000
    if seconds < 120 { return "\(seconds)s" }
    if seconds < 7_200 { return "\(seconds / 60)m" }
    if seconds < 172_800 { return "\(seconds / 3_600)h" }
    return "\(seconds / 86_400)d"
}
