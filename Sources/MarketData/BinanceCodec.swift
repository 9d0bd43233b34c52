public import Foundation

/// Reads and writes the JSON bodies of Binance's public REST API.
public enum BinanceCodec {
    // MARK: K-lines

    /// Decodes the body of `/api/v3/klines`: an array of 12-element arrays.
    public static func decodeKlines(_ bytes: some ContiguousBytes) throws(JSONScanError) -> [Kline] {
        let result: Result<[Kline], JSONScanError> = bytes.withUnsafeBytes { raw in
            let buffer = UnsafeBufferPointer(start: raw.baseAddress?.assumingMemoryBound(to: UInt8.self), count: raw.count)
            var scanner = JSONScanner(buffer)
            return Result { () throws(JSONScanError) in
                let klines = try decodeKlines(&scanner)
                try scanner.expectEnd()
                return klines
            }
        }
        return try result.get()
    }

    /// Decodes a k-line array at the scanner's position.
    public static func decodeKlines(_ scanner: inout JSONScanner) throws(JSONScanError) -> [Kline] {
        try scanner.expect(UInt8(ascii: "["))
        var klines: [Kline] = []
        if scanner.consume(UInt8(ascii: "]")) { return klines }
        repeat {
            klines.append(try decodeKline(&scanner))
        } while try scanner.nextElement(closing: UInt8(ascii: "]"))
        return klines
    }

    @inline(__always)
    static func decodeKline(_ scanner: inout JSONScanner) throws(JSONScanError) -> Kline {
        try scanner.expect(UInt8(ascii: "["))
        let openTime = try scanner.readInt64()
        try scanner.expect(UInt8(ascii: ","))
        let open = try scanner.readDecimal()
        try scanner.expect(UInt8(ascii: ","))
        let high = try scanner.readDecimal()
        try scanner.expect(UInt8(ascii: ","))
        let low = try scanner.readDecimal()
        try scanner.expect(UInt8(ascii: ","))
        let close = try scanner.readDecimal()
        try scanner.expect(UInt8(ascii: ","))
        let volume = try scanner.readDecimal()
        try scanner.expect(UInt8(ascii: ","))
        let closeTime = try scanner.readInt64()
        try scanner.expect(UInt8(ascii: ","))
        let quoteVolume = try scanner.readDecimal()
        try scanner.expect(UInt8(ascii: ","))
        let tradeCount = try scanner.readInt64()
        try scanner.expect(UInt8(ascii: ","))
        let takerBase = try scanner.readDecimal()
        try scanner.expect(UInt8(ascii: ","))
        let takerQuote = try scanner.readDecimal()
        try scanner.expect(UInt8(ascii: ","))
        let ignore = try scanner.readScalarText()
        try scanner.expect(UInt8(ascii: "]"))
        guard closeTime >= openTime else { throw scanner.error("k-line close time \(closeTime) before open time \(openTime)") }
        guard UTCTime.acceptsCandle(openTime: openTime, closeTime: closeTime) else {
            throw scanner.error("k-line times \(openTime)…\(closeTime) lie outside 1970–9999")
        }
        return Kline(
            openTime: openTime, open: open, high: high, low: low, close: close, volume: volume,
            closeTime: closeTime, quoteVolume: quoteVolume, tradeCount: tradeCount,
            takerBuyBaseVolume: takerBase, takerBuyQuoteVolume: takerQuote, ignore: ignore
        )
    }

