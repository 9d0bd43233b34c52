// Fuzz target `dump-csv`: KlineCSV.parseRow, KlineCSV.parseDocument (with and without an interval) and
// KlineDumpName(fileName:); rows that parse are written with appendRow and must parse back equal.
// Built with Sources/MarketData/*.swift (the ZIP layer is not fuzzed; it is ZIPFoundation's).

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafeRawPointer, _ count: Int) -> CInt {
    let buffer = UnsafeBufferPointer(start: data.assumingMemoryBound(to: UInt8.self), count: count)

    // A twelfth field holding `,`, `"` or a line break is written quoted (RFC 4180), which the one-line reader does not
    // unquote: only plain fields must survive the round trip, and a quoted one must come out quoted.
    let special: Set<UInt8> = [UInt8(ascii: ","), UInt8(ascii: "\""), UInt8(ascii: "\n"), UInt8(ascii: "\r")]
    if let kline = try? KlineCSV.parseRow(buffer), kline.ignore.utf8.contains(where: special.contains) {
        var row: [UInt8] = []
        KlineCSV.appendRow(kline, to: &row)
        precondition(row.suffix(2) == [UInt8(ascii: "\""), UInt8(ascii: "\n")], "a special twelfth field was not quoted")
    } else if let kline = try? KlineCSV.parseRow(buffer) {
        var row: [UInt8] = []
        KlineCSV.appendRow(kline, to: &row)
        precondition(row.last == UInt8(ascii: "\n"))
        row.removeLast()
        let again = row.withUnsafeBufferPointer { try? KlineCSV.parseRow($0) }
        precondition(again == kline, "row does not survive appendRow → parseRow: \(String(decoding: row, as: UTF8.self))")
    }

    // The first byte picks the interval the document is checked against (or none).
    let intervals: [Interval?] = [nil] + Interval.allCases.map { $0 }
    let interval = count > 0 ? intervals[Int(buffer[0]) % intervals.count] : nil
    var klines: [Kline] = []
    do {
        try KlineCSV.parseDocument(buffer, into: &klines, interval: interval)
        for (earlier, later) in zip(klines, klines.dropFirst()) { precondition(earlier.openTime < later.openTime) }
    } catch {
        precondition(error.line >= 1)
    }

    let name = String(decoding: buffer.prefix(256), as: UTF8.self)
    if let dump = try? KlineDumpName(fileName: name) {
        precondition(name.contains(dump.symbol.rawValue) && name.contains(dump.interval.rawValue))
    }
    return 0
}
