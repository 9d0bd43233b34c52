import ArgumentParser
import Foundation
import MarketData
import Warehouse

struct Export: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write stored candles to stdout: CSV in Binance's 12-column dump format (no header), or Binance's JSON array.")

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: "Symbol to export (env CRYPTOPIPE_EXPORT_SYMBOL).")
    var symbol: String?

    @Option(
        name: .long,
        help:
            "Candle interval, 1m to 1M: 1m, 1h and 1d as stored, the others formed from them (env CRYPTOPIPE_EXPORT_INTERVAL, default 1m)."
    )
    var interval: String?

    @Option(name: .long, help: "First open time, ISO-8601 or epoch ms (env CRYPTOPIPE_EXPORT_FROM).")
    var from: String?

    @Option(name: .long, help: "Last open time, ISO-8601 or epoch ms (env CRYPTOPIPE_EXPORT_TO).")
    var to: String?

    @Option(name: .long, help: "csv or json (env CRYPTOPIPE_EXPORT_FORMAT, default csv).")
    var format: String?

    @Flag(name: .long, help: "Include candles that were still open when captured (env CRYPTOPIPE_INCLUDE_OPEN).")
    var includeOpen = false

    func run() async throws {
        try await guarded {
            let settings = Settings()
            let configuration = try global.resolve(settings)
            let symbolText = settings.text(symbol, env: "CRYPTOPIPE_EXPORT_SYMBOL", default: "")
            guard !symbolText.isEmpty else { throw CLIError.usage("export needs --symbol, e.g. --symbol BTCUSDT") }
            let symbol: Symbol
            do { symbol = try Symbol(symbolText.uppercased()) } catch { throw CLIError.usage("\(error)") }
            let interval = try settings.value(
                interval, option: "--interval", env: "CRYPTOPIPE_EXPORT_INTERVAL", default: Interval.oneMinute,
                expected: CandleReader.intervals.map(\.rawValue).joined(separator: ", ")
            ) { text in
                CandleReader.intervals.first { $0.rawValue == text }
            }
            let from = try settings.time(from, option: "--from", env: "CRYPTOPIPE_EXPORT_FROM") ?? 0
            let to = try settings.time(to, option: "--to", env: "CRYPTOPIPE_EXPORT_TO") ?? Int64.max
            guard from <= to else { throw CLIError.usage("--from is after --to") }
            let format = try settings.value(
                format, option: "--format", env: "CRYPTOPIPE_EXPORT_FORMAT", default: "csv", expected: "csv or json"
            ) {
                ["csv", "json"].contains($0.lowercased()) ? $0.lowercased() : nil
            }
            let includeOpen = try settings.flag(includeOpen, env: "CRYPTOPIPE_INCLUDE_OPEN")
            let backends = try await Backends.open(configuration)
            let rows = try await CandleReader(backends.warehouse).klines(
                symbol: symbol, interval: interval, from: from, to: to, includeOpen: includeOpen, limit: nil)
            if format == "json" {
                Console.write(Data(BinanceCodec.encodeKlines(rows.map(\.kline)) + Array("\n".utf8)))
            } else {
                var buffer: [UInt8] = []
                buffer.reserveCapacity(1 << 20)
                for row in rows {
                    KlineCSV.appendRow(row.kline, to: &buffer)
                    if buffer.count > 1 << 20 {
                        Console.write(Data(buffer))
                        buffer.removeAll(keepingCapacity: true)
                    }
                }
                Console.write(Data(buffer))
            }
        }
    }
}
