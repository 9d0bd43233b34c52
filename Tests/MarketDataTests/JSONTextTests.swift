import Foundation
import MarketData
import Testing

/// The one JSON string and time writer the Binance codec and the API share.
struct JSONTextTests {
    @Test func stringsAreEscapedAsJSONRequiresAndReadBackUnchanged() throws {
        for text in ["0", "plain", "quote \" and \\ backslash", "line\nbreak\r\ttab", "\u{01}\u{1F}", "é 🦊 e\u{301}", ""] {
            var bytes: [UInt8] = []
            JSONText.appendString(text, to: &bytes)
            let decoded = try JSONDecoder().decode(String.self, from: Data(bytes))
            #expect(decoded == text)
            #expect(BinanceCodec.jsonStringLiteral(text) == String(decoding: bytes, as: UTF8.self))
        }
        var control: [UInt8] = []
        JSONText.appendString("\u{01}", to: &control)
        #expect(String(decoding: control, as: UTF8.self) == #""\u0001""#)
    }

    @Test func timesAreISO8601WhateverTheValue() {
        var bytes: [UInt8] = []
        JSONText.appendTime(1_709_251_199_999, to: &bytes)
        #expect(String(decoding: bytes, as: UTF8.self) == "\"2024-02-29T23:59:59.999Z\"")
        #expect(UTCTime.iso8601(253_402_300_799_999) == "9999-12-31T23:59:59.999Z")
        #expect(UTCTime.iso8601(-1) == "1969-12-31T23:59:59.999Z")
        // Outside the years candles may have, still total: a sign and more digits rather than a trap.
        #expect(UTCTime.iso8601(.min).hasPrefix("-") && UTCTime.iso8601(.min).hasSuffix("Z"))
        #expect(UTCTime.iso8601(.max).hasSuffix("Z") && UTCTime.iso8601(.max).count > 24)
    }
}
