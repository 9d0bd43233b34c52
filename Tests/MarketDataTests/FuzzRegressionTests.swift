import Foundation
import Testing

@testable import MarketData

/// Inputs the fuzz targets (`scripts/fuzz`) found, or that their invariants pin down; see Fuzz/README.md.
struct FuzzRegressionTests {
    @Test func anUnterminatedStringEndingInABackslashLeavesTheScannerInsideItsInput() {
        // `"ab\` : the escape used to step the position one past the end.
        let bytes = Array("\"ab\\".utf8)
        bytes.withUnsafeBufferPointer { buffer in
            var scanner = JSONScanner(buffer)
            #expect(throws: JSONScanError.self) { try scanner.readString() }
            #expect(scanner.position <= buffer.count)
            #expect(scanner.position == 0)
        }
    }

    @Test func theIgnoredFieldIsEscapedWhenKlinesAreEncoded() throws {
        // A twelfth field with a quote, a backslash and a control character used to be written raw: invalid JSON.
        let body = #"[[1555000200000,"1.0","2.0","0.5","1.5","10.0",1555001999999,"15.0",3,"4.0","6.0","a\"b\\c\u0001"]]"#
        let klines = try BinanceCodec.decodeKlines(Array(body.utf8))
        #expect(klines.first?.ignore == "a\"b\\c\u{1}")
        let encoded = BinanceCodec.encodeKlines(klines)
        #expect(try BinanceCodec.decodeKlines(encoded) == klines)
        // The usual "0" is still written as before.
        var plain = klines[0]
        plain.ignore = "0"
        #expect(String(decoding: BinanceCodec.encodeKlines([plain]), as: UTF8.self).hasSuffix(#","0"]]"#))
    }

    @Test func openTimesTooLargeEvenAsMicrosecondsAreRejected() throws {
        let row = "888888888888888800,99,-99,99994,68,397,9,6,3,9,9,"
        #expect(throws: CSVRowError.self) { try Self.parseRow(row) }
        // A real 2025 microsecond row still reads, and writes back as the same milliseconds.
        let micro = try Self.parseRow("1735689600000000,1.0,2.0,0.5,1.5,10.0,1735689659999999,15.0,3,4.0,6.0,0")
        #expect(micro.openTime == 1_735_689_600_000 && micro.closeTime == 1_735_689_659_999)
        var written: [UInt8] = []
        KlineCSV.appendRow(micro, to: &written)
        #expect(try Self.parseRow(String(decoding: written.dropLast(), as: UTF8.self)) == micro)
    }

    @Test func decimalsAtTheLimitsRoundTripOrFailTyped() throws {
        let largest = "99999999999999999999999999999.99999999"
        #expect(try ExactDecimal(parsing: largest).description == largest)
        #expect(throws: DecimalParseError.self) { try ExactDecimal(parsing: "1" + String(repeating: "0", count: 29)) }
        // Every Int128 prints, even where the text is too long to parse back.
        #expect(ExactDecimal(units: .min).description.utf8.count <= ExactDecimal.maxCanonicalLength)
        #expect(ExactDecimal(ExactDecimal(units: .max).description) == nil)
    }

    @Test func timesFormatAtTheEndsOfInt64() {
        for value in [Int64.min, Int64.min + 1, -1, Int64.max] {
            #expect(!UTCTime.iso8601(value).isEmpty)
        }
    }

    static func parseRow(_ text: String) throws(CSVRowError) -> Kline {
        let bytes = Array(text.utf8)
        let result: Result<Kline, CSVRowError> = bytes.withUnsafeBufferPointer { buffer in
            Result { () throws(CSVRowError) in try KlineCSV.parseRow(buffer) }
        }
        return try result.get()
    }
}
