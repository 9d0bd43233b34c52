public import MarketData

/// The JSON wrapper around each raw API response in the lake, as the original design wrote it:
/// `{"symbol": …, "captured_at": "<ISO-8601 UTC>", "type": "klines"|"depth", "interval": "1m" (klines only), "data": <response>}`.
///
/// `data` is the exchange's body byte for byte; the envelope is written around it, never re-encoded.
public struct RawEnvelope: Sendable {
    public var symbol: Symbol
    public var capturedAt: Int64
    public var type: RawDataType
    public var interval: Interval?
    /// Byte range of `data` inside the object.
    public var dataRange: Range<Int>

    public static func encode(symbol: Symbol, capturedAt: Int64, type: RawDataType, interval: Interval?, data: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(data.count + 128)
        bytes.append(
            contentsOf:
                "{\"symbol\":\"\(symbol.rawValue)\",\"captured_at\":\"\(UTCTime.iso8601(capturedAt))\",\"type\":\"\(type.rawValue)\"".utf8)
        if let interval { bytes.append(contentsOf: ",\"interval\":\"\(interval.rawValue)\"".utf8) }
        bytes.append(contentsOf: ",\"data\":".utf8)
        bytes.append(contentsOf: data)
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }

    /// Reads the envelope's fields and finds `data` without decoding it.
    public static func decode(_ bytes: UnsafeBufferPointer<UInt8>) throws(RawEnvelopeError) -> RawEnvelope {
        var scanner = JSONScanner(bytes)
        var symbol: Symbol?
        var capturedAt: Int64?
        var type: RawDataType?
        var interval: Interval?
        var dataRange: Range<Int>?
        do {
            try scanner.expect(UInt8(ascii: "{"))
            if !scanner.consume(UInt8(ascii: "}")) {
                repeat {
                    let key = try scanner.readString()
                    try scanner.expect(UInt8(ascii: ":"))
                    switch key {
                    case "symbol":
                        let text = try scanner.readString()
                        do { symbol = try Symbol(text) } catch { throw RawEnvelopeError("envelope field 'symbol': \(error)") }
                    case "captured_at":
                        let text = try scanner.readString()
                        guard let time = UTCTime.parse(text) else {
                            throw RawEnvelopeError("envelope field 'captured_at' is not ISO-8601: '\(text)'")
                        }
                        capturedAt = time
                    case "type":
                        let text = try scanner.readString()
                        guard let value = RawDataType(rawValue: text) else { throw RawEnvelopeError("unknown envelope type '\(text)'") }
                        type = value
                    case "interval":
                        let text = try scanner.readString()
                        guard let value = Interval(rawValue: text) else { throw RawEnvelopeError("unknown interval '\(text)'") }
                        interval = value
                    case "data":
                        dataRange = try scanner.skipValue()
                    default:
                        try scanner.skipValue()
                    }
                } while try scanner.nextElement(closing: UInt8(ascii: "}"))
            }
            try scanner.expectEnd()
        } catch let error as JSONScanError {
            throw RawEnvelopeError("malformed JSON: \(error)")
        } catch let error as RawEnvelopeError {
            throw error
        } catch {
            throw RawEnvelopeError("\(error)")
        }
        guard let symbol, let capturedAt, let type, let dataRange else {
            throw RawEnvelopeError("envelope lacks one of symbol, captured_at, type, data")
        }
        if type == .klines, interval == nil { throw RawEnvelopeError("k-line envelope lacks 'interval'") }
        return RawEnvelope(symbol: symbol, capturedAt: capturedAt, type: type, interval: interval, dataRange: dataRange)
    }
}

public struct RawEnvelopeError: Error, Sendable, Hashable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
