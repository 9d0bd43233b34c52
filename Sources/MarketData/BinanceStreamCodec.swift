public import Foundation

/// A market stream the collector subscribes to: `<symbol>@kline_1m` or `<symbol>@depth@100ms`.
public enum StreamName: Sendable, Hashable, CustomStringConvertible {
    case kline(Symbol)
    case depth(Symbol)

    public var symbol: Symbol {
        switch self {
        case .kline(let symbol), .depth(let symbol): symbol
        }
    }

    /// Binance's spelling: the symbol in lower case.
    public var description: String {
        switch self {
        case .kline(let symbol): "\(symbol.rawValue.lowercased())@kline_1m"
        case .depth(let symbol): "\(symbol.rawValue.lowercased())@depth@100ms"
        }
    }

    /// Reads a stream name; `nil` for any other stream (or a malformed name).
    public init?(_ text: some StringProtocol) {
        guard text.utf8.count <= 64, let at = text.firstIndex(of: "@") else { return nil }
        let name = text[..<at]
        let kind = text[text.index(after: at)...]
        // Binance's names are lower case; the symbol is upper case everywhere else.
        guard name.allSatisfy({ !$0.isUppercase }), let symbol = try? Symbol(name.uppercased()) else { return nil }
        switch kind {
        case "kline_1m": self = .kline(symbol)
        case "depth@100ms": self = .depth(symbol)
        default: return nil
        }
    }
}

/// A k-line stream event: the current state of one candle, final (`x` = true) on the minute's last event.
public struct KlineStreamEvent: Sendable, Hashable {
    public var symbol: Symbol
    public var eventTime: Int64
    public var kline: Kline
    public var isFinal: Bool

    public init(symbol: Symbol, eventTime: Int64, kline: Kline, isFinal: Bool) {
        self.symbol = symbol
        self.eventTime = eventTime
        self.kline = kline
        self.isFinal = isFinal
    }
}

/// A diff-depth event: the levels that changed between update ids `firstUpdateId` and `finalUpdateId`; a quantity of 0
/// removes the level.
public struct DepthDiffEvent: Sendable, Hashable {
    public var symbol: Symbol
    public var eventTime: Int64
    public var firstUpdateId: Int64
    public var finalUpdateId: Int64
    public var bids: [PriceLevel]
    public var asks: [PriceLevel]

    public init(symbol: Symbol, eventTime: Int64, firstUpdateId: Int64, finalUpdateId: Int64, bids: [PriceLevel], asks: [PriceLevel]) {
        self.symbol = symbol
        self.eventTime = eventTime
        self.firstUpdateId = firstUpdateId
        self.finalUpdateId = finalUpdateId
        self.bids = bids
        self.asks = asks
    }
}

/// One message of a market-data WebSocket connection.
public enum StreamMessage: Sendable, Hashable {
    case kline(KlineStreamEvent)
    case depth(DepthDiffEvent)
    /// The answer to a request (`SUBSCRIBE`, `UNSUBSCRIBE`): `{"result":null,"id":7}`.
    case reply(id: Int64)
    /// An error answer: `{"error":{"code":2,"msg":"…"},"id":7}`.
    case error(id: Int64?, message: String)
    /// An event of a stream type the collector does not use.
    case ignored
}

/// Reads and writes the JSON messages of Binance's market streams, raw (`/ws/<stream>`) or combined
/// (`/stream?streams=…`: `{"stream":"btcusdt@kline_1m","data":{…}}`).
///
/// Total like ``BinanceCodec``: any bytes give a message or a ``JSONScanError``.
public enum BinanceStreamCodec {
    public static func decode(_ bytes: some ContiguousBytes) throws(JSONScanError) -> StreamMessage {
        let result: Result<StreamMessage, JSONScanError> = bytes.withUnsafeBytes { raw in
            let buffer = UnsafeBufferPointer(start: raw.baseAddress?.assumingMemoryBound(to: UInt8.self), count: raw.count)
            var scanner = JSONScanner(buffer)
            return Result { () throws(JSONScanError) in
                let message = try decodeMessage(&scanner, nested: false)
                try scanner.expectEnd()
                return message
            }
        }
        return try result.get()
    }

