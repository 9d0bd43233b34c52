/// An exact decimal number with up to eight fractional digits, as Binance quotes prices and quantities.
///
/// Binance sends every price and quantity as a decimal string with at most eight fractional digits
/// ("0.01634790"). Holding the value as an integer count of 10⁻⁸ units makes parsing, adding and
/// comparing exact; `Double` appears only in ``doubleValue`` for indicator math, never on the way to storage.
/// `Int128` leaves room for 29 integer digits, so even sums of meme-coin volumes cannot overflow in practice.
public struct ExactDecimal: Sendable, Hashable, Comparable {
    /// Number of fractional digits kept exactly.
    public static let scale = 8
    /// `10^scale`: the number of units in one.
    public static let unitsPerOne: Int128 = 100_000_000

    /// The value multiplied by 10⁸.
    public var units: Int128

    public static let zero = ExactDecimal(units: 0)

    public init(units: Int128) {
        self.units = units
    }

    /// An integer value, exactly.
    public init(_ integer: Int) {
        self.units = Int128(integer) * Self.unitsPerOne
    }

    /// Parses a plain decimal string such as `"-12.5"` or `"0.01634790"`.
    public init(parsing text: some StringProtocol) throws(DecimalParseError) {
        var utf8 = Array(text.utf8)
        self = try utf8.withUnsafeMutableBufferPointer { buffer throws(DecimalParseError) in
            try ExactDecimal(bytes: UnsafeBufferPointer(buffer))
        }
    }

    /// Parses ASCII bytes: an optional `-`, digits, and an optional `.` with digits.
    ///
    /// Exponents, `+`, spaces and more than eight significant fractional digits are rejected
    /// rather than rounded, because a rounded price is a wrong price.
    public init(bytes: UnsafeBufferPointer<UInt8>) throws(DecimalParseError) {
        var index = 0
        let count = bytes.count
        var negative = false
        if index < count, bytes[index] == UInt8(ascii: "-") {
            negative = true
            index += 1
        }
        // Up to 18 integer digits accumulate in 64 bits (a fraction of the cost of 128-bit arithmetic); longer
        // integer parts, up to 29 digits, continue in 128 bits.
        var shortInteger: UInt64 = 0
        var longInteger: Int128 = 0
        var integerDigits = 0
        while index < count {
            let digit = bytes[index] &- 48
            guard digit < 10 else { break }
            integerDigits += 1
            if integerDigits <= 18 {
                shortInteger = shortInteger &* 10 &+ UInt64(digit)
            } else {
                guard integerDigits <= 29 else { throw DecimalParseError(bytes: bytes, reason: .outOfRange) }
                if integerDigits == 19 { longInteger = Int128(shortInteger) }
                longInteger = longInteger * 10 + Int128(digit)
            }
            index += 1
        }
        let integerPart = integerDigits <= 18 ? Int128(shortInteger) : longInteger
        var fraction: UInt64 = 0
        var fractionDigits = 0
        var hasFraction = false
        if index < count, bytes[index] == UInt8(ascii: ".") {
            hasFraction = true
            index += 1
            while index < count {
                let digit = bytes[index] &- 48
                guard digit < 10 else { break }
                if fractionDigits < Self.scale {
                    fraction = fraction &* 10 &+ UInt64(digit)
                    fractionDigits += 1
                } else if digit != 0 {
                    throw DecimalParseError(bytes: bytes, reason: .tooManyFractionDigits)
                }
                index += 1
            }
            guard fractionDigits > 0 else { throw DecimalParseError(bytes: bytes, reason: .malformed) }
        }
        guard index == count, integerDigits > 0 || hasFraction, integerDigits > 0 || fractionDigits > 0 else {
            throw DecimalParseError(bytes: bytes, reason: .malformed)
        }
        for _ in fractionDigits..<Self.scale { fraction &*= 10 }
        let magnitude = integerPart * Self.unitsPerOne + Int128(fraction)
        self.units = negative ? -magnitude : magnitude
    }

    /// Approximate value for indicator math only.
    public var doubleValue: Double {
        let whole = units / Self.unitsPerOne
        let fraction = units % Self.unitsPerOne
        return Double(whole) + Double(fraction) / 1e8
    }