    /// Encodes k-lines exactly as Binance does: times and counts as numbers, decimals as 8-digit strings.
    public static func encodeKlines(_ klines: some Collection<Kline>) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(klines.count * 180 + 2)
        bytes.append(UInt8(ascii: "["))
        var first = true
        for kline in klines {
            if !first { bytes.append(UInt8(ascii: ",")) }
            first = false
            bytes.append(UInt8(ascii: "["))
            bytes.append(contentsOf: String(kline.openTime).utf8)
            for value in [kline.open, kline.high, kline.low, kline.close, kline.volume] {
                appendQuoted(value, to: &bytes)
            }
            bytes.append(UInt8(ascii: ","))
            bytes.append(contentsOf: String(kline.closeTime).utf8)
            appendQuoted(kline.quoteVolume, to: &bytes)
            bytes.append(UInt8(ascii: ","))
            bytes.append(contentsOf: String(kline.tradeCount).utf8)
            appendQuoted(kline.takerBuyBaseVolume, to: &bytes)
            appendQuoted(kline.takerBuyQuoteVolume, to: &bytes)
            bytes.append(UInt8(ascii: ","))
            appendStringLiteral(kline.ignore, to: &bytes)
            bytes.append(UInt8(ascii: "]"))
        }
        bytes.append(UInt8(ascii: "]"))
        return bytes
    }

    /// `text` as a JSON string (``JSONText/appendString(_:to:)``).
    private static func appendStringLiteral(_ text: String, to bytes: inout [UInt8]) {
        JSONText.appendString(text, to: &bytes)
    }

    private static func appendQuoted(_ value: ExactDecimal, to bytes: inout [UInt8]) {
        bytes.append(contentsOf: ",\"".utf8)
        value.appendCanonical(to: &bytes)
        bytes.append(UInt8(ascii: "\""))
    }

    // MARK: Depth

    /// Decodes the body of `/api/v3/depth`: `{"lastUpdateId":…,"bids":[["p","q"],…],"asks":[…]}`.
    public static func decodeDepth(_ bytes: some ContiguousBytes) throws(JSONScanError) -> OrderBookSnapshot {
        let result: Result<OrderBookSnapshot, JSONScanError> = bytes.withUnsafeBytes { raw in
            let buffer = UnsafeBufferPointer(start: raw.baseAddress?.assumingMemoryBound(to: UInt8.self), count: raw.count)
            var scanner = JSONScanner(buffer)
            return Result { () throws(JSONScanError) in
                let book = try decodeDepth(&scanner)
                try scanner.expectEnd()
                return book
            }
        }
        return try result.get()
    }

    public static func decodeDepth(_ scanner: inout JSONScanner) throws(JSONScanError) -> OrderBookSnapshot {
        try scanner.expect(UInt8(ascii: "{"))
        var lastUpdateId: Int64?
        var bids: [PriceLevel]?
        var asks: [PriceLevel]?
        if !scanner.consume(UInt8(ascii: "}")) {
            repeat {
                let key = try scanner.readString()
                try scanner.expect(UInt8(ascii: ":"))
                switch key {
                case "lastUpdateId": lastUpdateId = try scanner.readInt64()
                case "bids": bids = try decodeLevels(&scanner)
                case "asks": asks = try decodeLevels(&scanner)
                default: try scanner.skipValue()
                }
            } while try scanner.nextElement(closing: UInt8(ascii: "}"))
        }
        guard let lastUpdateId, let bids, let asks else {
            throw scanner.error("depth object lacks lastUpdateId, bids or asks")
        }
        return OrderBookSnapshot(lastUpdateId: lastUpdateId, bids: bids, asks: asks)
    }

    static func decodeLevels(_ scanner: inout JSONScanner) throws(JSONScanError) -> [PriceLevel] {
        try scanner.expect(UInt8(ascii: "["))
        var levels: [PriceLevel] = []
        if scanner.consume(UInt8(ascii: "]")) { return levels }
        repeat {
            try scanner.expect(UInt8(ascii: "["))
            let price = try scanner.readDecimal()
            try scanner.expect(UInt8(ascii: ","))
            let quantity = try scanner.readDecimal()
            try scanner.expect(UInt8(ascii: "]"))
            levels.append(PriceLevel(price: price, quantity: quantity))
        } while try scanner.nextElement(closing: UInt8(ascii: "]"))
        return levels
    }

    public static func encodeDepth(_ book: OrderBookSnapshot) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(40 + (book.bids.count + book.asks.count) * 36)
        bytes.append(contentsOf: "{\"lastUpdateId\":\(book.lastUpdateId),\"bids\":".utf8)
        appendLevels(book.bids, to: &bytes)
        bytes.append(contentsOf: ",\"asks\":".utf8)
        appendLevels(book.asks, to: &bytes)
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }

    static func appendLevels(_ levels: [PriceLevel], to bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "["))
        for (index, level) in levels.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            bytes.append(contentsOf: "[\"".utf8)
            level.price.appendCanonical(to: &bytes)
            bytes.append(contentsOf: "\",\"".utf8)
            level.quantity.appendCanonical(to: &bytes)
            bytes.append(contentsOf: "\"]".utf8)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    // MARK: exchangeInfo and errors

    public static func decodeExchangeInfo(_ data: Data) throws -> ExchangeInfo {
        try JSONDecoder().decode(ExchangeInfo.self, from: data)
    }

    /// `{"serverTime":1499827319559}`, the answer of `/api/v3/time`; a time outside 1970–9999 is refused.
    public static func decodeServerTime(_ data: Data) throws -> Int64 {
        struct ServerTime: Decodable { var serverTime: Int64 }
        let time = try JSONDecoder().decode(ServerTime.self, from: data).serverTime
        guard (0...UTCTime.latest).contains(time) else { throw ServerTimeOutOfRange(serverTime: time) }
        return time
    }

    /// A `serverTime` before 1970 or after 9999.
    public struct ServerTimeOutOfRange: Error, CustomStringConvertible {
        public var serverTime: Int64
        public var description: String { "serverTime \(serverTime) is outside 1970-9999" }
    }

    /// Decodes Binance's error body `{"code":-1121,"msg":"Invalid symbol."}`; `nil` when the body has another shape.
    public static func decodeError(_ data: Data) -> BinanceErrorBody? {
        try? JSONDecoder().decode(BinanceErrorBody.self, from: data)
    }

    public static func encodeError(_ error: BinanceErrorBody) -> [UInt8] {
        var bytes = Array("{\"code\":\(error.code),\"msg\":".utf8)
        bytes.append(contentsOf: jsonStringLiteral(error.msg).utf8)
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }

    /// A JSON string literal with the required escapes (``JSONText/appendString(_:to:)``).
    public static func jsonStringLiteral(_ text: String) -> String {
        var bytes: [UInt8] = []
        JSONText.appendString(text, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Binance's error body, e.g. `{"code":-1121,"msg":"Invalid symbol."}`.
public struct BinanceErrorBody: Codable, Sendable, Hashable {
    public var code: Int
    public var msg: String

    public init(code: Int, msg: String) {
        self.code = code
        self.msg = msg
    }
}

/// The part of `/api/v3/exchangeInfo` CryptoPipe uses.
public struct ExchangeInfo: Codable, Sendable, Hashable {
    public struct RateLimit: Codable, Sendable, Hashable {
        public var rateLimitType: String
        public var interval: String
        public var intervalNum: Int
        public var limit: Int

        public init(rateLimitType: String, interval: String, intervalNum: Int, limit: Int) {
            self.rateLimitType = rateLimitType
            self.interval = interval
            self.intervalNum = intervalNum
            self.limit = limit
        }
    }

    public struct SymbolInfo: Codable, Sendable, Hashable {
        public var symbol: String
        public var status: String
        public var baseAsset: String
        public var quoteAsset: String

        public init(symbol: String, status: String, baseAsset: String, quoteAsset: String) {
            self.symbol = symbol
            self.status = status
            self.baseAsset = baseAsset
            self.quoteAsset = quoteAsset
        }
    }

    public var timezone: String
    public var serverTime: Int64
    public var rateLimits: [RateLimit]
    public var symbols: [SymbolInfo]

    public init(timezone: String = "UTC", serverTime: Int64, rateLimits: [RateLimit], symbols: [SymbolInfo]) {
        self.timezone = timezone
        self.serverTime = serverTime
        self.rateLimits = rateLimits
        self.symbols = symbols
    }
}