    /// The fields of one message object; `data` (one level deep only) holds the event of a combined stream.
    private static func decodeMessage(_ scanner: inout JSONScanner, nested: Bool) throws(JSONScanError) -> StreamMessage {
        try scanner.expect(UInt8(ascii: "{"))
        var eventType: String?
        var eventTime: Int64?
        var symbolText: String?
        var kline: (kline: Kline, isFinal: Bool, interval: String)?
        var firstUpdateId: Int64?
        var finalUpdateId: Int64?
        var bids: [PriceLevel]?
        var asks: [PriceLevel]?
        var id: Int64?
        var hasResult = false
        var errorText: String?
        var data: StreamMessage?
        if !scanner.consume(UInt8(ascii: "}")) {
            repeat {
                let key = try scanner.readString()
                try scanner.expect(UInt8(ascii: ":"))
                switch key {
                case "e": eventType = try scanner.readScalarText()
                case "E": eventTime = try scanner.readInt64()
                case "s": symbolText = try scanner.readScalarText()
                case "k": kline = try decodeKline(&scanner)
                case "U": firstUpdateId = try scanner.readInt64()
                case "u": finalUpdateId = try scanner.readInt64()
                case "b": bids = try BinanceCodec.decodeLevels(&scanner)
                case "a": asks = try BinanceCodec.decodeLevels(&scanner)
                case "id": id = Int64(try scanner.readScalarText())
                case "result":
                    hasResult = true
                    try scanner.skipValue()
                case "error":
                    let range = try scanner.skipValue()
                    errorText = "error object at bytes \(range.lowerBound)..<\(range.upperBound)"
                case "data" where !nested: data = try decodeMessage(&scanner, nested: true)
                default: try scanner.skipValue()
                }
            } while try scanner.nextElement(closing: UInt8(ascii: "}"))
        }
        if let data { return data }
        if let errorText { return .error(id: id, message: errorText) }
        if hasResult, let id { return .reply(id: id) }
        switch eventType {
        case "kline":
            guard let eventTime, let symbolText, let kline else { throw scanner.error("kline event lacks E, s or k") }
            guard kline.interval == "1m" else { return .ignored }
            // A 1m candle opens on a minute and closes 59,999 ms later: anything else would name a minute it is not.
            guard kline.kline.openTime % 60_000 == 0, kline.kline.closeTime == kline.kline.openTime + 59_999 else {
                throw scanner.error("a 1m kline must open on a minute and close 59,999 ms later")
            }
            let symbol = try symbol(symbolText, scanner)
            return .kline(KlineStreamEvent(symbol: symbol, eventTime: eventTime, kline: kline.kline, isFinal: kline.isFinal))
        case "depthUpdate":
            guard let eventTime, let symbolText, let firstUpdateId, let finalUpdateId, let bids, let asks else {
                throw scanner.error("depthUpdate event lacks E, s, U, u, b or a")
            }
            guard firstUpdateId <= finalUpdateId else {
                throw scanner.error("depthUpdate first update id \(firstUpdateId) after final update id \(finalUpdateId)")
            }
            let symbol = try symbol(symbolText, scanner)
            return .depth(
                DepthDiffEvent(
                    symbol: symbol, eventTime: eventTime, firstUpdateId: firstUpdateId, finalUpdateId: finalUpdateId, bids: bids, asks: asks
                ))
        default:
            return .ignored
        }
    }

    private static func symbol(_ text: String, _ scanner: borrowing JSONScanner) throws(JSONScanError) -> Symbol {
        do {
            return try Symbol(text)
        } catch {
            throw scanner.error("event symbol: \(error)")
        }
    }

