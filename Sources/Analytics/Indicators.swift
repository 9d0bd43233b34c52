/// Technical indicators with TA-Lib's conventions, so values match what traders see elsewhere.
///
/// Every function returns one value per input, `nil` during the warm-up TA-Lib leaves empty. The arithmetic follows
/// TA-Lib's order of operations (running sums, SMA-seeded averages) so results agree with it to about 1e-12.
/// Indicator math is the one place the pipeline uses `Double`; prices stay exact everywhere else.
public enum Indicators {
    /// Simple moving average over `period` values.
    public static func sma(_ values: [Double], period: Int) -> [Double?] {
        var output = [Double?](repeating: nil, count: values.count)
        guard period >= 1, values.count >= period else { return output }
        var total = 0.0
        for index in 0..<(period - 1) { total += values[index] }
        for index in (period - 1)..<values.count {
            total += values[index]
            output[index] = total / Double(period)
            total -= values[index - period + 1]
        }
        return output
    }

    /// Exponential moving average, `k = 2 / (period + 1)`, seeded with the SMA of the first `period` values.
    public static func ema(_ values: [Double], period: Int) -> [Double?] {
        var output = [Double?](repeating: nil, count: values.count)
        guard period >= 1, values.count >= period else { return output }
        let smoothing = 2.0 / (Double(period) + 1)
        var average = 0.0
        for index in 0..<period { average += values[index] }
        average /= Double(period)
        output[period - 1] = average
        for index in period..<values.count {
            average = (values[index] - average) * smoothing + average
            output[index] = average
        }
        return output
    }

    /// Wilder's RSI: average gain and loss seeded with the plain mean of the first `period` changes, then smoothed
    /// by `(previous × (period − 1) + current) / period`. The first value is at index `period`.
    public static func rsi(_ closes: [Double], period: Int = 14) -> [Double?] {
        var output = [Double?](repeating: nil, count: closes.count)
        guard period >= 2, closes.count > period else { return output }
        var gain = 0.0
        var loss = 0.0
        for index in 1...period {
            let change = closes[index] - closes[index - 1]
            if change < 0 { loss -= change } else { gain += change }
        }
        gain /= Double(period)
        loss /= Double(period)
        func value() -> Double { gain + loss == 0 ? 0 : 100 * (gain / (gain + loss)) }
        output[period] = value()
        for index in (period + 1)..<closes.count {
            let change = closes[index] - closes[index - 1]
            gain *= Double(period - 1)
            loss *= Double(period - 1)
            if change < 0 { loss -= change } else { gain += change }
            gain /= Double(period)
            loss /= Double(period)
            output[index] = value()
        }
        return output
    }

    public struct MACD: Sendable, Hashable {
        public var macd: [Double?]
        public var signal: [Double?]
        public var histogram: [Double?]
    }

    /// MACD as TA-Lib computes it: both EMAs start at index `slow − 1` (the fast one seeded with the SMA of the
    /// `fast` closes ending there, the slow one with the SMA of the first `slow`), the signal is an EMA of the MACD
    /// line seeded with the SMA of its first `signal` values, and all three are reported from index
    /// `slow + signal − 2` (33 for 12/26/9).
    public static func macd(_ closes: [Double], fast: Int = 12, slow: Int = 26, signal: Int = 9) -> MACD {
        let count = closes.count
        var result = MACD(
            macd: .init(repeating: nil, count: count), signal: .init(repeating: nil, count: count),
            histogram: .init(repeating: nil, count: count))
        // TA-Lib swaps the periods when given in the wrong order.
        let (fastPeriod, slowPeriod) = fast <= slow ? (fast, slow) : (slow, fast)
        // Written without `slowPeriod + signal`, which overflows for periods near `Int.max`.
        guard fastPeriod >= 1, signal >= 1, slowPeriod <= count, signal - 1 <= count - slowPeriod else { return result }
        let start = slowPeriod - 1
        func emaFrom(_ period: Int) -> [Double] {
            let smoothing = 2.0 / (Double(period) + 1)
            var average = 0.0
            for index in (start - period + 1)...start { average += closes[index] }
            average /= Double(period)
            var series = [average]
            for index in (start + 1)..<count {
                average = (closes[index] - average) * smoothing + average
                series.append(average)
            }
            return series
        }
        let fastLine = emaFrom(fastPeriod)
        let slowLine = emaFrom(slowPeriod)
        let line = zip(fastLine, slowLine).map { $0 - $1 }
        let signalLine = ema(line, period: signal)
        for offset in (signal - 1)..<line.count {
            guard let signalValue = signalLine[offset] else { continue }
            let index = start + offset
            result.macd[index] = line[offset]
            result.signal[index] = signalValue
            result.histogram[index] = line[offset] - signalValue
        }
        return result
    }

    public struct BollingerBands: Sendable, Hashable {
        public var upper: [Double?]
        public var middle: [Double?]
        public var lower: [Double?]
    }

    /// Bollinger Bands: the SMA of `period` closes ± `deviations` population standard deviations.
    ///
    /// The deviation is taken in two passes over each window (mean, then squared distances). A running sum of squares
    /// loses everything to cancellation at prices near 10⁴–10⁵ (a flat stretch would show bands 10⁻³ wide); current
    /// TA-Lib is accurate there too, and this agrees with it to about 1e-12.
    public static func bollingerBands(_ closes: [Double], period: Int = 20, deviations: Double = 2) -> BollingerBands {
        let count = closes.count
        var result = BollingerBands(
            upper: .init(repeating: nil, count: count), middle: .init(repeating: nil, count: count),
            lower: .init(repeating: nil, count: count))
        guard period >= 2, count >= period else { return result }
        let middle = sma(closes, period: period)
        for index in (period - 1)..<count {
            guard let center = middle[index] else { continue }
            let window = closes[(index - period + 1)...index]
            let mean = window.reduce(0, +) / Double(period)
            let variance = window.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(period)
            let deviation = variance.squareRoot()
            result.middle[index] = center
            result.upper[index] = center + deviations * deviation
            result.lower[index] = center - deviations * deviation
        }
        return result
    }
}
