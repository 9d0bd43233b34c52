/// Arithmetic that reports overflow instead of trapping, for sums of values that came from outside: ``ExactDecimal``'s
/// `+` traps like `Int128`'s, and parsing accepts up to 29 integer digits, so a few dozen such values overflow a sum.
extension ExactDecimal {
    /// `self + other`; when `overflow` is `true` the exact sum does not fit and `partialValue` is wrapped, not to be used.
    public func addingReportingOverflow(_ other: ExactDecimal) -> (partialValue: ExactDecimal, overflow: Bool) {
        let (units, overflow) = units.addingReportingOverflow(other.units)
        return (ExactDecimal(units: units), overflow)
    }

    /// `self - other`; when `overflow` is `true` the exact difference does not fit and `partialValue` is not to be used.
    public func subtractingReportingOverflow(_ other: ExactDecimal) -> (partialValue: ExactDecimal, overflow: Bool) {
        let (units, overflow) = units.subtractingReportingOverflow(other.units)
        return (ExactDecimal(units: units), overflow)
    }
}
