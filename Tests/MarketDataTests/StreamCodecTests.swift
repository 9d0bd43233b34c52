import Foundation
import MarketData
import Testing

struct StreamCodecTests {
    /// The kline event of Binance's WebSocket documentation, in a combined-stream wrapper.
    static let documentedKline = """
        {"stream":"bnbbtc@kline_1m","data":{
          "e": "kline", "E": 1672515782136, "s": "BNBBTC",
          "k": {
            "t": 1672515780000, "T": 1672515839999, "s": "BNBBTC", "i": "1m", "f": 100, "L": 200,
            "o": "0.0010", "c": "0.0020", "h": "0.0025", "l": "0.0015", "v": "1000", "n": 100, "x": false,
            "q": "1.0000", "V": "500", "Q": "0.500", "B": "123456"
          }
        }}
        """

    /// The diff-depth event of Binance's documentation, raw (`/ws/bnbbtc@depth@100ms`).
    static let documentedDepth = """
        {"e": "depthUpdate", "E": 1672515782136, "s": "BNBBTC", "U": 157, "u": 160,
         "b": [["0.0024", "10"]], "a": [["0.0026", "100"]]}
        """

    @Test func readsBinancesDocumentedKlineEvent() throws {
        guard case .kline(let event) = try BinanceStreamCodec.decode(Array(Self.documentedKline.utf8)) else {
            Issue.record("not a kline event")
            return
        }
        #expect(event.symbol.rawValue == "BNBBTC" && event.eventTime == 1_672_515_782_136 && !event.isFinal)
        #expect(event.kline.openTime == 1_672_515_780_000 && event.kline.closeTime == 1_672_515_839_999)
        let (open, high, takerQuote) = (
            try ExactDecimal(parsing: "0.001"), try ExactDecimal(parsing: "0.0025"), try ExactDecimal(parsing: "0.5")
        )
        #expect(event.kline.open == open && event.kline.high == high)
        #expect(event.kline.tradeCount == 100 && event.kline.takerBuyQuoteVolume == takerQuote)
        #expect(event.kline.ignore == "123456")
    }

    @Test func readsBinancesDocumentedDepthEvent() throws {
        guard case .depth(let event) = try BinanceStreamCodec.decode(Array(Self.documentedDepth.utf8)) else {
            Issue.record("not a depth event")
            return
        }
        #expect(event.firstUpdateId == 157 && event.finalUpdateId == 160)
        #expect(event.bids == [PriceLevel(price: try ExactDecimal(parsing: "0.0024"), quantity: ExactDecimal(10))])
        #expect(event.asks == [PriceLevel(price: try ExactDecimal(parsing: "0.0026"), quantity: ExactDecimal(100))])
    }

    @Test func readsRepliesErrorsAndOtherStreams() throws {
        #expect(try BinanceStreamCodec.decode(Array(#"{"result":null,"id":7}"#.utf8)) == .reply(id: 7))
        guard case .error(let id, _) = try BinanceStreamCodec.decode(Array(#"{"error":{"code":2,"msg":"Invalid request"},"id":3}"#.utf8))
        else {
            Issue.record("not an error")
            return
        }
        #expect(id == 3)
        #expect(try BinanceStreamCodec.decode(Array(#"{"e":"trade","E":1,"s":"BNBBTC","p":"1"}"#.utf8)) == .ignored)
        // Another interval's kline events are not the 1m candles the lake holds.
        let hourly = Self.documentedKline.replacingOccurrences(of: #""i": "1m""#, with: #""i": "1h""#)
        #expect(try BinanceStreamCodec.decode(Array(hourly.utf8)) == .ignored)
    }

    @Test func writesWhatItReads() throws {
        let kline = Kline(
            openTime: 1_700_000_040_000, open: try ExactDecimal(parsing: "42000.01"), high: try ExactDecimal(parsing: "42010"),
            low: try ExactDecimal(parsing: "41990.5"), close: try ExactDecimal(parsing: "42001"),
            volume: try ExactDecimal(parsing: "1.23456789"),
            closeTime: 1_700_000_099_999, quoteVolume: try ExactDecimal(parsing: "51851.85"), tradeCount: 12,
            takerBuyBaseVolume: try ExactDecimal(parsing: "0.5"), takerBuyQuoteVolume: try ExactDecimal(parsing: "21000"))
        let event = KlineStreamEvent(symbol: try Symbol("BTCUSDT"), eventTime: 1_700_000_100_001, kline: kline, isFinal: true)
        let combined = BinanceStreamCodec.combined(stream: .kline(event.symbol), data: BinanceStreamCodec.encode(event))
        #expect(try BinanceStreamCodec.decode(combined) == .kline(event))
        let diff = DepthDiffEvent(
            symbol: try Symbol("BTCUSDT"), eventTime: 5, firstUpdateId: 10, finalUpdateId: 12,
            bids: [PriceLevel(price: try ExactDecimal(parsing: "42000"), quantity: .zero)],
            asks: [PriceLevel(price: try ExactDecimal(parsing: "42000.01"), quantity: try ExactDecimal(parsing: "0.001"))])
        #expect(try BinanceStreamCodec.decode(BinanceStreamCodec.encode(diff)) == .depth(diff))
    }

    @Test(arguments: [
        "", "{", "[]", #"{"stream":"x","data":{"e":"kline"}}"#, #"{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":5,"u":4,"b":[],"a":[]}"#,
        #"{"e":"depthUpdate","E":1,"s":"btc usdt","U":1,"u":1,"b":[],"a":[]}"#,
        #"{"e":"kline","E":1,"s":"BTCUSDT","k":{"t":2,"T":1,"i":"1m","o":"1","c":"1","h":"1","l":"1","v":"1","n":1,"x":true,"q":"1","V":"1","Q":"1"}}"#,
        #"{"e":"kline","E":1,"s":"BTCUSDT","k":{"t":1,"T":2,"i":"1m","o":"1","c":"1","h":"1","l":"1","v":"1","n":1,"x":"yes","q":"1","V":"1","Q":"1"}}"#,
        #"{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":99999999999999999999,"b":[],"a":[]}"#,
        #"{"e":"kline","E":1,"s":"BTCUSDT","k":{"t":60000,"T":253402300799999,"i":"1m","o":"1","c":"1","h":"1","l":"1","v":"1","n":1,"x":true,"q":"1","V":"1","Q":"1"}}"#,
        #"{"e":"kline","E":1,"s":"BTCUSDT","k":{"t":60001,"T":120000,"i":"1m","o":"1","c":"1","h":"1","l":"1","v":"1","n":1,"x":true,"q":"1","V":"1","Q":"1"}}"#,
    ])
    func refusesMalformedMessages(_ text: String) {
        #expect(throws: JSONScanError.self) { try BinanceStreamCodec.decode(Array(text.utf8)) }
    }

    @Test func namesStreamsAsBinanceDoes() throws {
        let btc = try Symbol("BTCUSDT")
        #expect(StreamName.kline(btc).description == "btcusdt@kline_1m" && StreamName.depth(btc).description == "btcusdt@depth@100ms")
        #expect(StreamName("btcusdt@kline_1m") == .kline(btc) && StreamName("btcusdt@depth@100ms") == .depth(btc))
        for bad in [
            "BTCUSDT@kline_1m", "btcusdt@kline_5m", "btcusdt", "@kline_1m", "btc usdt@depth@100ms", String(repeating: "a", count: 100),
        ] {
            #expect(StreamName(bad) == nil, "\(bad)")
        }
    }
}
