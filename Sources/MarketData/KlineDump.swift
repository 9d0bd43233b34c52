/// The name of a data.binance.vision k-line dump: `BTCUSDT-1m-2021-01-01.zip` (daily), `BTCUSDT-1m-2021-01.zip`
/// (monthly), or the `.csv` inside either.
public struct KlineDumpName: Sendable, Hashable {
    public var symbol: Symbol
    public var interval: Interval
    /// `2021-01-01` or `2021-01`.
    public var period: String

    /// Reads a dump file name. Returns `nil` for a name that does not follow the `SYMBOL-INTERVAL-PERIOD` pattern
    /// (the caller then needs the symbol from elsewhere); throws when it does but names an interval Binance
    /// does not have.
    public init?(fileName: String) throws(KlineDumpNameError) {
        var stem = Substring(fileName)
        for suffix in [".zip", ".csv"] where stem.hasSuffix(suffix) { stem = stem.dropLast(suffix.count) }
        let parts = stem.split(separator: "-", maxSplits: 2)
        guard parts.count == 3, let symbol = try? Symbol(String(parts[0])) else { return nil }
        let token = String(parts[1])
        guard let first = token.utf8.first, (48...57).contains(first) else { return nil }
        guard let interval = Interval(rawValue: token) else {
            throw KlineDumpNameError(fileName: fileName, interval: token)
        }
        self.symbol = symbol
        self.interval = interval
        self.period = String(parts[2])
    }
}

public struct KlineDumpNameError: Error, Hashable, CustomStringConvertible {
    public let fileName: String
    public let interval: String
    public var description: String {
        "\(fileName): '\(interval)' is not a Binance k-line interval (\(Interval.allCases.map(\.rawValue).joined(separator: ", ")))"
    }
}

extension KlineCSV {
    /// Parses a whole dump file, appending to `klines`. A header line (`open_time,…`, as some newer dumps have) is
    /// skipped; blank lines are ignored; errors carry the 1-based line number. Rows must ascend by open time without
    /// repeats; with `interval`, each must also be a candle of that interval (aligned open, close inside it).
    public static func parseDocument(
        _ bytes: UnsafeBufferPointer<UInt8>, into klines: inout [Kline], interval: Interval? = nil
    ) throws(CSVDocumentError) {
        let length = interval?.milliseconds
        var previousOpen = Int64.min
        var lineStart = 0
        var lineNumber = 0
        let newline = UInt8(ascii: "\n")
        while lineStart < bytes.count {
            lineNumber += 1
            var lineEnd = lineStart
            while lineEnd < bytes.count, bytes[lineEnd] != newline { lineEnd += 1 }
            let line = UnsafeBufferPointer(rebasing: bytes[lineStart..<lineEnd])
            lineStart = lineEnd + 1
            if line.isEmpty || (line.count == 1 && line[0] == 0x0D) { continue }
            if lineNumber == 1, let first = line.first, !(48...57).contains(first) { continue }
            let kline: Kline
            do {
                kline = try parseRow(line)
            } catch {
                throw CSVDocumentError(line: lineNumber, message: error.message)
            }
            guard kline.openTime > previousOpen else {
                throw CSVDocumentError(
                    line: lineNumber,
                    message: "open time \(kline.openTime) does not follow \(previousOpen); rows must ascend without repeats")
            }
            if let interval, let length {
                guard kline.openTime % length == 0, kline.closeTime >= kline.openTime, kline.closeTime < kline.openTime + length else {
                    throw CSVDocumentError(
                        line: lineNumber,
                        message: "open time \(kline.openTime) / close time \(kline.closeTime) is not a \(interval.rawValue) candle")
                }
            }
            previousOpen = kline.openTime
            klines.append(kline)
        }
    }
}

public struct CSVDocumentError: Error, Hashable, CustomStringConvertible {
    /// 1-based line number.
    public let line: Int
    public let message: String
    public var description: String { "line \(line): \(message)" }

    public init(line: Int, message: String) {
        self.line = line
        self.message = message
    }
}
