import MarketData

/// The few XML documents S3 answers with (ListObjectsV2, Error, CopyObjectResult, DeleteResult), read into a small
/// element tree.
///
/// S3's XML is plain: elements, text, attributes we ignore, the five predefined entities and numeric references.
/// Anything else (DTDs, CDATA in the wild) is reported as malformed rather than guessed at.
struct S3XMLElement: Sendable, Hashable {
    var name: String
    var text: String
    var children: [S3XMLElement]

    /// The first child named `name`.
    func child(_ name: String) -> S3XMLElement? { children.first { $0.name == name } }

    /// Every child named `name`, in document order.
    func children(_ name: String) -> [S3XMLElement] { children.filter { $0.name == name } }

    /// The text of the first child named `name`.
    func value(_ name: String) -> String? { child(name)?.text }

    static func parse(_ bytes: [UInt8]) throws(S3XMLError) -> S3XMLElement {
        var reader = Reader(bytes: bytes)
        reader.skipProlog()
        guard let root = try reader.element(depth: 0) else { throw S3XMLError("no root element") }
        return root
    }

    private struct Reader {
        let bytes: [UInt8]
        var index = 0

        /// Skips blanks, `<?xml …?>` and comments before the root.
        mutating func skipProlog() {
            while true {
                skipBlanks()
                if starts(with: "<?") {
                    skip(past: "?>")
                } else if starts(with: "<!--") {
                    skip(past: "-->")
                } else {
                    return
                }
            }
        }

        /// S3's documents nest four deep; the bound keeps hostile nesting from exhausting the stack.
        static let maximumDepth = 64

        mutating func element(depth: Int) throws(S3XMLError) -> S3XMLElement? {
            guard depth < Self.maximumDepth else { throw S3XMLError("elements nested deeper than \(Self.maximumDepth)") }
            skipBlanks()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "<") else { return nil }
            index += 1
            let name = readName()
            guard !name.isEmpty else { throw S3XMLError("element without a name at byte \(index)") }
            // Attributes (xmlns) are skipped; quoted values may contain '>'.
            var quote: UInt8?
            while index < bytes.count {
                let byte = bytes[index]
                if let open = quote {
                    if byte == open { quote = nil }
                } else if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'") {
                    quote = byte
                } else if byte == UInt8(ascii: ">") {
                    break
                }
                index += 1
            }
            guard index < bytes.count else { throw S3XMLError("unterminated tag <\(name)>") }
            let selfClosing = bytes[index - 1] == UInt8(ascii: "/")
            index += 1
            var result = S3XMLElement(name: name, text: "", children: [])
            if selfClosing { return result }
            var text: [UInt8] = []
            while true {
                guard index < bytes.count else { throw S3XMLError("element <\(name)> is not closed") }
                if bytes[index] != UInt8(ascii: "<") {
                    text.append(bytes[index])
                    index += 1
                } else if starts(with: "</") {
                    index += 2
                    let closing = readName()
                    guard closing == name else { throw S3XMLError("<\(name)> closed by </\(closing)>") }
                    skip(past: ">")
                    break
                } else if starts(with: "<!--") {
                    skip(past: "-->")
                } else if starts(with: "<![CDATA[") || starts(with: "<!") {
                    throw S3XMLError("unsupported markup inside <\(name)>")
                } else if let child = try element(depth: depth + 1) {
                    result.children.append(child)
                }
            }
            result.text = try Self.decodeEntities(text)
            return result
        }

        mutating func readName() -> String {
            let start = index
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: ">") || byte == UInt8(ascii: "/") || byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\n")
                    || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r")
                {
                    break
                }
                index += 1
            }
            return String(decoding: bytes[start..<index], as: UTF8.self)
        }

        func starts(with text: StaticString) -> Bool {
            let count = text.utf8CodeUnitCount
            guard index + count <= bytes.count else { return false }
            return text.withUTF8Buffer { prefix in bytes[index..<index + count].elementsEqual(prefix) }
        }

        mutating func skip(past text: StaticString) {
            while index < bytes.count, !starts(with: text) { index += 1 }
            index = min(bytes.count, index + text.utf8CodeUnitCount)
        }

        mutating func skipBlanks() {
            while index < bytes.count,
                [UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t")].contains(bytes[index])
            {
                index += 1
            }
        }

        /// Replaces the five predefined entities and numeric references; works on bytes, so a combining mark after
        /// `&` or `;` cannot hide them.
        static func decodeEntities(_ bytes: [UInt8]) throws(S3XMLError) -> String {
            guard bytes.contains(UInt8(ascii: "&")) else { return String(decoding: bytes, as: UTF8.self) }
            var output: [UInt8] = []
            output.reserveCapacity(bytes.count)
            var index = 0
            while index < bytes.count {
                guard bytes[index] == UInt8(ascii: "&") else {
                    output.append(bytes[index])
                    index += 1
                    continue
                }
                guard let semicolon = bytes[index...].firstIndex(of: UInt8(ascii: ";")) else {
                    throw S3XMLError("unterminated entity")
                }
                let entity = bytes[(index + 1)..<semicolon]
                switch String(decoding: entity, as: UTF8.self) {
                case "amp": output.append(UInt8(ascii: "&"))
                case "lt": output.append(UInt8(ascii: "<"))
                case "gt": output.append(UInt8(ascii: ">"))
                case "quot": output.append(UInt8(ascii: "\""))
                case "apos": output.append(UInt8(ascii: "'"))
                default:
                    guard let scalar = numericReference(entity) else {
                        throw S3XMLError("unknown entity &\(String(decoding: entity.prefix(16), as: UTF8.self));")
                    }
                    output += Array(String(scalar).utf8)
                }
                index = semicolon + 1
            }
            return String(decoding: output, as: UTF8.self)
        }

        /// `#65` or `#x41`: one to eight digits naming a Unicode scalar.
        static func numericReference(_ entity: ArraySlice<UInt8>) -> Unicode.Scalar? {
            guard entity.first == UInt8(ascii: "#") else { return nil }
            var digits = entity.dropFirst()
            var radix: UInt32 = 10
            if let x = digits.first, x | 0x20 == UInt8(ascii: "x") {
                radix = 16
                digits = digits.dropFirst()
            }
            guard (1...8).contains(digits.count) else { return nil }
            var value: UInt32 = 0
            for byte in digits {
                let digit: UInt32
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f") where radix == 16: digit = UInt32(byte - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F") where radix == 16: digit = UInt32(byte - UInt8(ascii: "A") + 10)
                default: return nil
                }
                value = value * radix + digit
            }
            return Unicode.Scalar(value)
        }
    }

    /// `text` with `& < > " '` escaped, for request bodies: the one markup escaper (by scalar, see ``MarkupText``).
    static func escape(_ text: String) -> String { MarkupText.escape(text) }
}

struct S3XMLError: Error, Sendable, Hashable, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = "malformed XML from S3: \(description)" }
}