    /// The `k` object of a kline event.
    private static func decodeKline(_ scanner: inout JSONScanner) throws(JSONScanError) -> (kline: Kline, isFinal: Bool, interval: String) {
        try scanner.expect(UInt8(ascii: "{"))
        var openTime: Int64?
        var closeTime: Int64?
        var interval: String?
        var open: ExactDecimal?
        var close: ExactDecimal?
        var high: ExactDecimal?
        var low: ExactDecimal?
        var volume: ExactDecimal?
        var trades: Int64?
        var isFinal: Bool?
        var quote: ExactDecimal?
        var takerBase: ExactDecimal?
        var takerQuote: ExactDecimal?
        var ignore = "0"
        if !scanner.consume(UInt8(ascii: "}")) {
            repeat {
                let key = try scanner.readString()
                try scanner.expect(UInt8(ascii: ":"))
                switch key {
                case "t": openTime = try scanner.readInt64()
                case "T": closeTime = try scanner.readInt64()
                case "i": interval = try scanner.readScalarText()
                case "o": open = try scanner.readDecimal()
                case "c": close = try scanner.readDecimal()
                case "h": high = try scanner.readDecimal()
                case "l": low = try scanner.readDecimal()
                case "v": volume = try scanner.readDecimal()
                case "n": trades = try scanner.readInt64()
                case "x":
                    switch try scanner.readScalarText() {
                    case "true": isFinal = true
                    case "false": isFinal = false
                    default: throw scanner.error("kline field 'x' is not a boolean")
                    }
                case "q": quote = try scanner.readDecimal()
                case "V": takerBase = try scanner.readDecimal()
                case "Q": takerQuote = try scanner.readDecimal()
                case "B": ignore = try scanner.readScalarText()
                default: try scanner.skipValue()
                }
            } while try scanner.nextElement(closing: UInt8(ascii: "}"))
        }
        guard let openTime, let closeTime, let interval, let open, let close, let high, let low, let volume, let trades, let isFinal,
            let quote, let takerBase, let takerQuote
        else { throw scanner.error("kline object lacks one of t, T, i, o, c, h, l, v, n, x, q, V, Q") }
        guard closeTime >= openTime, UTCTime.acceptsCandle(openTime: openTime, closeTime: closeTime) else {
            throw scanner.error("kline times \(openTime)…\(closeTime) are not a candle of 1970–9999")
        }
        let kline = Kline(
            openTime: openTime, open: open, high: high, low: low, close: close, volume: volume, closeTime: closeTime, quoteVolume: quote,
            tradeCount: trades, takerBuyBaseVolume: takerBase, takerBuyQuoteVolume: takerQuote, ignore: ignore)
        return (kline, isFinal, interval)
    }

    // MARK: Writing (the simulator's side)

    /// A kline event as Binance sends it (`f`/`L`, the trade ids, are -1: the simulator has none).
    public static func encode(_ event: KlineStreamEvent) -> [UInt8] {
        let kline = event.kline
        var bytes: [UInt8] = []
        bytes.reserveCapacity(400)
        let symbol = event.symbol.rawValue
        bytes.append(contentsOf: "{\"e\":\"kline\",\"E\":\(event.eventTime),\"s\":\"\(symbol)\",\"k\":{\"t\":\(kline.openTime),".utf8)
        bytes.append(contentsOf: "\"T\":\(kline.closeTime),\"s\":\"\(symbol)\",\"i\":\"1m\",\"f\":-1,\"L\":-1".utf8)
        for (name, value) in [("o", kline.open), ("c", kline.close), ("h", kline.high), ("l", kline.low), ("v", kline.volume)] {
            appendDecimal(name, value, to: &bytes)
        }
        bytes.append(contentsOf: ",\"n\":\(kline.tradeCount),\"x\":\(event.isFinal)".utf8)
        for (name, value) in [("q", kline.quoteVolume), ("V", kline.takerBuyBaseVolume), ("Q", kline.takerBuyQuoteVolume)] {
            appendDecimal(name, value, to: &bytes)
        }
        bytes.append(contentsOf: ",\"B\":".utf8)
        JSONText.appendString(kline.ignore, to: &bytes)
        bytes.append(contentsOf: "}}".utf8)
        return bytes
    }

    public static func encode(_ event: DepthDiffEvent) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(80 + (event.bids.count + event.asks.count) * 36)
        bytes.append(contentsOf: "{\"e\":\"depthUpdate\",\"E\":\(event.eventTime),\"s\":\"\(event.symbol.rawValue)\",".utf8)
        bytes.append(contentsOf: "\"U\":\(event.firstUpdateId),\"u\":\(event.finalUpdateId),\"b\":".utf8)
        BinanceCodec.appendLevels(event.bids, to: &bytes)
        bytes.append(contentsOf: ",\"a\":".utf8)
        BinanceCodec.appendLevels(event.asks, to: &bytes)
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }

    /// `data` wrapped for a combined-stream connection.
    public static func combined(stream: StreamName, data: [UInt8]) -> [UInt8] {
        var bytes = Array("{\"stream\":\"\(stream)\",\"data\":".utf8)
        bytes.reserveCapacity(bytes.count + data.count + 1)
        bytes.append(contentsOf: data)
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }

    private static func appendDecimal(_ name: String, _ value: ExactDecimal, to bytes: inout [UInt8]) {
        bytes.append(contentsOf: ",\"\(name)\":\"".utf8)
        value.appendCanonical(to: &bytes)
        bytes.append(UInt8(ascii: "\""))
    }
}
