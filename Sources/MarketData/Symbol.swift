/// A Binance spot symbol such as `BTCUSDT`.
///
/// Validated on construction (uppercase ASCII letters and digits, 5–20 characters) so that a symbol
/// can be put into URLs, object names and SQL without further escaping.
public struct Symbol: Sendable, Hashable, Comparable, CustomStringConvertible, Codable {
    public let rawValue: String

    public init(_ rawValue: String) throws(SymbolError) {
        guard (5...20).contains(rawValue.utf8.count) else {
            throw SymbolError(text: rawValue, reason: "must be 5 to 20 characters long")
        }
        guard rawValue.utf8.allSatisfy({ ($0 >= 65 && $0 <= 90) || ($0 >= 48 && $0 <= 57) }) else {
            throw SymbolError(text: rawValue, reason: "may contain only uppercase letters A-Z and digits 0-9")
        }
        self.rawValue = rawValue
    }

    /// Parses a comma-separated list such as `"btcusdt, ETHUSDT"`, upper-casing each entry and dropping repeats.
    public static func parseList(_ text: String) throws(SymbolError) -> [Symbol] {
        var symbols: [Symbol] = []
        for part in text.split(separator: ",") {
            let trimmed = String(part.trimmingASCIIWhitespace()).uppercased()
            if trimmed.isEmpty { continue }
            let symbol = try Symbol(trimmed)
            if !symbols.contains(symbol) { symbols.append(symbol) }
        }
        guard !symbols.isEmpty else { throw SymbolError(text: text, reason: "no symbol given") }
        return symbols
    }

    public var description: String { rawValue }
    public static func < (lhs: Symbol, rhs: Symbol) -> Bool { lhs.rawValue < rhs.rawValue }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        do {
            self = try Symbol(text)
        } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.description)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

public struct SymbolError: Error, Hashable, CustomStringConvertible {
    public let text: String
    public let reason: String
    public var description: String { "invalid symbol '\(text)': \(reason)" }
}
