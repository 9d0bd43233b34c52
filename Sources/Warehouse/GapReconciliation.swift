public import MarketData

/// How a detection of missing minutes changes the `kline_gaps` ledger, written once for every backend; a backend
/// reads the symbol's recorded gaps and stores the changes in one transaction.
public enum GapReconciliation {
    /// The rows to store when detection found `missing` and `known` are the symbol's recorded gaps:
    /// - a missing range is recorded `open`, unless an `exchange-empty` gap covers it (the exchange had nothing there,
    ///   so it is not asked again) or it is already recorded `open` with the same end;
    /// - an `open` gap no longer missing becomes `filled`.
    /// Rows that would not change are left out, so a detection that found nothing new writes nothing.
    public static func changes(known: [KlineGap], missing: [MinuteRange]) -> [(range: MinuteRange, status: GapStatus)] {
        let byStart = Dictionary(known.map { ($0.range.from, $0) }, uniquingKeysWith: { $1 })
        let empty = known.filter { $0.status == .exchangeEmpty }.map(\.range)
        var changes: [(range: MinuteRange, status: GapStatus)] = []
        var stillMissing = Set<Int64>()
        for range in missing where !empty.contains(where: { $0.contains(range) }) {
            stillMissing.insert(range.from)
            if let gap = byStart[range.from] {
                guard gap.status != .exchangeEmpty, gap.range.to != range.to || gap.status != .open else { continue }
            }
            changes.append((range, .open))
        }
        for gap in known where gap.status == .open && !stillMissing.contains(gap.range.from) {
            changes.append((gap.range, .filled))
        }
        return changes
    }
}
