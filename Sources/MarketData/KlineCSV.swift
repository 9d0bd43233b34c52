/// Binance's data.binance.vision k-line CSV: 12 columns, no header, millisecond timestamps
/// (microseconds in spot files from 2025 on), decimals with eight fractional digits.
public enum KlineCSV {
    /// Appends one row, terminated by `\n`, in the dump's exact format.
    public static func appendRow(_ kline: Kline, to bytes: inout [UInt8]) {
        bytes.append(contentsOf: String(kline.openTime).utf8)
        for value in [kline.open, kline.high, kline.low, kline.close, kline.volume] {
            bytes.append(UInt8(ascii: ","))
            value.appendCanonical(to: &bytes)
        }
        bytes.append(UInt8(ascii: ","))
        bytes.append(contentsOf: String(kline.closeTime).utf8)
        bytes.append(UInt8(ascii: ","))
        kline.quoteVolume.appendCanonical(to: &bytes)
        bytes.append(UInt8(ascii: ","))
        bytes.append(contentsOf: String(kline.tradeCount).utf8)
        bytes.append(UInt8(ascii: ","))
        kline.takerBuyBaseVolume.appendCanonical(to: &bytes)
        bytes.append(UInt8(ascii: ","))
        kline.takerBuyQuoteVolume.appendCanonical(to: &bytes)
        bytes.append(UInt8(ascii: ","))
        appendField(kline.ignore, to: &bytes)
        bytes.append(UInt8(ascii: "\n"))
    }

    /// A text field as RFC 4180 has it: as is when plain (Binance's `0`), else quoted with quotes doubled, so a value
    /// from outside holding `,`, `"` or a line break cannot add columns or rows to an export.
    static func appendField(_ text: String, to bytes: inout [UInt8]) {
        let special: Set<UInt8> = [UInt8(ascii: ","), UInt8(ascii: "\""), UInt8(ascii: "\n"), UInt8(ascii: "\r")]
        guard text.utf8.contains(where: special.contains) else {
            bytes.append(contentsOf: text.utf8)
            return
        }
        bytes.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            if byte == UInt8(ascii: "\"") { bytes.append(byte) }
            bytes.append(byte)
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// Timestamps at or above this are microseconds: 10¹⁴ ms would be the year 5138.
    public static let microsecondThreshold: Int64 = 100_000_000_000_000

    /// Parses one row (without its line terminator); timestamps are returned in milliseconds.
    public static func parseRow(_ line: UnsafeBufferPointer<UInt8>) throws(CSVRowError) -> Kline {
        var fields: [Range<Int>] = []
        fields.reserveCapacity(12)
        var start = 0
        for index in 0..<line.count where line[index] == UInt8(ascii: ",") {
            fields.append(start..<index)
            start = index + 1
        }
        var end = line.count
        if end > start, line[end - 1] == 0x0D { end -= 1 }
        fields.append(start..<end)
        guard fields.count == 12 else {
            throw CSVRowError(message: "expected 12 columns, found \(fields.count)")
        }
        func slice(_ index: Int) -> UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(rebasing: line[fields[index]]) }
        func integer(_ index: Int, _ name: String) throws(CSVRowError) -> Int64 {
            let bytes = slice(index)
            var value: Int64 = 0
            guard !bytes.isEmpty, bytes.count <= 18 else { throw CSVRowError(message: "\(name) is not an integer") }
            for byte in bytes {
                let digit = byte &- 48
                guard digit < 10 else {
                    throw CSVRowError(message: "\(name) '\(String(decoding: bytes, as: UTF8.self))' is not an integer")
                }
                value = value * 10 + Int64(digit)
            }
            return value
        }
        func decimal(_ index: Int, _ name: String) throws(CSVRowError) -> ExactDecimal {
            do {
                return try ExactDecimal(bytes: slice(index))
            } catch {
                throw CSVRowError(message: "\(name): \(error.description)")
            }
        }
        var openTime = try integer(0, "open time")
        var closeTime = try integer(6, "close time")
        if openTime >= microsecondThreshold {
            let written = openTime
            openTime /= 1_000
            closeTime /= 1_000
            // Still past the threshold in milliseconds: no reading makes it a time (and writing it back would
            // change its meaning).
            guard openTime < microsecondThreshold else {
                throw CSVRowError(message: "open time \(written) is too large for milliseconds or microseconds")
            }
        }
        guard UTCTime.acceptsCandle(openTime: openTime, closeTime: closeTime) else {
            throw CSVRowError(message: "open time \(openTime) / close time \(closeTime) lie outside 1970–9999 or close before opening")
        }
        return Kline(
            openTime: openTime, open: try decimal(1, "open"), high: try decimal(2, "high"), low: try decimal(3, "low"),
            close: try decimal(4, "close"), volume: try decimal(5, "volume"), closeTime: closeTime,
            quoteVolume: try decimal(7, "quote volume"), tradeCount: try integer(8, "trade count"),
            takerBuyBaseVolume: try decimal(9, "taker buy base volume"),
            takerBuyQuoteVolume: try decimal(10, "taker buy quote volume"),
            ignore: String(decoding: slice(11), as: UTF8.self)
        )
    }
}

public struct CSVRowError: Error, Hashable, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