    public static func < (lhs: ExactDecimal, rhs: ExactDecimal) -> Bool { lhs.units < rhs.units }
    public static func + (lhs: ExactDecimal, rhs: ExactDecimal) -> ExactDecimal {
        ExactDecimal(units: lhs.units + rhs.units)
    }
    public static func - (lhs: ExactDecimal, rhs: ExactDecimal) -> ExactDecimal {
        ExactDecimal(units: lhs.units - rhs.units)
    }
    public static func += (lhs: inout ExactDecimal, rhs: ExactDecimal) { lhs.units += rhs.units }
    public var isZero: Bool { units == 0 }
}

extension ExactDecimal: CustomStringConvertible, LosslessStringConvertible {
    /// Canonical text: always eight fractional digits, as Binance writes them (`"43250.12000000"`).
    public var description: String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(24)
        appendCanonical(to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    public init?(_ description: String) {
        guard let value = try? ExactDecimal(parsing: description) else { return nil }
        self = value
    }

    /// Appends the canonical text to a byte buffer; used by the CSV and JSON writers on hot paths.
    public func appendCanonical(to bytes: inout [UInt8]) {
        withCanonicalText { bytes.append(contentsOf: $0) }
    }

    /// Room ``writeCanonical(into:)`` needs: 39 digits of |Int128| / 10⁸ + point + 8 digits + sign.
    public static let maxCanonicalLength = 48

    /// Calls `body` with the canonical text in a stack buffer, without allocating.
    @inlinable
    public func withCanonicalText<Result>(_ body: (UnsafeBufferPointer<UInt8>) throws -> Result) rethrows -> Result {
        try withUnsafeTemporaryAllocation(of: UInt8.self, capacity: Self.maxCanonicalLength) { buffer in
            let length = writeCanonical(into: buffer.baseAddress!)
            return try body(UnsafeBufferPointer(start: buffer.baseAddress!, count: length))
        }
    }

    /// Writes the canonical text to `destination` (at least ``maxCanonicalLength`` bytes) and returns its length.
    @inlinable
    public func writeCanonical(into destination: UnsafeMutablePointer<UInt8>) -> Int {
        let magnitude = units.magnitude
        // 64-bit division is several times cheaper than 128-bit, and nearly every value fits.
        var position =
            magnitude <= UInt128(UInt64.max)
            ? Self.writeDigitsBackwards(UInt64(magnitude), endingAt: Self.maxCanonicalLength, in: destination)
            : Self.writeDigitsBackwards(magnitude, endingAt: Self.maxCanonicalLength, in: destination)
        if units < 0 {
            position -= 1
            destination[position] = UInt8(ascii: "-")
        }
        let length = Self.maxCanonicalLength - position
        if position > 0 { destination.update(from: destination + position, count: length) }
        return length
    }

    /// Writes `value` / 10⁸ with eight fractional digits so that it ends at `end`; returns where it starts.
    @inlinable
    static func writeDigitsBackwards<Magnitude: FixedWidthInteger & UnsignedInteger>(
        _ value: Magnitude, endingAt end: Int, in destination: UnsafeMutablePointer<UInt8>
    ) -> Int {
        var position = end
        var rest = value
        for _ in 0..<scale {
            position -= 1
            destination[position] = UInt8(truncatingIfNeeded: rest % 10) &+ 48
            rest /= 10
        }
        position -= 1
        destination[position] = UInt8(ascii: ".")
        repeat {
            position -= 1
            destination[position] = UInt8(truncatingIfNeeded: rest % 10) &+ 48
            rest /= 10
        } while rest > 0
        return position
    }
}

extension ExactDecimal: Codable {
    /// Decimals travel as strings in JSON, as Binance sends them, so no JSON number parser can round them.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        do {
            self = try ExactDecimal(parsing: text)
        } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.description)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// A decimal string that cannot be represented exactly.
public struct DecimalParseError: Error, Hashable, CustomStringConvertible {
    public enum Reason: Sendable, Hashable {
        case malformed
        case tooManyFractionDigits
        case outOfRange
    }

    public let text: String
    public let reason: Reason

    init(bytes: UnsafeBufferPointer<UInt8>, reason: Reason) {
        self.text = String(decoding: bytes.prefix(64), as: UTF8.self)
        self.reason = reason
    }

    public var description: String {
        switch reason {
        case .malformed: "'\(text)' is not a decimal number"
        case .tooManyFractionDigits: "'\(text)' has more than \(ExactDecimal.scale) significant fractional digits"
        case .outOfRange: "'\(text)' is too large"
        }
    }
}
