import Foundation
import Testing

@testable import MarketData

/// Outside values that used to pass through unchecked: markup that could end an attribute, times that later overflow,
/// fields that could add columns to an export.
struct HostileInputTests {
    @Test func markupEscapingWorksOnScalarsSoACombiningMarkCannotHideAQuote() {
        // `"` + U+0301 is one Character that is not `"`: escaped by Character it passed through raw.
        let hostile = "x\"\u{301} onmouseover=alert(1) <\u{301}script>&\u{301}"
        let escaped = MarkupText.escape(hostile)
        #expect(!escaped.unicodeScalars.contains("\"") && !escaped.unicodeScalars.contains("<"))
        #expect(escaped == "x&quot;\u{301} onmouseover=alert(1) &lt;\u{301}script&gt;&amp;\u{301}")
    }

    @Test func candleTimesOutside1970To9999AreRefusedByTheJSONAndCSVReaders() throws {
        func json(_ open: Int64, _ close: Int64) -> [UInt8] {
            Array("[[\(open),\"1.0\",\"1.0\",\"1.0\",\"1.0\",\"1.0\",\(close),\"1.0\",1,\"1.0\",\"1.0\",\"0\"]]".utf8)
        }
        #expect(try BinanceCodec.decodeKlines(json(1_700_000_000_000, 1_700_000_059_999)).count == 1)
        for (open, close) in [(Int64.max - 10, Int64.max), (-60_000, -1), (253_402_300_740_000, 253_402_300_800_000)] {
            #expect(throws: JSONScanError.self) { try BinanceCodec.decodeKlines(json(open, close)) }
        }
        func csv(_ open: Int64, _ close: Int64) throws(CSVRowError) -> Kline {
            let line = Array("\(open),1.0,1.0,1.0,1.0,1.0,\(close),1.0,1,1.0,1.0,0".utf8)
            return try line.withUnsafeBufferPointer { buffer throws(CSVRowError) in try KlineCSV.parseRow(buffer) }
        }
        #expect(try csv(1_700_000_000_000, 1_700_000_059_999).openTime == 1_700_000_000_000)
        for (open, close) in [(Int64(-60_000), Int64(-1)), (1_700_000_000_000, 1_699_999_999_999)] {
            #expect(throws: CSVRowError.self) { try csv(open, close) }
        }
    }

    @Test func anIgnoredFieldWithCommasOrQuotesIsQuotedInCSV() throws {
        var kline = try #require(
            try BinanceCodec.decodeKlines(
                Array(
                    "[[1700000000000,\"1.0\",\"1.0\",\"1.0\",\"1.0\",\"1.0\",1700000059999,\"1.0\",1,\"1.0\",\"1.0\",\"0\"]]"
                        .utf8)
            ).first)
        var plain: [UInt8] = []
        KlineCSV.appendRow(kline, to: &plain)
        #expect(String(decoding: plain, as: UTF8.self).hasSuffix(",0\n"))
        kline.ignore = "a,\"b\"\nc"
        var quoted: [UInt8] = []
        KlineCSV.appendRow(kline, to: &quoted)
        let text = String(decoding: quoted, as: UTF8.self)
        #expect(text.hasSuffix(",\"a,\"\"b\"\"\nc\"\n"))
        #expect(text.split(separator: ",", omittingEmptySubsequences: false).count == 13)  // 12 columns + the quoted comma
    }

    @Test func trimmingWorksOnScalarsSoCRLFIsTrimmed() {
        #expect(UTCTime.parse("2024-01-01T00:00:00Z\r\n") == 1_704_067_200_000)
        #expect(UTCTime.parse("\r\n1704067200000\r\n") == 1_704_067_200_000)
    }
}
