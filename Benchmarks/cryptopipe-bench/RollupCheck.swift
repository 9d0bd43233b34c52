import ArgumentParser
import Foundation
import MarketData

/// Checks ``KlineRollup`` against Binance's own longer candles: rolls up every longer candle that has shorter
/// ones (including hours cut short by maintenance) and compares all fields, close time included, exactly. Reads data.binance.vision-style CSV files.
struct RollupCheck: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rollup-check")

    @Option(help: "CSV file(s) of the shorter interval, comma-separated.") var minutes: String
    @Option(help: "CSV file of the longer interval.") var longer: String
    @Option(help: "Interval of the longer file.") var interval = "1h"

    func run() throws {
        guard let target = Interval(rawValue: interval), let length = target.milliseconds else { throw ValidationError("bad --interval") }
        let short = try minutes.split(separator: ",").flatMap { try Self.read(String($0)) }
        let long = try Self.read(longer)
        let byOpen = Dictionary(grouping: short) { target.openTime(containing: $0.openTime) }
        var compared = 0
        var equal = 0
        for candle in long {
            guard let members = byOpen[candle.openTime] else { continue }
            compared += 1
            let rolled = KlineRollup.combine(
                members.sorted { $0.openTime < $1.openTime }, openTime: candle.openTime, closeTime: candle.openTime + length - 1,
                partDuration: 60_000)
            if rolled == candle {
                equal += 1
            } else {
                print(
                    "differs at \(UTCTime.iso8601(candle.openTime)):\n  binance \(String(describing: candle))\n  rolled  \(String(describing: rolled))"
                )
            }
        }
        print("\(equal)/\(compared) \(interval) candles equal on all fields")
    }

    static func read(_ path: String) throws -> [Kline] {
        guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("cannot read \(path)") }
        return try [UInt8](data).split(separator: UInt8(ascii: "\n")).enumerated().map { index, line in
            do {
                return try Array(line).withUnsafeBufferPointer { try KlineCSV.parseRow($0) }
            } catch {
                throw ValidationError("\(path):\(index + 1): \(error)")
            }
        }
    }
}
