/// A proleptic-Gregorian calendar date in UTC, computed without Foundation so that formatting
/// object names and timestamps is cheap, thread-safe and independent of the machine's time zone.
public struct CivilDate: Sendable, Hashable, Comparable {
    public var year: Int
    public var month: Int
    public var day: Int

    public init(year: Int, month: Int, day: Int) {
        self.year = year
        self.month = month
        self.day = day
    }

    /// The UTC date containing `epochMilliseconds`.
    public init(epochMilliseconds: Int64) {
        let days = floorDivide(epochMilliseconds, 86_400_000)
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468
        let era = floorDivide(z, 146_097)
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        self.year = Int(yearOfEra + era * 400 + (month <= 2 ? 1 : 0))
        self.month = Int(month)
        self.day = Int(day)
    }

    /// Days since 1970-01-01.
    public var daysSinceEpoch: Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = floorDivide(y, 400)
        let yearOfEra = y - era * 400
        let m = Int64(month)
        let dayOfYear = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + Int64(day) - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    public var epochMilliseconds: Int64 { daysSinceEpoch * 86_400_000 }

    /// `YYYY-MM-DD`, the lake's day folder name.
    public var isoString: String {
        pad(year, 4) + "-" + pad(month, 2) + "-" + pad(day, 2)
    }

    public static func < (lhs: CivilDate, rhs: CivilDate) -> Bool {
        (lhs.year, lhs.month, lhs.day) < (rhs.year, rhs.month, rhs.day)
    }

    /// Parses `YYYY-MM-DD` (ASCII digits only, a real calendar day).
    public init?(isoString text: some StringProtocol) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, let year = asciiNumber(parts[0], digits: 4), let month = asciiNumber(parts[1], digits: 2),
            let day = asciiNumber(parts[2], digits: 2),
            (1...12).contains(month), (1...CivilDate.daysIn(month: month, year: year)).contains(day)
        else { return nil }
        self.init(year: year, month: month, day: day)
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }
}

/// Conversions between UTC epoch milliseconds (the warehouse's time unit) and ISO-8601 text.
public enum UTCTime {
    /// 9999-12-31T23:59:59.999Z: the latest time outside input may name. Times from the exchange, the lake and dump
    /// files are refused past it (and before 1970), so the candle arithmetic after parsing cannot overflow.
    public static let latest: Int64 = 253_402_300_799_999

    /// Whether a candle's open and close times are ones we accept from outside: 1970 ≤ open ≤ close ≤ ``latest``.
    public static func acceptsCandle(openTime: Int64, closeTime: Int64) -> Bool {
        0 <= openTime && openTime <= closeTime && closeTime <= latest
    }

