import Foundation
public import MarketData

/// A deterministic market: every candle and order book is a pure function of the seed, the symbol
/// and the time, so two simulators started at different moments with the same seed serve identical
/// closed candles, and tests can compute the expected warehouse contents independently.
///
/// Each minute holds a number of individual trades (time offset, price, quantity, taker side), all
/// derived from hashes. A candle is the fold of the trades that happened up to "as of" time, which
/// makes the still-open candle change while the minute runs and converge to the closed one.
/// A fraction of minutes has no trades: those follow Binance's rule (volume 0, OHLC = previous close).
public struct SyntheticMarket: Sendable {
    public let seed: UInt64
    public let symbols: [Symbol]
    /// Share of minutes with no trades at all.
    public var emptyMinuteRate: Double = 0.04
    /// Upper bound on trades in one minute.
    public var maxTradesPerMinute: Int = 40

    public init(seed: UInt64, symbols: [Symbol]) {
        self.seed = seed
        self.symbols = symbols
    }

    /// How prices and quantities of one symbol are quantised; chosen from the symbol's price level
    /// so that price × quantity always fits in eight fractional digits, exactly as on Binance.
    struct Profile {
        let basePrice: Double
        let priceDecimals: Int
        let quantityDecimals: Int
        let symbolHash: UInt64
    }

    func profile(_ symbol: Symbol) -> Profile {
        let symbolHash = Self.hash(seed, Self.fnv1a(symbol.rawValue))
        // Base prices from 0.05 to ~60,000, log-uniform.
        let exponent = -1.3 + 6.1 * Self.unit(symbolHash)
        let basePrice = pow10(exponent)
        let magnitude = Int(exponent.rounded(.down))
        let priceDecimals = min(8, max(2, 5 - magnitude))
        let quantityDecimals = max(0, 7 - priceDecimals)
        return Profile(
            basePrice: basePrice, priceDecimals: priceDecimals, quantityDecimals: quantityDecimals,
            symbolHash: symbolHash)
    }

    // MARK: Prices

    /// Smooth pseudo-random log-price: several octaves of value noise, a pure function of time.
    func price(_ profile: Profile, at time: Int64) -> Double {
        let octaves: [(period: Double, amplitude: Double)] = [
            (20_000, 0.0004), (180_000, 0.0012), (1_200_000, 0.003), (7_200_000, 0.007), (43_200_000, 0.015),
            (259_200_000, 0.03), (2_592_000_000, 0.06),
        ]
        var logOffset = 0.0
        for (index, octave) in octaves.enumerated() {
            logOffset += octave.amplitude * valueNoise(profile.symbolHash &+ UInt64(index) &* 0x9E37, Double(time) / octave.period)
        }
        return profile.basePrice * exp(logOffset)
    }

    private func valueNoise(_ key: UInt64, _ x: Double) -> Double {
        let cell = x.rounded(.down)
        let fraction = x - cell
        let left = Self.signedUnit(Self.hash(key, UInt64(bitPattern: Int64(cell))))
        let right = Self.signedUnit(Self.hash(key, UInt64(bitPattern: Int64(cell) + 1)))
        let smooth = fraction * fraction * (3 - 2 * fraction)
        return left + (right - left) * smooth
    }

    // MARK: Trades

    struct Trade {
        let offset: Int64  // ms since the minute opened
        let priceUnits: Int64  // price in 10^-priceDecimals
        let quantityUnits: Int64  // quantity in 10^-quantityDecimals
        let takerIsBuyer: Bool
    }

    func trades(_ profile: Profile, minuteOpen: Int64) -> [Trade] {
        let minuteHash = Self.hash(profile.symbolHash, UInt64(bitPattern: minuteOpen))
        if Self.unit(minuteHash) < emptyMinuteRate { return [] }
        let count = 1 + Int(Self.hash(minuteHash, 1) % UInt64(maxTradesPerMinute))
        var result: [Trade] = []
        result.reserveCapacity(count)
        let priceScale = pow10(Double(profile.priceDecimals))
        let quantityScale = pow10(Double(profile.quantityDecimals))
        let typicalQuantity = max(1 / quantityScale, 2_000 / profile.basePrice)
        for index in 0..<count {
            let tradeHash = Self.hash(minuteHash, UInt64(index) &+ 2)
            let offset = Int64(tradeHash % 60_000)
            let price = price(profile, at: minuteOpen + offset)
            let priceUnits = max(1, Int64((price * priceScale).rounded()))
            let quantity = typicalQuantity * (0.05 + 2 * Self.unit(Self.hash(tradeHash, 7)))
            let quantityUnits = max(1, Int64((quantity * quantityScale).rounded()))
            result.append(
                Trade(offset: offset, priceUnits: priceUnits, quantityUnits: quantityUnits, takerIsBuyer: tradeHash & 1 == 1))
        }
        result.sort { ($0.offset, $0.priceUnits) < ($1.offset, $1.priceUnits) }
        return result
    }

