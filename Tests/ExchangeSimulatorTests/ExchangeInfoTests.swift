import ExchangeSimulator
import Foundation
import MarketData
import Testing

/// `/api/v3/exchangeInfo` as client libraries read it to load markets: the shape of Binance's documented example, field
/// by field, and filters that agree with every price and quantity the simulator then serves.
struct ExchangeInfoTests {
    /// Binance's documented response (binance-spot-api-docs, rest-api.md, "Exchange information"; its comments removed),
    /// with the documented format of each symbol filter we send (filters.md) in `filters`.
    static let documented = #"""
        {
          "timezone": "UTC",
          "serverTime": 1565246363776,
          "rateLimits": [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000}],
          "exchangeFilters": [],
          "symbols": [
            {
              "symbol": "ETHBTC",
              "status": "TRADING",
              "baseAsset": "ETH",
              "baseAssetPrecision": 8,
              "quoteAsset": "BTC",
              "quotePrecision": 8,
              "quoteAssetPrecision": 8,
              "baseCommissionPrecision": 8,
              "quoteCommissionPrecision": 8,
              "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"],
              "icebergAllowed": true,
              "ocoAllowed": true,
              "otoAllowed": true,
              "opoAllowed": true,
              "quoteOrderQtyMarketAllowed": true,
              "allowTrailingStop": false,
              "cancelReplaceAllowed": false,
              "amendAllowed": false,
              "pegInstructionsAllowed": true,
              "isSpotTradingAllowed": true,
              "isMarginTradingAllowed": true,
              "filters": [
                {"filterType": "PRICE_FILTER", "minPrice": "0.00000100", "maxPrice": "100000.00000000", "tickSize": "0.00000100"},
                {"filterType": "LOT_SIZE", "minQty": "0.00100000", "maxQty": "100000.00000000", "stepSize": "0.00100000"},
                {"filterType": "ICEBERG_PARTS", "limit": 10},
                {"filterType": "MARKET_LOT_SIZE", "minQty": "0.00100000", "maxQty": "100000.00000000", "stepSize": "0.00100000"},
                {"filterType": "TRAILING_DELTA", "minTrailingAboveDelta": 10, "maxTrailingAboveDelta": 2000,
                 "minTrailingBelowDelta": 10, "maxTrailingBelowDelta": 2000},
                {"filterType": "PERCENT_PRICE_BY_SIDE", "bidMultiplierUp": "1.2", "bidMultiplierDown": "0.2",
                 "askMultiplierUp": "5", "askMultiplierDown": "0.8", "avgPriceMins": 1},
                {"filterType": "NOTIONAL", "minNotional": "10.00000000", "applyMinToMarket": false,
                 "maxNotional": "10000.00000000", "applyMaxToMarket": false, "avgPriceMins": 5},
                {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 25},
                {"filterType": "MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": 5}
              ],
              "permissions": [],
              "permissionSets": [["SPOT", "MARGIN"]],
              "defaultSelfTradePreventionMode": "NONE",
              "allowedSelfTradePreventionModes": ["NONE"]
            }
          ],
          "sors": [{"baseAsset": "BTC", "symbols": ["BTCUSDT", "BTCUSDC"]}]
        }
        """#

    /// From Binance's enums: symbol status, order types and self-trade prevention modes a client may meet.
    static let statuses: Set = ["TRADING", "END_OF_DAY", "HALT", "BREAK"]
    static let orderTypes: Set = ["LIMIT", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT", "LIMIT_MAKER"]
    static let selfTradePreventionModes: Set = ["NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH", "DECREMENT", "TRANSFER"]

    /// Symbols whose synthetic prices span every tick the simulator uses, from 0.01 to 0.00000001.
    static let symbols = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "ADAUSDT", "DOGEUSDT", "SHIBUSDT", "PEPEUSDT", "BNBBTC"].map {
        try! Symbol($0)
    }
    static let start: Int64 = 1_767_225_630_000  // 2026-01-01T00:00:30Z

    static func exchange(_ market: (any SimulatedMarket)? = nil) -> SimulatedExchange {
        let configuration = SimulatorConfiguration(
            seed: 7, symbols: market?.symbols ?? symbols, historyMinutes: 3_000, clock: PipelineClock { start })
        return market.map { SimulatedExchange(configuration: configuration, market: $0) } ?? SimulatedExchange(configuration: configuration)
    }

    static func object(_ bytes: [UInt8]) throws -> [String: Any] {
        let value = try JSONDecoder().decode(JSONValue.self, from: Data(bytes))
        return try #require(value.plain as? [String: Any])
    }

    /// Any JSON value, decoded strictly enough to tell `true` from `1`.
    enum JSONValue: Decodable {
        case bool(Bool), number(Double), string(String), array([JSONValue]), object([String: JSONValue]), null

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if container.decodeNil() {
                self = .null
            } else if let bool = try? container.decode(Bool.self) {
                self = .bool(bool)
            } else if let number = try? container.decode(Double.self) {
                self = .number(number)
            } else if let string = try? container.decode(String.self) {
                self = .string(string)
            } else if let array = try? container.decode([JSONValue].self) {
                self = .array(array)
            } else {
                self = .object(try container.decode([String: JSONValue].self))
            }
        }

        /// Plain Swift values (`Bool`, `Int` for whole numbers, `String`, arrays, dictionaries) for easy reading.
        var plain: Any {
            switch self {
            case .bool(let value): return value
            case .number(let value): return value == value.rounded() && abs(value) < 1e15 ? Int(value) as Any : value
            case .string(let value): return value
            case .array(let values): return values.map(\.plain)
            case .object(let fields): return fields.mapValues(\.plain)
            case .null: return NSNull()
            }
        }
    }

    /// The JSON kind of a value, with the kinds of an array's elements: `string`, `number`, `bool`, `[string]`, ….
    static func kind(_ value: Any) -> String {
        switch value {
        case is Bool: return "bool"
        case is Int, is Double: return "number"
        case is String: return "string"
        case let array as [Any]: return "[" + Set(array.map(kind)).sorted().joined(separator: "|") + "]"
        case is [String: Any]: return "object"
        default: return "null"
        }
    }

    /// Each key with its kind; objects inside arrays are compared on their own.
    static func shape(_ object: [String: Any]) -> [String: String] { object.mapValues(kind) }

    @Test func theShapeIsBinancesDocumentedExampleFieldByField() throws {
        let documented = try Self.object(Array(Self.documented.utf8))
        let ours = try Self.object(Self.exchange().handle(path: "/api/v3/exchangeInfo", query: [:]).body)

        // `sors` is documented as present only where smart order routing is offered; the simulator offers none.
        var top = Self.shape(documented)
        top["sors"] = nil
        #expect(Self.shape(ours) == top)

        let documentedLimit = try #require((documented["rateLimits"] as? [[String: Any]])?.first)
        let limits = try #require(ours["rateLimits"] as? [[String: Any]])
        #expect(!limits.isEmpty && limits.allSatisfy { Self.shape($0) == Self.shape(documentedLimit) })
        #expect(limits.contains { $0["rateLimitType"] as? String == "REQUEST_WEIGHT" && $0["limit"] as? Int == 6_000 })

        let documentedSymbol = try #require((documented["symbols"] as? [[String: Any]])?.first)
        let documentedFilters = try #require(documentedSymbol["filters"] as? [[String: Any]])
        let filterShapes = Dictionary(uniqueKeysWithValues: documentedFilters.map { ($0["filterType"] as? String ?? "", Self.shape($0)) })
        let symbols = try #require(ours["symbols"] as? [[String: Any]])
        #expect(symbols.compactMap { $0["symbol"] as? String } == Self.symbols.map(\.rawValue))
        for symbol in symbols {
            let name = symbol["symbol"] as? String ?? "?"
            let ourShape = Self.shape(symbol)
            for key in Set(ourShape.keys).union(Self.shape(documentedSymbol).keys).sorted() {
                #expect(ourShape[key] == Self.shape(documentedSymbol)[key], "\(name).\(key)")
            }
            let filters = try #require(symbol["filters"] as? [[String: Any]])
            let types = filters.compactMap { $0["filterType"] as? String }
            #expect(types.count == filters.count && Set(types).count == types.count, "\(name): \(types)")
            #expect(types.contains("PRICE_FILTER") && types.contains("LOT_SIZE"), "\(name): \(types)")
            for filter in filters {
                let type = filter["filterType"] as? String ?? "?"
                #expect(filterShapes[type] != nil && Self.shape(filter) == filterShapes[type], "\(name) \(type)")
            }
            #expect(Self.statuses.contains(symbol["status"] as? String ?? ""), "\(name)")
            #expect(Set(symbol["orderTypes"] as? [String] ?? ["?"]).isSubset(of: Self.orderTypes), "\(name)")
            let allowed = Set(symbol["allowedSelfTradePreventionModes"] as? [String] ?? ["?"])
            #expect(allowed.isSubset(of: Self.selfTradePreventionModes), "\(name)")
            #expect(allowed.contains(symbol["defaultSelfTradePreventionMode"] as? String ?? "?"), "\(name)")
            #expect((symbol["permissionSets"] as? [[String]])?.first?.contains("SPOT") == true, "\(name)")
            #expect("\(symbol["baseAsset"] ?? "")\(symbol["quoteAsset"] ?? "")" == name)
        }
        // What our own client reads still decodes.
        let decoded = try BinanceCodec.decodeExchangeInfo(Data(Self.exchange().handle(path: "/api/v3/exchangeInfo", query: [:]).body))
        #expect(decoded.symbols.map(\.symbol) == Self.symbols.map(\.rawValue))
    }

    /// The filters of `symbol` the way a client reads them, as exact decimals.
    struct Filters {
        var tick, minPrice, maxPrice, step, minQuantity, maxQuantity: ExactDecimal

        init(_ symbol: [String: Any]) throws {
            let filters = try #require(symbol["filters"] as? [[String: Any]])
            func value(_ type: String, _ key: String) throws -> ExactDecimal {
                let filter = try #require(filters.first { $0["filterType"] as? String == type })
                return try ExactDecimal(parsing: try #require(filter[key] as? String))
            }
            tick = try value("PRICE_FILTER", "tickSize")
            minPrice = try value("PRICE_FILTER", "minPrice")
            maxPrice = try value("PRICE_FILTER", "maxPrice")
            step = try value("LOT_SIZE", "stepSize")
            minQuantity = try value("LOT_SIZE", "minQty")
            maxQuantity = try value("LOT_SIZE", "maxQty")
        }

        func admitsPrice(_ price: ExactDecimal) -> Bool {
            price.units % tick.units == 0 && minPrice <= price && price <= maxPrice
        }

        func admitsQuantity(_ quantity: ExactDecimal) -> Bool {
            quantity.units % step.units == 0 && minQuantity <= quantity && quantity <= maxQuantity
        }
    }

    /// Every price served is a multiple of the symbol's tick and every quantity of its step, within their bounds.
    func expectServedValuesFollowTheFilters(_ exchange: SimulatedExchange, _ label: String) throws {
        let info = try Self.object(exchange.handle(path: "/api/v3/exchangeInfo", query: [:]).body)
        for symbol in try #require(info["symbols"] as? [[String: Any]]) {
            let name = try #require(symbol["symbol"] as? String)
            let filters = try Filters(symbol)
            #expect(filters.tick.units > 0 && filters.step.units > 0, "\(label) \(name)")
            let klines = try BinanceCodec.decodeKlines(
                exchange.handle(path: "/api/v3/klines", query: ["symbol": name, "interval": "1m", "limit": "1000"]).body)
            #expect(klines.count > 100, "\(label) \(name)")
            for kline in klines {
                for price in [kline.open, kline.high, kline.low, kline.close] {
                    #expect(filters.admitsPrice(price), "\(label) \(name) price \(price) tick \(filters.tick)")
                }
                #expect(kline.volume.units % filters.step.units == 0, "\(label) \(name) volume \(kline.volume) step \(filters.step)")
            }
            let book = try BinanceCodec.decodeDepth(exchange.handle(path: "/api/v3/depth", query: ["symbol": name, "limit": "100"]).body)
            #expect(!book.bids.isEmpty && !book.asks.isEmpty, "\(label) \(name)")
            for level in book.bids + book.asks {
                #expect(filters.admitsPrice(level.price), "\(label) \(name) level \(level.price) tick \(filters.tick)")
                #expect(filters.admitsQuantity(level.quantity), "\(label) \(name) quantity \(level.quantity) step \(filters.step)")
            }
        }
        return
    }

    @Test func theSyntheticMarketsPricesAndQuantitiesFollowItsFilters() throws {
        try expectServedValuesFollowTheFilters(Self.exchange(), "synthetic")
        // The symbols cover several ticks, so the check is not of one tick only.
        let info = try Self.object(Self.exchange().handle(path: "/api/v3/exchangeInfo", query: [:]).body)
        let ticks = try #require(info["symbols"] as? [[String: Any]]).map { try Filters($0).tick }
        #expect(Set(ticks).count >= 3, "\(ticks)")
    }

    @Test func aReplaysPricesFollowTheTickItsCandlesUse() throws {
        let btc = try Symbol("BTCUSDT")
        let source = SyntheticMarket(seed: 3, symbols: [btc])
        let minutes = (0..<3_200).compactMap { source.minuteCandle(btc, minuteOpen: Self.start - 3_100 * 60_000 + Int64($0) * 60_000) }
        let market = ReplayMarket(candles: [btc: minutes])
        #expect(market.tradingRules(btc).tickSize == source.tradingRules(btc).tickSize)
        try expectServedValuesFollowTheFilters(Self.exchange(market), "replay")
    }

    @Test func symbolsSelectsListingsAndBadSelectionsAreBinancesErrors() throws {
        let exchange = Self.exchange()
        let two = try Self.object(exchange.handle(path: "/api/v3/exchangeInfo", query: ["symbols": #"["ETHUSDT","BTCUSDT"]"#]).body)
        #expect((two["symbols"] as? [[String: Any]])?.compactMap { $0["symbol"] as? String } == ["ETHUSDT", "BTCUSDT"])
        let one = try Self.object(exchange.handle(path: "/api/v3/exchangeInfo", query: ["symbol": "SOLUSDT"]).body)
        #expect((one["symbols"] as? [[String: Any]])?.count == 1)
        for (query, code) in [
            (["symbols": "ETHUSDT"], -1_100), (["symbols": #"["ETHUSDT","NOPEUSDT"]"#], -1_121), (["symbol": "NOPEUSDT"], -1_121),
            (["symbol": "ETHUSDT", "symbols": #"["ETHUSDT"]"#], -1_101), (["symbols": "[1,2]"], -1_100),
        ] {
            let reply = exchange.handle(path: "/api/v3/exchangeInfo", query: query)
            #expect(reply.status == 400 && BinanceCodec.decodeError(Data(reply.body))?.code == code, "\(query)")
        }
    }
}
