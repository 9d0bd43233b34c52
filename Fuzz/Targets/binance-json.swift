// Fuzz target `binance-json`: JSONScanner and every decoder in BinanceCodec (k-lines, depth, exchangeInfo, server
// time, error bodies), with decode → encode → decode round trips. Built with JSONScanner, ExactDecimal, BinanceCodec and Kline.
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafeRawPointer, _ count: Int) -> CInt {
    let buffer = UnsafeBufferPointer(start: data.assumingMemoryBound(to: UInt8.self), count: count)
    let bytes = Array(buffer)

    if let klines = try? BinanceCodec.decodeKlines(bytes) {
        let encoded = BinanceCodec.encodeKlines(klines)
        let again = try? BinanceCodec.decodeKlines(encoded)
        precondition(again == klines, "k-lines do not survive encode → decode: \(String(decoding: encoded, as: UTF8.self))")
    }

    if let book = try? BinanceCodec.decodeDepth(bytes) {
        let again = try? BinanceCodec.decodeDepth(BinanceCodec.encodeDepth(book))
        precondition(again == book, "depth does not survive encode → decode")
    }

    let body = Data(bytes)
    if let info = try? BinanceCodec.decodeExchangeInfo(body) {
        // Our own encoding of what was read (the simulator writes its richer document with JSONWriter).
        let again = try? BinanceCodec.decodeExchangeInfo(JSONEncoder().encode(info))
        precondition(again == info, "exchangeInfo does not survive encode → decode")
    }
    if let serverTime = try? BinanceCodec.decodeServerTime(body) {
        precondition((0...UTCTime.latest).contains(serverTime), "serverTime \(serverTime) outside 1970-9999")
    }
    if let error = BinanceCodec.decodeError(body) {
        let again = BinanceCodec.decodeError(Data(BinanceCodec.encodeError(error)))
        precondition(again == error, "error body does not survive encode → decode")
    }

    // The scanner's primitives on their own, from the start and from every value they leave off at.
    var scanner = JSONScanner(buffer)
    if let range = try? scanner.skipValue() {
        precondition(range.lowerBound >= 0 && range.upperBound <= count && scanner.position == range.upperBound)
        _ = try? scanner.expectEnd()
    }
    precondition(scanner.position <= count)
    for read in 0..<4 {
        var scanner = JSONScanner(buffer)
        var steps = 0
        while scanner.position < count, steps < 64 {
            let before = scanner.position
            switch read {
            case 0: _ = try? scanner.readInt64()
            case 1: _ = try? scanner.readDecimal()
            case 2: _ = try? scanner.readString()
            default: _ = try? scanner.readScalarText()
            }
            precondition(scanner.position <= count)
            if scanner.position == before { _ = try? scanner.nextElement(closing: UInt8(ascii: "]")) }
            if scanner.position == before { break }
            steps += 1
        }
    }

    // Decimal and integer literals as Binance sends them.
    if let text = String(validating: bytes, as: UTF8.self), !bytes.contains(UInt8(ascii: "\"")) {
        let quoted = Array("\"\(text)\"".utf8)
        quoted.withUnsafeBufferPointer { quotedBuffer in
            var scanner = JSONScanner(quotedBuffer)
            let decimal = try? scanner.readDecimal()
            precondition(decimal == nil || decimal == (try? ExactDecimal(parsing: text)))
        }
    }
    return 0
}
