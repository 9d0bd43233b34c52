public import MarketData

/// Statement parameters, kept in a few flat buffers so a batch of thousands of values costs a few allocations.
///
/// Decimals travel as their canonical text (`"43250.12000000"`) and are bound as `MYSQL_TYPE_NEWDECIMAL`: the server
/// parses them exactly into `DECIMAL` columns, and no `Double` is ever involved.
public struct MySQLParameters: Sendable {
    enum Slot: Sendable {
        case null
        case integer(Int)
        case text(start: Int, length: Int)
        case decimal(start: Int, length: Int)
    }

    var slots: [Slot] = []
    var integers: [Int64] = []
    var bytes: [UInt8] = []

    public init(capacity: Int = 0) {
        slots.reserveCapacity(capacity)
        integers.reserveCapacity(capacity / 2)
        bytes.reserveCapacity(capacity * 12)
    }

    /// Parameters in statement order: `MySQLParameters(symbol.rawValue, from, to)`.
    public init(_ values: any MySQLBindable...) {
        self.init(capacity: values.count)
        for value in values { value.bind(into: &self) }
    }

    public var count: Int { slots.count }

    public mutating func append(_ value: Int64) {
        slots.append(.integer(integers.count))
        integers.append(value)
    }

    public mutating func append(_ value: Int) { append(Int64(value)) }

    public mutating func append(_ value: Bool) { append(Int64(value ? 1 : 0)) }

    public mutating func append(_ value: String) {
        let start = bytes.count
        bytes.append(contentsOf: value.utf8)
        slots.append(.text(start: start, length: bytes.count - start))
    }

    public mutating func append(_ value: ExactDecimal) {
        let start = bytes.count
        value.appendCanonical(to: &bytes)
        slots.append(.decimal(start: start, length: bytes.count - start))
    }

    public mutating func append(_ value: Int64?) {
        if let value { append(value) } else { appendNull() }
    }

    public mutating func append(_ value: Int?) { append(value.map(Int64.init)) }

    public mutating func append(_ value: String?) {
        if let value { append(value) } else { appendNull() }
    }

    public mutating func appendNull() { slots.append(.null) }
}

/// A result set read as text (the server converts numbers; `DECIMAL`s arrive exactly as stored), kept in one byte
/// buffer with a span per field.
public struct MySQLRows: Sendable {
    public let columnCount: Int
    var bytes: [UInt8] = []
    /// Per field: start and length in `bytes`; length -1 for NULL.
    var spans: [Int] = []

    init(columnCount: Int) { self.columnCount = columnCount }

    public var count: Int { columnCount == 0 ? 0 : spans.count / (2 * columnCount) }

    public subscript(row: Int) -> MySQLRow { MySQLRow(rows: self, row: row) }

    public var all: [MySQLRow] { (0..<count).map { self[$0] } }

    public var first: MySQLRow? { count > 0 ? self[0] : nil }
}

/// One row of ``MySQLRows``; typed accessors throw when a value does not have the expected form.
public struct MySQLRow: Sendable {
    let rows: MySQLRows
    let row: Int

    func span(_ column: Int) -> (start: Int, length: Int) {
        let index = (row * rows.columnCount + column) * 2
        return (rows.spans[index], rows.spans[index + 1])
    }

    public func isNull(_ column: Int) -> Bool { span(column).length < 0 }

    public func string(_ column: Int) -> String? {
        let (start, length) = span(column)
        guard length >= 0 else { return nil }
        return String(decoding: rows.bytes[start..<start + length], as: UTF8.self)
    }

    /// The column as an integer; `nil` for NULL, for text that is not one, and for a value outside `Int64` (a
    /// server of another's may hold anything). The standard library's parser, without the `+` sign it also takes.
    public func int64(_ column: Int) -> Int64? {
        let (start, length) = span(column)
        guard length > 0, rows.bytes[start] != UInt8(ascii: "+") else { return nil }
        return Int64(String(decoding: rows.bytes[start..<start + length], as: UTF8.self))
    }

    public func decimal(_ column: Int) throws(DecimalParseError) -> ExactDecimal? {
        let (start, length) = span(column)
        guard length >= 0 else { return nil }
        return try rows.bytes.withUnsafeBufferPointer { buffer throws(DecimalParseError) in
            try ExactDecimal(bytes: UnsafeBufferPointer(rebasing: buffer[start..<start + length]))
        }
    }

    /// The column as an integer; a NULL or non-integer is an error.
    public func requiredInt(_ column: Int) throws(MySQLError) -> Int64 {
        guard let value = int64(column) else {
            throw .invalidData(
                "column \(column) holds \(string(column).map { "'\($0)'" } ?? "NULL"), not an integer", operation: "read a row")
        }
        return value
    }

    public func requiredText(_ column: Int) throws(MySQLError) -> String {
        guard let value = string(column) else { throw .invalidData("column \(column) is NULL", operation: "read a row") }
        return value
    }

    public func requiredDecimal(_ column: Int) throws(MySQLError) -> ExactDecimal {
        let parsed: ExactDecimal?
        do {
            parsed = try decimal(column)
        } catch {
            throw .invalidData("column \(column): \(error)", operation: "read a row")
        }
        guard let parsed else { throw .invalidData("column \(column) is NULL", operation: "read a row") }
        return parsed
    }
}

/// A value that can be a statement parameter.
public protocol MySQLBindable {
    func bind(into parameters: inout MySQLParameters)
}

extension Int64: MySQLBindable {
    public func bind(into parameters: inout MySQLParameters) { parameters.append(self) }
}

extension Int: MySQLBindable {
    public func bind(into parameters: inout MySQLParameters) { parameters.append(self) }
}

extension Bool: MySQLBindable {
    public func bind(into parameters: inout MySQLParameters) { parameters.append(self) }
}

extension String: MySQLBindable {
    public func bind(into parameters: inout MySQLParameters) { parameters.append(self) }
}

extension ExactDecimal: MySQLBindable {
    public func bind(into parameters: inout MySQLParameters) { parameters.append(self) }
}

extension Optional: MySQLBindable where Wrapped: MySQLBindable {
    public func bind(into parameters: inout MySQLParameters) {
        if let value = self { value.bind(into: &parameters) } else { parameters.appendNull() }
    }
}
