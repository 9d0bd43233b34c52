import MarketData

/// A total, Foundation-free `application/x-www-form-urlencoded` decoder, for query strings and form bodies.
///
/// Follows the WHATWG URL standard's reading: fields are separated by `&`, a field's name ends at its first `=`
/// (a field without one has an empty value), `+` is a space, and `%XX` is the byte `XX`. A `%` not followed by two
/// hex digits is kept literally, and bytes that are not UTF-8 become U+FFFD, so any input decodes to something.
///
/// Bounded: only the first ``maximumInputBytes`` bytes are read and at most ``maximumFields`` fields are returned;
/// the rest of the input is ignored. Time and memory are linear in the bytes read.
enum URLEncodedForm {
    /// Fields after the 100th are ignored.
    static let maximumFields = 100
    /// Bytes after the first 64 KiB are ignored (the body limit of the forms is the same).
    static let maximumInputBytes = 64 * 1024

    /// The fields in order, names and values decoded; empty fields (`a=1&&b=2`) are skipped.
    static func fields(_ text: some StringProtocol) -> [(name: String, value: String)] {
        var result: [(name: String, value: String)] = []
        let bytes = Array(text.utf8.prefix(maximumInputBytes))
        var start = 0
        while start < bytes.count, result.count < maximumFields {
            var end = start
            while end < bytes.count, bytes[end] != UInt8(ascii: "&") { end += 1 }
            if end > start {
                let field = bytes[start..<end]
                if let equals = field.firstIndex(of: UInt8(ascii: "=")) {
                    result.append((decodeComponent(field[start..<equals]), decodeComponent(field[(equals + 1)..<end])))
                } else {
                    result.append((decodeComponent(field), ""))
                }
            }
            start = end + 1
        }
        return result
    }

    /// The value of the first field called `name`, as a query parameter is read; `nil` if there is none.
    static func firstValue(_ name: String, in text: some StringProtocol) -> String? {
        fields(text).first { $0.name == name }?.value
    }

    /// One name or value: `+` → space, `%XX` → byte (kept literally when malformed), invalid UTF-8 → U+FFFD.
    static func decodeComponent(_ bytes: some Collection<UInt8>) -> String {
        guard bytes.contains(where: { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "%") }) else {
            return String(decoding: bytes, as: UTF8.self)
        }
        let input = Array(bytes)
        var output: [UInt8] = []
        output.reserveCapacity(input.count)
        var index = 0
        while index < input.count {
            let byte = input[index]
            if byte == UInt8(ascii: "+") {
                output.append(UInt8(ascii: " "))
            } else if byte == UInt8(ascii: "%"), index + 2 < input.count,
                let high = hexValue(input[index + 1]), let low = hexValue(input[index + 2])
            {
                output.append(high << 4 | low)
                index += 2
            } else {
                output.append(byte)
            }
            index += 1
        }
        return String(decoding: output, as: UTF8.self)
    }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// The checks the API applies to query values, as pure functions: `nil` means the value is not acceptable.
enum QueryValue {
    /// Every Binance k-line interval from `1m` to `1M`: 1m, 1h and 1d as stored, the others formed from them.
    static let servedIntervals: [Interval] = Interval.minuteAndLonger
    /// 9999-12-31T23:59:59.999Z.
    static let latestTime: Int64 = 253_402_300_799_999

    /// A decimal integer (optionally signed) inside `range`.
    static func integer(_ text: String, in range: ClosedRange<Int>) -> Int? {
        guard let value = Int(text), range.contains(value) else { return nil }
        return value
    }

    /// Epoch milliseconds or ISO-8601, between 1970 and 9999.
    ///
    /// A `+` in a query means a space, so an offset typed into an address bar (`…T10:00:00+02:00`) arrives as
    /// `…T10:00:00 02:00`; when the text does not parse, a space after the time is read back as the `+` it was.
    static func time(_ text: String) -> Int64? {
        var value = UTCTime.parse(text)
        if value == nil, let space = text.lastIndex(of: " "), space != text.firstIndex(where: { $0 == " " || $0 == "T" }) {
            var restored = text
            restored.replaceSubrange(space...space, with: "+")
            value = UTCTime.parse(restored)
        }
        guard let value, (0...latestTime).contains(value) else { return nil }
        return value
    }

    /// One of ``servedIntervals``, by its Binance name.
    static func servedInterval(_ text: String) -> Interval? {
        servedIntervals.first { $0.rawValue == text }
    }
}
