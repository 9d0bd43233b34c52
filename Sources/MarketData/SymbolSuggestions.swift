/// Close matches for a mistyped symbol, for "did you mean" hints.
public enum SymbolSuggestions {
    /// Up to `limit` names from `candidates` at the smallest edit distance (insert, delete, substitute or swap two
    /// neighbours) from `name` found, if it is one or two; alphabetical.
    public static func closest(to name: String, in candidates: some Sequence<String>, limit: Int = 3) -> [String] {
        let target = Array(name.utf8)
        var scored: [(distance: Int, name: String)] = []
        for candidate in candidates {
            let bytes = Array(candidate.utf8)
            guard abs(bytes.count - target.count) <= 2, candidate != name else { continue }
            let distance = editDistance(target, bytes)
            if distance <= 2 { scored.append((distance, candidate)) }
        }
        guard let best = scored.map(\.distance).min() else { return [] }
        return scored.filter { $0.distance == best }.map(\.name).sorted().prefix(limit).map { $0 }
    }

    /// Optimal string alignment distance: Levenshtein plus transpositions of adjacent characters.
    static func editDistance(_ a: [UInt8], _ b: [UInt8]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous2 = [Int](repeating: 0, count: b.count + 1)
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    current[j] = min(current[j], previous2[j - 2] + 1)
                }
            }
            (previous2, previous, current) = (previous, current, previous2)
        }
        return previous[b.count]
    }
}