    // MARK: Candles

    /// The 1m candle opening at `minuteOpen` as it looked at `asOf` (pass `Int64.max` for the closed candle),
    /// or `nil` if the minute had not started yet.
    public func minuteCandle(_ symbol: Symbol, minuteOpen: Int64, asOf: Int64 = .max) -> Kline? {
        guard asOf >= minuteOpen else { return nil }
        let profile = profile(symbol)
        let cutoff = asOf - minuteOpen
        let included = trades(profile, minuteOpen: minuteOpen).filter { $0.offset <= cutoff }
        return candle(profile, open: minuteOpen, length: 60_000, trades: included) {
            previousClose(profile, symbol: symbol, before: minuteOpen)
        }
    }

    /// The 1s candle opening at `secondOpen` as it looked at `asOf`: the minute's trades in that second;
    /// an empty second repeats the last earlier price, as Binance does.
    public func secondCandle(_ symbol: Symbol, secondOpen: Int64, asOf: Int64 = .max) -> Kline? {
        guard asOf >= secondOpen else { return nil }
        let profile = profile(symbol)
        let minuteOpen = Interval.oneMinute.openTime(containing: secondOpen)
        let minuteTrades = trades(profile, minuteOpen: minuteOpen)
        let start = secondOpen - minuteOpen
        let cutoff = min(start + 999, asOf - minuteOpen)
        let included = minuteTrades.filter { $0.offset >= start && $0.offset <= cutoff }
        return candle(profile, open: secondOpen, length: 1_000, trades: included) {
            guard let earlier = minuteTrades.last(where: { $0.offset < start }) else {
                return previousClose(profile, symbol: symbol, before: minuteOpen)
            }
            return ExactDecimal(units: Int128(earlier.priceUnits) * Int128(pow10Int(8 - profile.priceDecimals)))
        }
    }

    /// Folds `trades` into a candle of `length` ms; with no trade it is a zero-volume candle at `previousPrice`.
    private func candle(_ profile: Profile, open: Int64, length: Int64, trades: [Trade], previousPrice: () -> ExactDecimal) -> Kline {
        let priceFactor = Int128(pow10Int(8 - profile.priceDecimals))
        let quantityFactor = Int128(pow10Int(8 - profile.quantityDecimals))
        let quoteFactor = Int128(pow10Int(8 - profile.priceDecimals - profile.quantityDecimals))
        guard let first = trades.first, let last = trades.last else {
            let previous = previousPrice()
            return Kline(
                openTime: open, open: previous, high: previous, low: previous, close: previous, volume: .zero,
                closeTime: open + length - 1, quoteVolume: .zero, tradeCount: 0, takerBuyBaseVolume: .zero,
                takerBuyQuoteVolume: .zero)
        }
        var high = first.priceUnits
        var low = first.priceUnits
        var volume: Int128 = 0
        var quote: Int128 = 0
        var takerBase: Int128 = 0
        var takerQuote: Int128 = 0
        for trade in trades {
            high = max(high, trade.priceUnits)
            low = min(low, trade.priceUnits)
            let tradeQuote = Int128(trade.priceUnits) * Int128(trade.quantityUnits)
            volume += Int128(trade.quantityUnits)
            quote += tradeQuote
            if trade.takerIsBuyer {
                takerBase += Int128(trade.quantityUnits)
                takerQuote += tradeQuote
            }
        }
        return Kline(
            openTime: open, open: ExactDecimal(units: Int128(first.priceUnits) * priceFactor),
            high: ExactDecimal(units: Int128(high) * priceFactor), low: ExactDecimal(units: Int128(low) * priceFactor),
            close: ExactDecimal(units: Int128(last.priceUnits) * priceFactor),
            volume: ExactDecimal(units: volume * quantityFactor), closeTime: open + length - 1,
            quoteVolume: ExactDecimal(units: quote * quoteFactor), tradeCount: Int64(trades.count),
            takerBuyBaseVolume: ExactDecimal(units: takerBase * quantityFactor),
            takerBuyQuoteVolume: ExactDecimal(units: takerQuote * quoteFactor))
    }