    /// `2024-01-01T00:00:00.000Z`; total over `Int64` (years before 1 or after 9999 print with more or fewer digits).
    public static func iso8601(_ epochMilliseconds: Int64) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(24)
        appendISO8601(epochMilliseconds, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// ``iso8601(_:)`` appended as bytes, for writers that do not go through `String` (the API's JSON).
    public static func appendISO8601(_ epochMilliseconds: Int64, to bytes: inout [UInt8]) {
        let date = CivilDate(epochMilliseconds: epochMilliseconds)
        // The remainder is taken directly: `epochMilliseconds - date.epochMilliseconds` overflows near `Int64.min`.
        let remainder = epochMilliseconds % 86_400_000
        let millisOfDay = remainder < 0 ? remainder + 86_400_000 : remainder
        if date.year < 0 { bytes.append(UInt8(ascii: "-")) }
        appendDigits(abs(date.year), width: 4, to: &bytes)
        bytes.append(UInt8(ascii: "-"))
        appendDigits(date.month, width: 2, to: &bytes)
        bytes.append(UInt8(ascii: "-"))
        appendDigits(date.day, width: 2, to: &bytes)
        bytes.append(UInt8(ascii: "T"))
        appendDigits(Int(millisOfDay / 3_600_000), width: 2, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
        appendDigits(Int(millisOfDay / 60_000 % 60), width: 2, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
        appendDigits(Int(millisOfDay / 1_000 % 60), width: 2, to: &bytes)
        bytes.append(UInt8(ascii: "."))
        appendDigits(Int(millisOfDay % 1_000), width: 3, to: &bytes)
        bytes.append(UInt8(ascii: "Z"))
    }

    static let weekdays = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]
    static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// HTTP's `Date` format (IMF-fixdate, RFC 9110): `Wed, 02 Dec 2026 11:53:21 GMT`; years 1970–9999 only, clamped.
    public static func httpDate(_ epochMilliseconds: Int64) -> String {
        let time = min(max(epochMilliseconds, 0), latest)
        let date = CivilDate(epochMilliseconds: time)
        let seconds = time % 86_400_000 / 1_000
        let weekday = weekdays[Int(time / 86_400_000 % 7)]
        return "\(weekday), \(pad(date.day, 2)) \(months[date.month - 1]) \(pad(date.year, 4)) "
            + "\(pad(Int(seconds / 3_600), 2)):\(pad(Int(seconds / 60 % 60), 2)):\(pad(Int(seconds % 60), 2)) GMT"
    }

    /// Parses an IMF-fixdate (`Wed, 02 Dec 2026 11:53:21 GMT`, the only form RFC 9110 lets servers send) into the
    /// epoch milliseconds of its second; `nil` for anything else. The weekday is not checked: it adds nothing.
    public static func parseHTTPDate(_ text: some StringProtocol) -> Int64? {
        let parts = text.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0].utf8.count == 4, parts[0].hasSuffix(","), parts[5] == "GMT",
            let day = asciiNumber(parts[1], digits: 2), let monthIndex = months.firstIndex(where: { $0 == parts[2] }),
            let year = asciiNumber(parts[3], digits: 4), year >= 1970,
            (1...CivilDate.daysIn(month: monthIndex + 1, year: year)).contains(day)
        else { return nil }
        let clock = parts[4].split(separator: ":", omittingEmptySubsequences: false)
        guard clock.count == 3, let hours = asciiNumber(clock[0], digits: 2), let minutes = asciiNumber(clock[1], digits: 2),
            let seconds = asciiNumber(clock[2], digits: 2), hours < 24, minutes < 60, seconds < 61
        else { return nil }
        let dayStart = CivilDate(year: year, month: monthIndex + 1, day: day).epochMilliseconds
        // A leap second (:60) counts as the next second's start, as a POSIX clock would.
        let time = dayStart + Int64((hours * 60 + minutes) * 60 + seconds) * 1_000
        return time <= latest ? time : nil
    }

    /// A non-negative number with at least `width` digits, zero-padded.
    private static func appendDigits(_ value: Int, width: Int, to bytes: inout [UInt8]) {
        var digits: [UInt8] = []
        var rest = value
        repeat {
            digits.append(UInt8(ascii: "0") + UInt8(rest % 10))
            rest /= 10
        } while rest > 0
        if digits.count < width { bytes.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: width - digits.count)) }
        bytes.append(contentsOf: digits.reversed())
    }

    /// Parses epoch milliseconds (`1700000000000`) or ISO-8601 in UTC: `2024-01-01`, `2024-01-01T10:00`,
    /// `2024-01-01T10:00:00Z`, `2024-01-01T10:00:00.123Z` or with a numeric offset such as `+02:00`.
    ///
    /// Total: every field has a fixed number of ASCII digits and is range-checked on both sides, so the arithmetic
    /// below cannot overflow whatever the text (it reaches the API's query, lake envelopes and the CLI).
    public static func parse(_ text: String) -> Int64? {
        let trimmed = text.trimmingASCIIWhitespace()
        if !trimmed.isEmpty, trimmed.utf8.allSatisfy({ (48...57).contains($0) }) { return Int64(trimmed) }
        let dateEnd = trimmed.firstIndex(where: { $0 == "T" || $0 == " " }) ?? trimmed.endIndex
        guard let date = CivilDate(isoString: trimmed[..<dateEnd]) else { return nil }
        var result = date.epochMilliseconds
        guard dateEnd < trimmed.endIndex else { return result }
        var rest = Substring(trimmed[trimmed.index(after: dateEnd)...])
        var offsetMillis: Int64 = 0
        if rest.hasSuffix("Z") || rest.hasSuffix("z") {
            rest = rest.dropLast()
        } else if let signIndex = rest.lastIndex(where: { $0 == "+" || $0 == "-" }) {
            let offset = rest[rest.index(after: signIndex)...].split(separator: ":", omittingEmptySubsequences: false)
            guard offset.count == 2, let h = asciiNumber(offset[0], digits: 2), let m = asciiNumber(offset[1], digits: 2),
                h < 24, m < 60
            else { return nil }
            offsetMillis = Int64((h * 60 + m) * 60_000) * (rest[signIndex] == "+" ? 1 : -1)
            rest = rest[..<signIndex]
        }
        let clock = rest.split(separator: ":", omittingEmptySubsequences: false)
        guard clock.count == 2 || clock.count == 3, let hours = asciiNumber(clock[0], digits: 2),
            let minutes = asciiNumber(clock[1], digits: 2), hours < 24, minutes < 60
        else { return nil }
        result += Int64((hours * 60 + minutes) * 60_000)
        if clock.count == 3 {
            let secondParts = clock[2].split(separator: ".", omittingEmptySubsequences: false)
            guard secondParts.count <= 2, let seconds = asciiNumber(secondParts[0], digits: 2), seconds < 60 else { return nil }
            result += Int64(seconds * 1_000)
            if secondParts.count == 2 {
                // Up to nanoseconds; digits past the millisecond are dropped (not rounded), as the exchange does.
                let fraction = secondParts[1]
                guard (1...9).contains(fraction.utf8.count), let digits = asciiNumber(fraction, digits: fraction.utf8.count)
                else { return nil }
                var millis = digits
                for _ in 0..<(9 - fraction.utf8.count) { millis *= 10 }
                result += Int64(millis / 1_000_000)
            }
        }
        return result - offsetMillis
    }
}

/// The value of exactly `digits` ASCII digits (no sign, no spaces), or `nil`. `digits` is at most 18, so it fits.
func asciiNumber(_ text: some StringProtocol, digits: Int) -> Int? {
    guard digits <= 18, text.utf8.count == digits else { return nil }
    var value = 0
    for byte in text.utf8 {
        guard (48...57).contains(byte) else { return nil }
        value = value * 10 + Int(byte - 48)
    }
    return value
}

func pad(_ value: Int, _ width: Int) -> String {
    let text = String(value)
    return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
}

extension StringProtocol {
    /// Without leading and trailing ASCII spaces, tabs and line breaks (by scalar, so `"\r\n"`, one Character, goes too).
    func trimmingASCIIWhitespace() -> Substring {
        let text = Substring(self)
        let isSpace: (Unicode.Scalar) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        let scalars = text.unicodeScalars
        guard let first = scalars.firstIndex(where: { !isSpace($0) }), let last = scalars.lastIndex(where: { !isSpace($0) })
        else { return "" }
        return Substring(scalars[first...last])
    }
}
