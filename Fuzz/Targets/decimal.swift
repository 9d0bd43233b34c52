// Fuzz target `decimal`: ExactDecimal(bytes:), ExactDecimal(parsing:), init?(_:) and the canonical text.
// Built with Sources/MarketData/ExactDecimal.swift by scripts/fuzz.

/// 10³⁷ units: 29 integer digits, the most ExactDecimal(parsing:) accepts.
let parseableUnits: UInt128 = (0..<37).reduce(1) { product, _ in product * 10 }

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data.assumingMemoryBound(to: UInt8.self), count: count)
    let text = String(decoding: bytes, as: UTF8.self)

    let fromBytes = try? ExactDecimal(bytes: bytes)
    let fromText = try? ExactDecimal(parsing: text)
    // Only ASCII parses, so reading the bytes and reading their (lossy) text must agree.
    precondition(fromBytes == fromText, "bytes and text disagree on \(text)")
    precondition(ExactDecimal(text) == fromText)
    if let value = fromBytes {
        // The canonical text parses back to the same value and has exactly eight fractional digits.
        let canonical = value.description
        precondition(ExactDecimal(canonical) == value, "\(text) -> \(canonical)")
        precondition(canonical.utf8.count <= ExactDecimal.maxCanonicalLength)
        precondition(canonical.split(separator: ".").last?.utf8.count == ExactDecimal.scale)
        _ = value.doubleValue
    }

    // Any Int128 of units prints; those within 29 integer digits parse back.
    if count >= 16 {
        var units: Int128 = 0
        for index in 0..<16 { units = units << 8 | Int128(bytes[index]) }
        let value = ExactDecimal(units: units)
        let canonical = value.description
        precondition(canonical.utf8.count <= ExactDecimal.maxCanonicalLength)
        if units.magnitude < parseableUnits {
            precondition(ExactDecimal(canonical) == value, "\(units) -> \(canonical)")
        } else {
            precondition(ExactDecimal(canonical) == nil)
        }
        _ = value.doubleValue
    }
    return 0
}
