import Foundation
import MarketData
import Testing

struct CodecTests {
    /// The example response from Binance's `/api/v3/klines` documentation.
    static let documentedKlines = """
        [
          [
            1499040000000,
            "0.01634790",
            "0.80000000",
            "0.01575800",
            "0.01577100",
            "148976.11427815",
            1499644799999,
            "2434.19055334",
            308,
            "1756.87402397",
            "28.46694368",
            "0"
          ]
        ]
        """

    @Test func decodesBinanceKlinesExactly() throws {
        let klines = try BinanceCodec.decodeKlines(Array(Self.documentedKlines.utf8))
        #expect(klines.count == 1)
        let kline = try #require(klines.first)
        #expect(kline.openTime == 1_499_040_000_000 && kline.closeTime == 1_499_644_799_999)
        #expect(kline.open.description == "0.01634790" && kline.high.description == "0.80000000")
        #expect(kline.volume.description == "148976.11427815" && kline.quoteVolume.description == "2434.19055334")
        #expect(kline.tradeCount == 308 && kline.takerBuyQuoteVolume.description == "28.46694368" && kline.ignore == "0")
        // Re-encoding gives Binance's compact form, which decodes to the same candle.
        let encoded = BinanceCodec.encodeKlines(klines)
        #expect(String(decoding: encoded, as: UTF8.self) == Self.documentedKlines.filter { !$0.isWhitespace })
        #expect(try BinanceCodec.decodeKlines(encoded) == klines)
    }

    @Test(arguments: [
        "", "[", "[[1499040000000,\"0.1\"]]", "[[1,\"a\",\"1\",\"1\",\"1\",\"1\",2,\"1\",3,\"1\",\"1\",\"0\"]]",
        "[[1.5,\"1\",\"1\",\"1\",\"1\",\"1\",2,\"1\",3,\"1\",\"1\",\"0\"]]", "{\"code\":-1121,\"msg\":\"Invalid symbol.\"}",
        "[[1,\"1\",\"1\",\"1\",\"1\",\"1\",2,\"1\",3,\"1\",\"1\",\"0\"]] trailing",
        "[[5,\"1\",\"1\",\"1\",\"1\",\"1\",2,\"1\",3,\"1\",\"1\",\"0\"]]",
    ])
    func rejectsMalformedKlines(body: String) {
        #expect(throws: JSONScanError.self) { try BinanceCodec.decodeKlines(Array(body.utf8)) }
    }

    @Test func decodesDepthInAnyKeyOrder() throws {
        let body = #"{"asks":[["4.00000200","12.00000000"]],"E":1,"lastUpdateId":1027024,"bids":[["4.00000000","431.00000000"]]}"#
        let book = try BinanceCodec.decodeDepth(Array(body.utf8))
        #expect(book.lastUpdateId == 1_027_024)
        #expect(book.bids == [PriceLevel(price: try ExactDecimal(parsing: "4"), quantity: try ExactDecimal(parsing: "431"))])
        #expect(book.asks.first?.price.description == "4.00000200")
        #expect(try BinanceCodec.decodeDepth(BinanceCodec.encodeDepth(book)) == book)
        #expect(throws: JSONScanError.self) { try BinanceCodec.decodeDepth(Array(#"{"bids":[],"asks":[]}"#.utf8)) }
    }

    @Test func decodesErrorBodiesAndExchangeInfo() throws {
        #expect(
            BinanceCodec.decodeError(Data(#"{"code":-1121,"msg":"Invalid symbol."}"#.utf8))
                == BinanceErrorBody(code: -1121, msg: "Invalid symbol."))
        #expect(BinanceCodec.decodeError(Data("<html>".utf8)) == nil)
        let info = ExchangeInfo(
            serverTime: 5, rateLimits: [.init(rateLimitType: "REQUEST_WEIGHT", interval: "MINUTE", intervalNum: 1, limit: 6000)],
            symbols: [.init(symbol: "BTCUSDT", status: "TRADING", baseAsset: "BTC", quoteAsset: "USDT")])
        let text =
            #"{"timezone":"UTC","serverTime":5,"rateLimits":[{"rateLimitType":"REQUEST_WEIGHT","interval":"MINUTE","intervalNum":1,"limit":6000}],"exchangeFilters":[],"symbols":[{"symbol":"BTCUSDT","status":"TRADING","baseAsset":"BTC","baseAssetPrecision":8,"quoteAsset":"USDT","filters":[]}]}"#
        #expect(try BinanceCodec.decodeExchangeInfo(Data(text.utf8)) == info)
        #expect(
            String(decoding: BinanceCodec.encodeError(.init(code: -1, msg: "a \"q\"\n")), as: UTF8.self)
                == #"{"code":-1,"msg":"a \"q\"\n"}"#)
    }

    @Test func csvRowsMatchTheDumpFormat() throws {
        let line =
            "1499040000000,0.01634790,0.80000000,0.01575800,0.01577100,148976.11427815,1499644799999,2434.19055334,308,1756.87402397,28.46694368,0"
        let kline = try Array(line.utf8).withUnsafeBufferPointer { try KlineCSV.parseRow($0) }
        var bytes: [UInt8] = []
        KlineCSV.appendRow(kline, to: &bytes)
        #expect(String(decoding: bytes, as: UTF8.self) == line + "\n")
        // 2025+ spot dumps use microseconds.
        let micro = "1735689600000000,1,1,1,1,0,1735689659999999,0,0,0,0,0\r"
        let fromMicro = try Array(micro.utf8).withUnsafeBufferPointer { try KlineCSV.parseRow($0) }
        #expect(fromMicro.openTime == 1_735_689_600_000 && fromMicro.closeTime == 1_735_689_659_999)
        for bad in ["1,2,3", "x,1,1,1,1,0,2,0,0,0,0,0", "1,1,1,1,1,0,2,0,abc,0,0,0"] {
            #expect(throws: CSVRowError.self) { try Array(bad.utf8).withUnsafeBufferPointer { try KlineCSV.parseRow($0) } }
        }
    }
}
