// Fuzz target `time`: UTCTime.parse, UTCTime.iso8601, CivilDate(isoString:) and the HTTP `Date` format
// (UTCTime.parseHTTPDate, UTCTime.httpDate).
// Built with Sources/MarketData/UTCTime.swift and Interval.swift by scripts/fuzz.

/// 0001-01-01T00:00:00.000Z ... 9999-12-31T23:59:59.999Z: where iso8601 prints four-digit years.
let fourDigitYears: ClosedRange<Int64> = -62_135_596_800_000...253_402_300_799_999

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data.assumingMemoryBound(to: UInt8.self), count: count)
    let text = String(decoding: bytes, as: UTF8.self)

    if let millis = UTCTime.parse(text) {
        // Whatever parsed formats without trapping, and four-digit years read back exactly.
        let iso = UTCTime.iso8601(millis)
        if fourDigitYears.contains(millis) { precondition(UTCTime.parse(iso) == millis, "\(text) -> \(millis) -> \(iso)") }
    }

    if let date = CivilDate(isoString: text) {
        // Only exact `YYYY-MM-DD` parses, so it prints back as the input and survives the day-count round trip.
        precondition(date.isoString == text, "\(text) -> \(date.isoString)")
        precondition(CivilDate(epochMilliseconds: date.epochMilliseconds) == date, "\(text)")
    }

    if let millis = UTCTime.parseHTTPDate(text) {
        // A `Date` header parses to a whole second in 1970–9999 and formats back to the same second.
        precondition((0...UTCTime.latest).contains(millis) && millis % 1_000 == 0, "\(text) -> \(millis)")
        precondition(UTCTime.parseHTTPDate(UTCTime.httpDate(millis)) == millis, "\(text) -> \(millis)")
    }

    // Any Int64 formats; four-digit years parse back.
    if count >= 8 {
        var millis: Int64 = 0
        for index in 0..<8 { millis = millis << 8 | Int64(bytes[index]) }
        for value in [millis, millis % 400_000_000_000_000] {
            let iso = UTCTime.iso8601(value)
            if fourDigitYears.contains(value) { precondition(UTCTime.parse(iso) == value, "\(value) -> \(iso)") }
            _ = CivilDate(epochMilliseconds: value).daysSinceEpoch
            // Any Int64 formats as a `Date` (clamped to 1970–9999) that parses back to its second.
            let clamped = min(max(value, 0), UTCTime.latest)
            precondition(UTCTime.parseHTTPDate(UTCTime.httpDate(value)) == clamped - clamped % 1_000, "\(value)")
        }
    }
    return 0
}
