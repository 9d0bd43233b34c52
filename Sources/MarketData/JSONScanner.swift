/// A forward-only JSON tokenizer over UTF-8 bytes, for the few fixed shapes Binance sends.
///
/// Parsing k-lines is the transform's hot path. A general JSON tree would allocate a string and a
/// box per field; this reads numbers and decimal strings straight from the bytes, which is what
/// lets a transform outrun SQLite's insert speed rather than the other way round.
public struct JSONScanner: ~Copyable {
    let bytes: UnsafeBufferPointer<UInt8>
    public private(set) var position: Int

    public init(_ bytes: UnsafeBufferPointer<UInt8>, position: Int = 0) {
        self.bytes = bytes
        self.position = position
    }

    @inline(__always)
    public mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x0A, 0x0D, 0x09: position += 1
            default: return
            }
        }
    }

    /// The next non-whitespace byte, not consumed.
    @inline(__always)
    public mutating func peek() -> UInt8? {
        skipWhitespace()
        return position < bytes.count ? bytes[position] : nil
    }

    @inline(__always)
    public mutating func expect(_ byte: UInt8) throws(JSONScanError) {
        skipWhitespace()
        guard position < bytes.count, bytes[position] == byte else {
            throw error("expected '\(Character(Unicode.Scalar(byte)))'")
        }
        position += 1
    }

    /// Consumes `byte` if it is next.
    @inline(__always)
    public mutating func consume(_ byte: UInt8) -> Bool {
        skipWhitespace()
        if position < bytes.count, bytes[position] == byte {
            position += 1
            return true
        }
        return false
    }

    /// After an element of an array or object: `true` if another follows (`,`), `false` at `closing`.
    @inline(__always)
    public mutating func nextElement(closing: UInt8) throws(JSONScanError) -> Bool {
        skipWhitespace()
        guard position < bytes.count else { throw error("unexpected end of input") }
        let byte = bytes[position]
        position += 1
        if byte == UInt8(ascii: ",") { return true }
        if byte == closing { return false }
        position -= 1
        throw error("expected ',' or '\(Character(Unicode.Scalar(closing)))'")
    }

    /// A JSON integer (no fraction or exponent), as Binance sends times, counts and ids.
    public mutating func readInt64() throws(JSONScanError) -> Int64 {
        skipWhitespace()
        let start = position
        var negative = false
        if position < bytes.count, bytes[position] == UInt8(ascii: "-") {
            negative = true
            position += 1
        }
        var value: Int64 = 0
        var digits = 0
        while position < bytes.count {
            let digit = bytes[position] &- 48
            guard digit < 10 else { break }
            let (multiplied, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (added, overflow2) = multiplied.addingReportingOverflow(Int64(digit))
            guard !overflow1, !overflow2 else {
                position = start
                throw error("integer out of range")
            }
            value = added
            digits += 1
            position += 1
        }
        guard digits > 0 else {
            position = start
            throw error("expected an integer")
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: ".") || bytes[position] | 0x20 == UInt8(ascii: "e") {
            position = start
            throw error("expected an integer, found a fractional number")
        }
        return negative ? -value : value
    }

    /// A decimal sent as a JSON string (`"0.01634790"`) or, leniently, as a bare JSON number.
    public mutating func readDecimal() throws(JSONScanError) -> ExactDecimal {
        skipWhitespace()
        let start = position
        let quoted = position < bytes.count && bytes[position] == UInt8(ascii: "\"")
        if quoted { position += 1 }
        let valueStart = position
        while position < bytes.count {
            let byte = bytes[position]
            if (byte &- 48) < 10 || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-") {
                position += 1
            } else {
                break
            }
        }
        let valueEnd = position
        if quoted {
            guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else {
                position = start
                throw error("expected a decimal string")
            }
            position += 1
        }
        do {
            return try ExactDecimal(bytes: UnsafeBufferPointer(rebasing: bytes[valueStart..<valueEnd]))
        } catch {
            position = start
            throw self.error(error.description)
        }
    }

    /// A JSON string, with the escapes JSON defines.
    public mutating func readString() throws(JSONScanError) -> String {
        try expect(UInt8(ascii: "\""))
        let start = position
        var hasEscape = false
        while position < bytes.count {
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") {
                let raw = UnsafeBufferPointer(rebasing: bytes[start..<position])
                position += 1
                return hasEscape ? try unescape(raw) : String(decoding: raw, as: UTF8.self)
            }
            if byte == UInt8(ascii: "\\") {
                hasEscape = true
                position += 1
            }
            position += 1
        }
        // A trailing backslash steps past the end; report from the opening quote, inside the buffer.
        position = start - 1
        throw error("unterminated string")
    }

    /// A JSON number, string, `true`, `false` or `null` as text; for lenient reading of the ignored field.
    public mutating func readScalarText() throws(JSONScanError) -> String {
        guard let first = peek() else { throw error("unexpected end of input") }
        if first == UInt8(ascii: "\"") { return try readString() }
        let start = position
        try skipValue()
        return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
    }

    /// Skips one complete JSON value of any kind and returns its byte range.
    @discardableResult
    public mutating func skipValue() throws(JSONScanError) -> Range<Int> {
        guard let first = peek() else { throw error("unexpected end of input") }
        let start = position
        switch first {
        case UInt8(ascii: "\""):
            _ = try readString()
        case UInt8(ascii: "["), UInt8(ascii: "{"):
            var depth = 0
            var inString = false
            while position < bytes.count {
                let byte = bytes[position]
                position += 1
                if inString {
                    if byte == UInt8(ascii: "\\") {
                        position += 1
                    } else if byte == UInt8(ascii: "\"") {
                        inString = false
                    }
                    continue
                }
                switch byte {
                case UInt8(ascii: "\""): inString = true
                case UInt8(ascii: "["), UInt8(ascii: "{"): depth += 1
                case UInt8(ascii: "]"), UInt8(ascii: "}"):
                    depth -= 1
                    if depth == 0 { return start..<position }
                default: break
                }
            }
            position = start
            throw error("unterminated \(first == UInt8(ascii: "[") ? "array" : "object")")
        default:
            while position < bytes.count {
                switch bytes[position] {
                case UInt8(ascii: ","), UInt8(ascii: "]"), UInt8(ascii: "}"), 0x20, 0x0A, 0x0D, 0x09:
                    guard position > start else { throw error("expected a value") }
                    let literal = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
                    guard Self.isScalarLiteral(literal) else {
                        position = start
                        throw error("invalid literal '\(literal.prefix(20))'")
                    }
                    return start..<position
                default: position += 1
                }
            }
            let literal = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
            guard Self.isScalarLiteral(literal) else {
                position = start
                throw error("invalid literal '\(literal.prefix(20))'")
            }
        }
        return start..<position
    }

    /// Requires that nothing but whitespace follows.
    public mutating func expectEnd() throws(JSONScanError) {
        skipWhitespace()
        guard position == bytes.count else { throw error("unexpected data after the JSON value") }
    }

    public func error(_ message: String) -> JSONScanError {
        JSONScanError(message: message, offset: position)
    }

    private static func isScalarLiteral(_ text: String) -> Bool {
        if text == "true" || text == "false" || text == "null" { return true }
        var sawDigit = false
        for scalar in text.unicodeScalars {
            switch scalar {
            case "0"..."9": sawDigit = true
            case "-", "+", ".", "e", "E": continue
            default: return false
            }
        }
        return sawDigit
    }

    private func unescape(_ raw: UnsafeBufferPointer<UInt8>) throws(JSONScanError) -> String {
        var output: [UInt8] = []
        output.reserveCapacity(raw.count)
        var index = 0
        while index < raw.count {
            let byte = raw[index]
            index += 1
            guard byte == UInt8(ascii: "\\") else {
                output.append(byte)
                continue
            }
            guard index < raw.count else { throw error("bad escape in string") }
            let escaped = raw[index]
            index += 1
            switch escaped {
            case UInt8(ascii: "n"): output.append(0x0A)
            case UInt8(ascii: "t"): output.append(0x09)
            case UInt8(ascii: "r"): output.append(0x0D)
            case UInt8(ascii: "b"): output.append(0x08)
            case UInt8(ascii: "f"): output.append(0x0C)
            case UInt8(ascii: "u"):
                guard index + 4 <= raw.count,
                    let code = UInt32(String(decoding: UnsafeBufferPointer(rebasing: raw[index..<index + 4]), as: UTF8.self), radix: 16)
                else { throw error("bad \\u escape in string") }
                index += 4
                let scalar = Unicode.Scalar(code) ?? "\u{FFFD}"
                output.append(contentsOf: Array(String(Character(scalar)).utf8))
            default: output.append(escaped)
            }
        }
        return String(decoding: output, as: UTF8.self)
    }
}

/// Malformed JSON, with the byte offset where reading stopped.
public struct JSONScanError: Error, Hashable, CustomStringConvertible {
    public let message: String
    public let offset: Int
    public var description: String { "\(message) at byte \(offset)" }
}
