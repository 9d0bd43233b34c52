/// A linear map from values to pixels, with "nice" tick values (1, 2 or 5 × 10ⁿ apart).
struct LinearScale: Sendable, Hashable {
    /// The value range shown; never empty.
    let lower: Double
    let upper: Double
    /// Pixel positions of `lower` and `upper` (for a y axis `lower` maps to the bottom, a larger number).
    let start: Double
    let end: Double

    /// A scale covering `values`. A flat range (every value equal, or a single value) is widened by 1% of the value
    /// each way (±1 around zero) so it draws as a line in the middle rather than dividing by zero; a scale that includes
    /// zero and holds only zeros runs 0…1, so zero stays on the baseline.
    ///
    /// NaN and infinite values are ignored, and the range stays finite even for values near `Double`'s limits (prices
    /// are display-only here, but come from outside), so every position is a finite number.
    init(covering values: [Double], from start: Double, to end: Double, includeZero: Bool = false) {
        let finite = values.filter(\.isFinite)
        var lower = finite.min() ?? 0
        var upper = finite.max() ?? 1
        if includeZero {
            lower = min(lower, 0)
            upper = max(upper, 0)
        }
        if includeZero, lower == 0, upper == 0 {
            // Nothing to show (e.g. no volume): zero stays on the baseline.
            upper = 1
        } else if upper - lower <= Swift.abs(upper) * 1e-12 {
            let pad = upper == 0 ? 1 : Swift.abs(upper) * 0.01
            lower = Swift.max(lower - pad, -Double.greatestFiniteMagnitude)
            upper = Swift.min(upper + pad, Double.greatestFiniteMagnitude)
        }
        self.lower = lower
        self.upper = upper
        self.start = start
        self.end = end
    }

    /// Half the range: `upper - lower` itself exceeds `Double`'s range when the values span most of it, halving first
    /// does not (and is exact, so ordinary ranges map exactly as before).
    private var halfSpan: Double { upper / 2 - lower / 2 }

    func position(_ value: Double) -> Double {
        start + (value / 2 - lower / 2) / halfSpan * (end - start)
    }

    /// Tick values inside the range, about `count` of them, at a nice step.
    func ticks(count: Int = 5) -> [Double] {
        let step = Self.niceStep(halfSpan / Double(max(count, 1)) * 2)
        guard step > 0, step.isFinite else { return [] }
        var value = (lower / step).rounded(.up) * step
        var ticks: [Double] = []
        // Near Double's limits the next tick (and the tolerance) can round to infinity: it is never a tick.
        while value.isFinite, value <= upper + step * 1e-9, ticks.count < 50 {
            ticks.append(Swift.abs(value) < step * 1e-9 ? 0 : value)
            value += step
        }
        return ticks
    }

    /// The smallest of 1, 2, 5 × 10ⁿ at least `raw`.
    static func niceStep(_ raw: Double) -> Double {
        guard raw > 0, raw.isFinite else { return 0 }
        var magnitude = 1.0
        while magnitude * 10 <= raw { magnitude *= 10 }
        while magnitude > raw { magnitude /= 10 }
        for factor in [1.0, 2, 5, 10] where magnitude * factor >= raw * (1 - 1e-12) { return magnitude * factor }
        return magnitude * 10
    }
}

/// Evenly spaced slots, one per candle, left to right.
struct BandScale: Sendable, Hashable {
    let count: Int
    let start: Double
    let end: Double

    var slotWidth: Double { count > 0 ? (end - start) / Double(count) : 0 }

    /// Centre of slot `index`.
    func center(_ index: Int) -> Double { start + (Double(index) + 0.5) * slotWidth }

    /// Width of a candle body: 70% of the slot, at least 1 px, at most 24 px.
    var bodyWidth: Double { min(max(slotWidth * 0.7, 1), 24) }

    /// The slot under pixel `x`, if any.
    func index(at x: Double) -> Int? {
        guard count > 0, x >= start, x < end else { return nil }
        // `Int(_:)` traps on NaN and out-of-range values: the slot is clamped as a `Double` first.
        let slot = (x - start) / slotWidth
        guard slot.isFinite else { return nil }
        return Int(Swift.min(Swift.max(slot, 0), Double(count - 1)))
    }
}