    /// Close of the last minute with trades before `minuteOpen`: what an empty minute repeats.
    private func previousClose(_ profile: Profile, symbol: Symbol, before minuteOpen: Int64) -> ExactDecimal {
        let priceFactor = Int128(pow10Int(8 - profile.priceDecimals))
        var minute = minuteOpen - 60_000
        // Empty minutes are rare and independent, so a long run of them is astronomically unlikely;
        // the bound only keeps the function total.
        for _ in 0..<1_000 {
            if let last = trades(profile, minuteOpen: minute).last {
                return ExactDecimal(units: Int128(last.priceUnits) * priceFactor)
            }
            minute -= 60_000
        }
        let scale = pow10(Double(profile.priceDecimals))
        return ExactDecimal(units: Int128(max(1, Int64((price(profile, at: minuteOpen) * scale).rounded()))) * priceFactor)
    }

    /// Candles of `interval` opening in `[startTime, endTime]`, as seen at `now`; candles not yet open are omitted.
    /// Longer intervals are folded from minutes with the same zero-volume rule Binance applies.
    public func klines(
        _ symbol: Symbol, interval: Interval, startTime: Int64, endTime: Int64, now: Int64, limit: Int
    )
        -> [Kline]
    {
        var result: [Kline] = []
        var open = interval.openTime(containing: startTime)
        if open < startTime { open = interval.nextOpenTime(after: open) }
        while open <= endTime, open <= now, result.count < limit {
            if let candle = intervalCandle(symbol, interval: interval, open: open, now: now) { result.append(candle) }
            open = interval.nextOpenTime(after: open)
        }
        return result
    }

    /// The newest `limit` candles up to `endTime`, oldest first: Binance's answer when no `startTime` is given.
    public func latestKlines(_ symbol: Symbol, interval: Interval, endTime: Int64, now: Int64, limit: Int) -> [Kline] {
        let last = interval.openTime(containing: min(endTime, now))
        var opens: [Int64] = []
        var open = last
        while opens.count < limit {
            opens.append(open)
            guard let length = interval.milliseconds else {
                let date = CivilDate(epochMilliseconds: open - 1)
                open = CivilDate(year: date.year, month: date.month, day: 1).epochMilliseconds
                continue
            }
            open -= length
        }
        return opens.reversed().compactMap { intervalCandle(symbol, interval: interval, open: $0, now: now) }
    }

    private func intervalCandle(_ symbol: Symbol, interval: Interval, open: Int64, now: Int64) -> Kline? {
        if interval == .oneMinute { return minuteCandle(symbol, minuteOpen: open, asOf: now) }
        if interval == .oneSecond { return secondCandle(symbol, secondOpen: open, asOf: now) }
        let close = interval.nextOpenTime(after: open) - 1
        var minutes: [Kline] = []
        var minute = open
        while minute <= close, minute <= now {
            if let candle = minuteCandle(symbol, minuteOpen: minute, asOf: now) { minutes.append(candle) }
            minute += 60_000
        }
        guard !minutes.isEmpty else { return nil }
        // A last minute cut short by maintenance closes the longer candle there too, as on Binance.
        return KlineRollup.combine(minutes, openTime: open, closeTime: close, partDuration: 60_000)
    }

    // MARK: Order book

    /// The book sits around the last traded price at `time`, with a spread of one to three levels that changes each
    /// minute.
    public func bookAnchor(_ symbol: Symbol, at time: Int64) -> BookAnchor? {
        let profile = profile(symbol)
        let minuteOpen = Interval.oneMinute.openTime(containing: time)
        guard let last = minuteCandle(symbol, minuteOpen: minuteOpen, asOf: time)?.close else { return nil }
        return BookAnchor.around(
            price: last.units, tick: Int128(pow10Int(8 - profile.priceDecimals)),
            spreadLevels: 1 + Int128(Self.hash(profile.symbolHash, UInt64(bitPattern: minuteOpen)) % 3),
            lot: Int128(pow10Int(8 - profile.quantityDecimals)),
            typicalLots: max(1, Int64(2_000 / profile.basePrice * pow10(Double(profile.quantityDecimals)))))
    }

    // MARK: Hashing

    /// SplitMix64 finaliser over two words: fast, well mixed, and stable across platforms and runs.
    static func hash(_ a: UInt64, _ b: UInt64) -> UInt64 {
        var z = a &+ b &* 0x9E37_79B9_7F4A_7C15 &+ 0x632B_E59B_D9B4_E019
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    static func fnv1a(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in text.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3
        }
        return hash
    }

    /// Uniform in [0, 1).
    static func unit(_ hash: UInt64) -> Double { Double(hash >> 11) / Double(1 << 53) }
    /// Uniform in [-1, 1).
    static func signedUnit(_ hash: UInt64) -> Double { unit(hash) * 2 - 1 }
}

func pow10(_ exponent: Double) -> Double { exp(exponent * 2.302_585_092_994_046) }

func pow10Int(_ exponent: Int) -> Int64 {
    var value: Int64 = 1
    for _ in 0..<max(0, exponent) { value *= 10 }
    return value
}
