/// Writes JSON straight into bytes: the API's responses are built with it, so decimals stay exact strings, times get
/// both epoch ms and ISO-8601, and the hot candle endpoint allocates one buffer per response.
public struct JSONWriter: Sendable {
    public private(set) var bytes: [UInt8] = []
    /// Whether the next value in the current container needs a comma before it.
    private var needsComma = false

    public init(capacity: Int = 256) {
        bytes.reserveCapacity(capacity)
    }

    public mutating func object(_ body: (inout JSONWriter) -> Void) {
        separator()
        bytes.append(UInt8(ascii: "{"))
        needsComma = false
        body(&self)
        bytes.append(UInt8(ascii: "}"))
        needsComma = true
    }

    public mutating func array(_ body: (inout JSONWriter) -> Void) {
        separator()
        bytes.append(UInt8(ascii: "["))
        needsComma = false
        body(&self)
        bytes.append(UInt8(ascii: "]"))
        needsComma = true
    }

    /// A key inside an object; the value written next belongs to it.
    public mutating func key(_ name: StaticString) {
        separator()
        bytes.append(UInt8(ascii: "\""))
        name.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: ":")])
        needsComma = false
    }

    /// A key that is not known at compile time (escaped).
    public mutating func key(dynamic name: String) {
        separator()
        appendEscaped(name)
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    public mutating func string(_ value: String) {
        separator()
        appendEscaped(value)
        needsComma = true
    }

    public mutating func optionalString(_ value: String?) {
        if let value { string(value) } else { null() }
    }

    public mutating func int(_ value: some BinaryInteger) {
        separator()
        bytes.append(contentsOf: String(value).utf8)
        needsComma = true
    }

    public mutating func optionalInt(_ value: (some BinaryInteger)?) {
        if let value { int(value) } else { null() }
    }

    /// A finite number, or `null` (JSON has no NaN or infinity).
    public mutating func double(_ value: Double?) {
        guard let value, value.isFinite else { return null() }
        separator()
        bytes.append(contentsOf: "\(value)".utf8)
        needsComma = true
    }

    public mutating func bool(_ value: Bool) {
        separator()
        bytes.append(contentsOf: (value ? "true" : "false").utf8)
        needsComma = true
    }

    public mutating func null() {
        separator()
        bytes.append(contentsOf: "null".utf8)
        needsComma = true
    }

    /// An exact decimal as a string in Binance's canonical form, e.g. `"43250.12000000"`.
    public mutating func decimal(_ value: ExactDecimal) {
        separator()
        bytes.append(UInt8(ascii: "\""))
        value.appendCanonical(to: &bytes)
        bytes.append(UInt8(ascii: "\""))
        needsComma = true
    }

    /// Two members: `name` with epoch ms and `name_iso` with ISO-8601, or both `null`.
    public mutating func time(_ name: StaticString, _ iso: StaticString, _ epochMilliseconds: Int64?) {
        key(name)
        optionalInt(epochMilliseconds)
        key(iso)
        if let epochMilliseconds { appendISO(epochMilliseconds) } else { null() }
    }

    /// Raw JSON text produced elsewhere (e.g. a cached document).
    public mutating func raw(_ json: [UInt8]) {
        separator()
        bytes.append(contentsOf: json)
        needsComma = true
    }

    /// Raw JSON text produced elsewhere: one value, or several joined by commas (part of a cached array); empty
    /// text adds nothing.
    public mutating func raw(_ json: ArraySlice<UInt8>) {
        guard !json.isEmpty else { return }
        separator()
        bytes.append(contentsOf: json)
        needsComma = true
    }

    private mutating func separator() {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
    }

    /// `"2024-01-01T00:00:00.000Z"` without going through `String`.
    private mutating func appendISO(_ epochMilliseconds: Int64) {
        separator()
        JSONText.appendTime(epochMilliseconds, to: &bytes)
        needsComma = true
    }

    private mutating func appendEscaped(_ text: String) {
        JSONText.appendString(text, to: &bytes)
    }
}
