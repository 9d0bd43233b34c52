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
        var json = JSONObjectWriter()
        json.field("timezone", string: "UTC")
        json.field("serverTime", number: serverTime)
        json.field("rateLimits") { array in
            for (type, interval, count, limit) in [
                ("REQUEST_WEIGHT", "MINUTE", 1, weightLimitPerMinute), ("ORDERS", "SECOND", 10, 100), ("ORDERS", "DAY", 1, 200_000),
                ("RAW_REQUESTS", "MINUTE", 5, 61_000),
            ] {
                array.object { limitObject in
                    limitObject.field("rateLimitType", string: type)
                    limitObject.field("interval", string: interval)
                    limitObject.field("intervalNum", number: Int64(count))
                    limitObject.field("limit", number: Int64(limit))
                }
            }
        }
        json.field("exchangeFilters") { _ in }
        json.field("symbols") { array in
            for listing in listings { array.object { Self.write(listing, to: &$0) } }
        }
        return json.finished()
    }

    private static func write(_ listing: Listing, to json: inout JSONObjectWriter) {
        let rules = listing.rules
        json.field("symbol", string: listing.symbol.rawValue)
        json.field("status", string: "TRADING")
        json.field("baseAsset", string: listing.baseAsset)
        json.field("baseAssetPrecision", number: 8)
        json.field("quoteAsset", string: listing.quoteAsset)
        json.field("quotePrecision", number: 8)
        json.field("quoteAssetPrecision", number: 8)
        json.field("baseCommissionPrecision", number: 8)
        json.field("quoteCommissionPrecision", number: 8)
        json.field("orderTypes") { array in for type in orderTypes { array.string(type) } }
        for (name, value) in [
            ("icebergAllowed", true), ("ocoAllowed", true), ("otoAllowed", true), ("opoAllowed", true),
            ("quoteOrderQtyMarketAllowed", true),
            ("allowTrailingStop", true), ("cancelReplaceAllowed", true), ("amendAllowed", true), ("pegInstructionsAllowed", true),
            ("isSpotTradingAllowed", true), ("isMarginTradingAllowed", false),
        ] {
            json.field(name, bool: value)
        }
        json.field("filters") { filters in
            filters.object {
                $0.field("filterType", string: "PRICE_FILTER")
                $0.field("minPrice", string: fixed(rules.tickSize))
                $0.field("maxPrice", string: fixed(rules.maxPrice))
                $0.field("tickSize", string: fixed(rules.tickSize))
            }
            filters.object {
                $0.field("filterType", string: "LOT_SIZE")
                $0.field("minQty", string: fixed(rules.stepSize))
                $0.field("maxQty", string: fixed(rules.maxQuantity))
                $0.field("stepSize", string: fixed(rules.stepSize))
            }
            filters.object {
                $0.field("filterType", string: "ICEBERG_PARTS")
                $0.field("limit", number: 10)
            }
            filters.object {
                $0.field("filterType", string: "MARKET_LOT_SIZE")
                $0.field("minQty", string: fixed(.zero))
                $0.field("maxQty", string: fixed(rules.maxQuantity))
                $0.field("stepSize", string: fixed(.zero))
            }
            filters.object {
                $0.field("filterType", string: "TRAILING_DELTA")
                $0.field("minTrailingAboveDelta", number: 10)
                $0.field("maxTrailingAboveDelta", number: 2_000)
                $0.field("minTrailingBelowDelta", number: 10)
                $0.field("maxTrailingBelowDelta", number: 2_000)
            }
            filters.object {
                $0.field("filterType", string: "PERCENT_PRICE_BY_SIDE")
                $0.field("bidMultiplierUp", string: "5")
                $0.field("bidMultiplierDown", string: "0.2")
                $0.field("askMultiplierUp", string: "5")
                $0.field("askMultiplierDown", string: "0.2")
                $0.field("avgPriceMins", number: 5)
            }
            filters.object {
                $0.field("filterType", string: "NOTIONAL")
                $0.field("minNotional", string: fixed(ExactDecimal(5)))
                $0.field("applyMinToMarket", bool: true)
                $0.field("maxNotional", string: fixed(ExactDecimal(9_000_000)))
                $0.field("applyMaxToMarket", bool: false)
                $0.field("avgPriceMins", number: 5)
            }
            filters.object {
                $0.field("filterType", string: "MAX_NUM_ORDERS")
                $0.field("maxNumOrders", number: 200)
            }
            filters.object {
                $0.field("filterType", string: "MAX_NUM_ALGO_ORDERS")
                $0.field("maxNumAlgoOrders", number: 5)
            }
        }
        json.field("permissions") { _ in }
        json.field("permissionSets") { sets in sets.array { $0.string("SPOT") } }
        json.field("defaultSelfTradePreventionMode", string: "EXPIRE_MAKER")
        json.field("allowedSelfTradePreventionModes") { array in for mode in selfTradePreventionModes { array.string(mode) } }
    }

    /// Binance's fixed eight fraction digits: `0.01000000`, `1000000.00000000`.
    static func fixed(_ value: ExactDecimal) -> String {
        let magnitude = value.units.magnitude
        let whole = magnitude / UInt128(ExactDecimal.unitsPerOne)
        let fraction = String(magnitude % UInt128(ExactDecimal.unitsPerOne))
        return (value.units < 0 ? "-" : "") + "\(whole)." + String(repeating: "0", count: max(0, ExactDecimal.scale - fraction.count))
            + fraction
    }
}

/// Writes one JSON object field by field, in the order written (Binance's order, which `JSONEncoder` would not keep).
struct JSONObjectWriter {
    private var bytes: [UInt8] = [UInt8(ascii: "{")]
    private var empty = true

    mutating func field(_ name: String, string: String) {
        key(name)
        JSONText.appendString(string, to: &bytes)
    }

    mutating func field(_ name: String, number: Int64) {
        key(name)
        bytes.append(contentsOf: String(number).utf8)
    }

    mutating func field(_ name: String, bool: Bool) {
        key(name)
        bytes.append(contentsOf: (bool ? "true" : "false").utf8)
    }

    mutating func field(_ name: String, array body: (inout JSONArrayWriter) -> Void) {
        key(name)
        var array = JSONArrayWriter()
        body(&array)
        bytes.append(contentsOf: array.finished())
    }

    private mutating func key(_ name: String) {
        if !empty { bytes.append(UInt8(ascii: ",")) }
        empty = false
        JSONText.appendString(name, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
    }

    func finished() -> [UInt8] { bytes + [UInt8(ascii: "}")] }
}

/// The array counterpart of ``JSONObjectWriter``.
struct JSONArrayWriter {
    private var bytes: [UInt8] = [UInt8(ascii: "[")]
    private var empty = true

    mutating func string(_ value: String) {
        separate()
        JSONText.appendString(value, to: &bytes)
    }

    mutating func object(_ body: (inout JSONObjectWriter) -> Void) {
        separate()
        var object = JSONObjectWriter()
        body(&object)
        bytes.append(contentsOf: object.finished())
    }

    mutating func array(_ body: (inout JSONArrayWriter) -> Void) {
        separate()
        var array = JSONArrayWriter()
        body(&array)
        bytes.append(contentsOf: array.finished())
    }

    private mutating func separate() {
        if !empty { bytes.append(UInt8(ascii: ",")) }
        empty = false
    }

    func finished() -> [UInt8] { bytes + [UInt8(ascii: "]")] }
}
