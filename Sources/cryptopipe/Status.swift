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
            let streams = try await StreamStatus.load(from: backends.warehouse)
            let now = backends.exchangeClock.now()
            func lag(_ summary: DataSummary) -> Int64? {
                switch summary.type {
                case .klines:
                    Freshness(newestClosedOpenTime: summary.lastFinal, latestBookCapturedAt: nil, measuredAt: now).klineLagMilliseconds
                case .depth: Freshness(newestClosedOpenTime: nil, latestBookCapturedAt: summary.last, measuredAt: now).depthLagMilliseconds
                }
            }
            if json {
                Console.write(
                    Data(
                        Self.document(
                            configuration, summaries: summaries, counts: counts, lake: lake, clockReading: clockReading, streams: streams,
                            lag: lag)
                            + [UInt8(ascii: "\n")]))
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
            if let streams { Self.print(streams) }
            // The workers sharing the warehouse (`run` processes), on this machine's clock like their leases.
            let cluster = try await WorkerCoordinator.overview(of: backends.warehouse, at: PipelineClock.system.now())
            for worker in cluster.workers {
                let symbols = worker.symbols.map { Console.oneLine($0.name) }
                Console.print(
                    "worker \(Console.oneLine(worker.record.id)) on \(Console.oneLine(worker.record.host)) (pid \(worker.record.processID)): \(worker.live ? "live" : "gone"), "
                        + "\(symbols.count) symbols\(symbols.isEmpty ? "" : " (\(symbols.joined(separator: ",")))")"
                        + (worker.jobs.isEmpty ? "" : ", running \(worker.jobs.map { Console.oneLine($0.name) }.joined(separator: ","))"))
            }
            Console.print(
                "processed files: \(counts["processed_files"] ?? 0), rejected files: \(counts["rejected_files"] ?? 0), k-line rows: \(counts["fact_klines"] ?? 0), order-book rows: \(counts["fact_orderbook"] ?? 0)"
            )
        }
    }

    /// `status --json`, written by the API's writer (one JSON path for the whole program); fields without a value are
    /// left out.
    static func document(
        _ configuration: ResolvedConfiguration, summaries: [DataSummary], counts: [String: Int], lake: LakeStatistics,
        clockReading: ExchangeClock.Reading?, streams: StreamStatus? = nil, lag: (DataSummary) -> Int64?
    ) -> [UInt8] {
        var document = JSONWriter()
        document.object { json in
            json.key("warehouse")
            json.string(configuration.warehouse.description)
            json.key("lake")
            json.string(configuration.lake.description)
            if let clockReading {
                json.key("exchange_clock")
                json.object { json in
                    json.key("offset_ms")
                    json.int(clockReading.offsetMilliseconds)
                    json.key("round_trip_ms")
                    json.int(clockReading.roundTripMilliseconds)
                    json.key("measured_at")
                    json.int(clockReading.measuredAt)
                }
            }
            json.key("symbols")
            json.array { json in
                for summary in summaries { write(summary, lag: lag(summary), to: &json) }
            }
            json.key("tables")
            json.object { json in
                for table in WarehouseOverviewRules.countedTables {
                    json.key(dynamic: table)
                    json.int(counts[table] ?? 0)
                }
            }
            json.key("lake_buckets")
            json.array { json in
                for bucket in lake.buckets { write(bucket, to: &json) }
            }
            if let streams {
                json.key("streams")
                streams.writeJSON(to: &json)
            }
        }
        return document.bytes
    }

    /// The stream collector's state as it last saved it: a line, then a row per symbol.
    static func print(_ streams: StreamStatus) {
        let lag = [streams.lagP50Milliseconds.map { "p50 \($0) ms" }, streams.lagP95Milliseconds.map { "p95 \($0) ms" }].compactMap { $0 }
        Console.print(
            "streams (saved \(UTCTime.iso8601(streams.updatedAt))): \(streams.connections) connections to \(streams.streamURL), "
                + "\(streams.flushes) flushes, lag \(lag.isEmpty ? "not measured yet" : lag.joined(separator: ", "))")
        var table = [["SYMBOL", "CONNECTED", "LAST EVENT", "BOOK", "REBUILDS", "REPAIRS"]]
        for symbol in streams.symbols {
            table.append([
                symbol.symbol.rawValue, symbol.connected ? "yes" : "no", symbol.lastEvent.map(UTCTime.iso8601) ?? "-",
                symbol.bookSynced ? "synced" : "waiting", String(symbol.rebuilds), String(symbol.repairs),
            ])
        }
        Console.printTable(table)
    }

    static func write(_ summary: DataSummary, lag: Int64?, to json: inout JSONWriter) {
        json.object { json in
            json.key("symbol")
            json.string(summary.symbol.rawValue)
            json.key("type")
            json.string(summary.type.rawValue)
            json.key("rows")
            json.int(summary.rows)
            for (name, value) in [("first", summary.first), ("last", summary.last), ("last_fetch", summary.lastFetchTime), ("lag_ms", lag)]
            where value != nil {
                json.key(dynamic: name)
                json.optionalInt(value)
            }
        }
    }

    static func write(_ bucket: LakeStatistics.Bucket, to json: inout JSONWriter) {
        json.object { json in
            json.key("name")
            json.string(bucket.name)
            json.key("objects")
            json.int(bucket.objects)
            json.key("bytes")
            json.int(bucket.bytes)
            json.key("folders")
            json.array { json in
                for day in bucket.days {
                    json.object { json in
                        json.key("folder")
                        json.string(day.folder)
                        json.key("objects")
                        json.int(day.objects)
                        json.key("bytes")
                        json.int(day.bytes)
                    }
                }
            }
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
