import MarketData

/// `/api/v3/exchangeInfo` as Binance writes it: the fields and their order of the documented example (rest-api.md,
/// "Exchange information"), with the symbol filters client libraries read to load markets before asking for candles.
/// Trading flags describe a plain spot market; the simulator takes no orders.
struct ExchangeInfoDocument {
    struct Listing {
        var symbol: Symbol
        var baseAsset: String
        var quoteAsset: String
        var rules: TradingRules
    }

    var serverTime: Int64
    var weightLimitPerMinute: Int
    var listings: [Listing]

    static let orderTypes = ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"]
    static let selfTradePreventionModes = ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"]

    func encoded() -> [UInt8] {
        var json = JSONWriter(capacity: 2_048 * max(1, listings.count))
        json.object { json in
            json.key("timezone")
            json.string("UTC")
            json.key("serverTime")
            json.int(serverTime)
            json.key("rateLimits")
            json.array { json in
                for (type, interval, count, limit) in [
                    ("REQUEST_WEIGHT", "MINUTE", 1, weightLimitPerMinute), ("ORDERS", "SECOND", 10, 100), ("ORDERS", "DAY", 1, 200_000),
                    ("RAW_REQUESTS", "MINUTE", 5, 61_000),
                ] {
                    json.object { json in
                        json.key("rateLimitType")
                        json.string(type)
                        json.key("interval")
                        json.string(interval)
                        json.key("intervalNum")
                        json.int(count)
                        json.key("limit")
                        json.int(limit)
                    }
                }
            }
            json.key("exchangeFilters")
            json.array { _ in }
            json.key("symbols")
            json.array { json in
                for listing in listings { json.object { Self.write(listing, to: &$0) } }
            }
        }
        return json.bytes
    }

    private static func write(_ listing: Listing, to json: inout JSONWriter) {
        let rules = listing.rules
        json.key("symbol")
        json.string(listing.symbol.rawValue)
        json.key("status")
        json.string("TRADING")
        json.key("baseAsset")
        json.string(listing.baseAsset)
        json.key("baseAssetPrecision")
        json.int(8)
        json.key("quoteAsset")
        json.string(listing.quoteAsset)
        for name: StaticString in ["quotePrecision", "quoteAssetPrecision", "baseCommissionPrecision", "quoteCommissionPrecision"] {
            json.key(name)
            json.int(8)
        }
        json.key("orderTypes")
        json.array { json in for type in orderTypes { json.string(type) } }
        let flags: KeyValuePairs<StaticString, Bool> = [
            "icebergAllowed": true, "ocoAllowed": true, "otoAllowed": true, "opoAllowed": true, "quoteOrderQtyMarketAllowed": true,
            "allowTrailingStop": true, "cancelReplaceAllowed": true, "amendAllowed": true, "pegInstructionsAllowed": true,
            "isSpotTradingAllowed": true, "isMarginTradingAllowed": false,
        ]
        for (name, value) in flags {
            json.key(name)
            json.bool(value)
        }
        json.key("filters")
        json.array { json in writeFilters(rules, to: &json) }
        json.key("permissions")
        json.array { _ in }
        json.key("permissionSets")
        json.array { json in json.array { $0.string("SPOT") } }
        json.key("defaultSelfTradePreventionMode")
        json.string("EXPIRE_MAKER")
        json.key("allowedSelfTradePreventionModes")
        json.array { json in for mode in selfTradePreventionModes { json.string(mode) } }
    }

    /// Binance's symbol filters, with the price and quantity steps of `rules`.
    private static func writeFilters(_ rules: TradingRules, to json: inout JSONWriter) {
        filter(&json, "PRICE_FILTER", ["minPrice": rules.tickSize, "maxPrice": rules.maxPrice, "tickSize": rules.tickSize])
        filter(&json, "LOT_SIZE", ["minQty": rules.stepSize, "maxQty": rules.maxQuantity, "stepSize": rules.stepSize])
        filter(&json, "ICEBERG_PARTS", integers: ["limit": 10])
        filter(&json, "MARKET_LOT_SIZE", ["minQty": .zero, "maxQty": rules.maxQuantity, "stepSize": .zero])
        filter(
            &json, "TRAILING_DELTA",
            integers: [
                "minTrailingAboveDelta": 10, "maxTrailingAboveDelta": 2_000, "minTrailingBelowDelta": 10,
                "maxTrailingBelowDelta": 2_000,
            ])
        json.object { json in
            json.key("filterType")
            json.string("PERCENT_PRICE_BY_SIDE")
            for (name, value) in [
                ("bidMultiplierUp", "5"), ("bidMultiplierDown", "0.2"), ("askMultiplierUp", "5"), ("askMultiplierDown", "0.2"),
            ] {
                json.key(dynamic: name)
                json.string(value)
            }
            json.key("avgPriceMins")
            json.int(5)
        }
        json.object { json in
            json.key("filterType")
            json.string("NOTIONAL")
            json.key("minNotional")
            json.decimal(ExactDecimal(5))
            json.key("applyMinToMarket")
            json.bool(true)
            json.key("maxNotional")
            json.decimal(ExactDecimal(9_000_000))
            json.key("applyMaxToMarket")
            json.bool(false)
            json.key("avgPriceMins")
            json.int(5)
        }
        filter(&json, "MAX_NUM_ORDERS", integers: ["maxNumOrders": 200])
        filter(&json, "MAX_NUM_ALGO_ORDERS", integers: ["maxNumAlgoOrders": 5])
    }

    /// A filter of decimal members (Binance's eight-digit strings) or of integer members.
    private static func filter(
        _ json: inout JSONWriter, _ type: String, _ decimals: KeyValuePairs<StaticString, ExactDecimal> = [:],
        integers: KeyValuePairs<StaticString, Int> = [:]
    ) {
        json.object { json in
            json.key("filterType")
            json.string(type)
            for (name, value) in decimals {
                json.key(name)
                json.decimal(value)
            }
            for (name, value) in integers {
                json.key(name)
                json.int(value)
            }
        }
    }
}
