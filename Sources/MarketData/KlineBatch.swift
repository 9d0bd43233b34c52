/// Ascending 1m candles of one symbol prepared for a bulk load: the eight decimals of every candle already in
/// canonical text, and each hour's roll-up already computed.
///
/// Building a batch is pure work that a loader does on another core while the previous batch is written, so the
/// single database writer only binds and steps.
public struct KlineBatch: Sendable, Hashable {
    public let klines: [Kline]
    /// Canonical text of open, high, low, close, volume, quote volume, taker buy base and quote volume, per candle.
    public let text: [UInt8]
    /// `9 × klines.count` offsets into `text`: candle `i`'s value `j` spans `offsets[9i + j] ..< offsets[9i + j + 1]`.
    public let offsets: [UInt32]
    /// One roll-up per hour that has candles, ascending.
    public let hours: [HourRollup]

    public struct HourRollup: Sendable, Hashable {
        public var candle: Kline
        public var minuteCount: Int
        /// Index range of the hour's minutes in ``klines``.
        public var minutes: Range<Int>
    }

    public init(_ klines: [Kline]) {
        self.klines = klines
        var text: [UInt8] = []
        text.reserveCapacity(klines.count * 8 * 14)
        var offsets: [UInt32] = []
        offsets.reserveCapacity(klines.count * 9)
        for kline in klines {
            for value in [
                kline.open, kline.high, kline.low, kline.close, kline.volume, kline.quoteVolume, kline.takerBuyBaseVolume,
                kline.takerBuyQuoteVolume,
            ] {
                offsets.append(UInt32(text.count))
                value.appendCanonical(to: &text)
            }
            offsets.append(UInt32(text.count))
        }
        self.text = text
        self.offsets = offsets
        self.hours = Self.hourRollups(klines)
    }

    /// The roll-up of each hour that has candles in ascending `klines`, with the candles' index range.
    public static func hourRollups(_ klines: [Kline]) -> [HourRollup] {
        var hours: [HourRollup] = []
        var index = 0
        while index < klines.count {
            let hour = Interval.oneHour.openTime(containing: klines[index].openTime)
            var end = index
            while end < klines.count, klines[end].openTime < hour + 3_600_000 { end += 1 }
            if let candle = KlineRollup.combine(
                klines[index..<end], openTime: hour, closeTime: hour + 3_599_999, partDuration: 60_000)
            {
                hours.append(HourRollup(candle: candle, minuteCount: end - index, minutes: index..<end))
            }
            index = end
        }
        return hours
    }
}
