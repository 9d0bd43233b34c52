import Foundation
import HTTPTypes
import Hummingbird
import MarketData
import NIOCore

/// Builds HTML text; every piece of data goes through ``escape(_:)``.
struct HTML {
    private(set) var text = ""

    init() { text.reserveCapacity(32_768) }

    /// Trusted markup written by our code.
    mutating func raw(_ markup: String) { text += markup }

    /// Data, escaped.
    mutating func text(_ value: String) { text += Self.escape(value) }

    mutating func element(_ tag: String, _ attributes: String = "", _ content: String) {
        text += "<\(tag)\(attributes.isEmpty ? "" : " " + attributes)>\(Self.escape(content))</\(tag)>"
    }

    static func escape(_ text: String) -> String { SVG.escape(text) }

    /// A cell of ``table(_:_:row:)``: data (escaped), or markup our code wrote (a link, a badge).
    enum Cell {
        case text(String)
        case markup(String)
        /// Right-aligned data (`class="num"`).
        case number(String)
    }

    /// A table with a heading row (`numeric` headings right-aligned) and a row of cells per element.
    mutating func table<Element>(
        _ headings: [(title: String, numeric: Bool)], _ elements: some Sequence<Element>, row: (Element) -> [Cell]
    ) {
        raw("<table><tr>")
        for heading in headings { raw(heading.numeric ? "<th class=\"num\">\(heading.title)</th>" : "<th>\(heading.title)</th>") }
        raw("</tr>")
        for element in elements {
            raw("<tr>")
            for cell in row(element) {
                switch cell {
                case .text(let value): self.element("td", "", value)
                case .number(let value): self.element("td", "class=\"num\"", value)
                case .markup(let markup): raw("<td>\(markup)</td>")
                }
            }
            raw("</tr>")
        }
        raw("</table>")
    }

    /// A status badge: its class and text are one of our own enumerations' raw values.
    static func badge(_ status: String) -> String { "<span class=\"badge \(escape(status))\">\(escape(status))</span>" }

    /// `name="value"` with the value escaped.
    static func attribute(_ name: String, _ value: String) -> String { "\(name)=\"\(escape(value))\"" }
}

/// Reading `application/x-www-form-urlencoded` bodies and cookies, which the pages' forms and sign-in use.
enum FormData {
    /// The fields of a form body, decoded by Hummingbird's `URLEncodedFormDecoder` (a field named twice, or a malformed
    /// percent escape, is an error). Our forms have a few flat fields, so more than ``maximumFields`` fields, or
    /// bracketed names (`a[b]`, `a[]`, which the decoder would nest into dictionaries and arrays), are refused first.
    static func decode(_ text: String) throws(APIError) -> [String: String] {
        let elements = text.split(separator: "&")
        guard elements.count <= maximumFields else {
            throw APIError.badRequest("invalid_form", "a form has at most \(maximumFields) fields")
        }
        for element in elements {
            let key = element.prefix { $0 != "=" }.lowercased()
            guard !key.contains("["), !key.contains("]"), !key.contains("%5b"), !key.contains("%5d") else {
                throw APIError.badRequest("invalid_form", "form field names are plain words; '\(shown(String(key)))' is not one")
            }
        }
        do {
            return try URLEncodedFormDecoder().decode([String: String].self, from: text)
        } catch {
            throw APIError.badRequest("invalid_form", "the form could not be read: \(shown("\(error)"))")
        }
    }

    static let maximumFields = 100

    static func read(_ request: Request) async throws -> [String: String] {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: 64 * 1024)
        } catch {
            throw APIError(.contentTooLarge, code: "body_too_large", "the form is larger than 64 KiB")
        }
        return try decode(String(buffer: buffer))
    }

    static func cookie(_ name: String, in request: Request) -> String? { request.cookies[name]?.value }

    /// `application/x-www-form-urlencoded` escaping of a query value.
    static func escapeQuery(_ value: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value
    }
}

/// Number formatting for people (prices keep their exact text elsewhere).
enum Display {
    /// An exact decimal without trailing zeros beyond two decimals: `43250.12000000` → `43250.12`.
    static func decimal(_ value: ExactDecimal, minimumDecimals: Int = 2) -> String {
        var text = value.description
        guard let point = text.firstIndex(of: ".") else { return text }
        while text.last == "0", text.distance(from: point, to: text.endIndex) > minimumDecimals + 1 { text.removeLast() }
        if text.last == "." { text.removeLast() }
        return text
    }

    /// `12,345,678.9` style grouping for large volumes, two decimals.
    static func grouped(_ value: Double) -> String {
        let fixed = SVG.fixed(value, decimals: value.magnitude >= 1_000 ? 0 : 2)
        let parts = fixed.split(separator: ".", maxSplits: 1)
        var integer = String(parts[0])
        let negative = integer.hasPrefix("-")
        if negative { integer.removeFirst() }
        var groups: [String] = []
        while integer.count > 3 {
            groups.insert(String(integer.suffix(3)), at: 0)
            integer.removeLast(3)
        }
        groups.insert(integer, at: 0)
        return (negative ? "-" : "") + groups.joined(separator: ",") + (parts.count > 1 ? "." + parts[1] : "")
    }

    /// A whole number with thousands separators: `1,202`.
    static func count(_ value: Int) -> String {
        var digits = String(value.magnitude)
        var groups: [String] = []
        while digits.count > 3 {
            groups.insert(String(digits.suffix(3)), at: 0)
            digits.removeLast(3)
        }
        groups.insert(digits, at: 0)
        return (value < 0 ? "-" : "") + groups.joined(separator: ",")
    }

    /// A percentage for people: two decimals, e.g. `+0.97` (the API keeps the exact eight).
    static func percent(_ value: ExactDecimal) -> String {
        (value.units >= 0 ? "+" : "") + SVG.fixed(value.doubleValue, decimals: 2)
    }

    static func time(_ epochMilliseconds: Int64?) -> String {
        guard let epochMilliseconds else { return "—" }
        let iso = UTCTime.iso8601(epochMilliseconds)
        return String(iso.prefix(10)) + " " + String(iso.dropFirst(11).prefix(8)) + " UTC"
    }

    /// `42 s`, `5 min`, `3 h`, `2 d`.
    static func age(_ seconds: Int64?) -> String {
        guard let seconds else { return "—" }
        switch seconds {
        case ..<120: return "\(seconds) s"
        case ..<7_200: return "\(seconds / 60) min"
        case ..<172_800: return "\(seconds / 3_600) h"
        default: return "\(seconds / 86_400) d"
        }
    }
}

extension Response {
    static func html(_ text: String, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "text/html; charset=utf-8"
        fields[.cacheControl] = "no-store"
        // Everything is served by us: no inline event handlers, no other origins.
        fields[.contentSecurityPolicy] =
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; form-action 'self'; frame-ancestors 'none'"
        fields[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        // Links to other sites do not learn our URLs (a sign-in link's token among them).
        fields[.referrerPolicy] = "same-origin"
        return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    /// 303 See Other back to a page after a form post, with a notice or an error for the banner.
    static func seeOther(_ location: String, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.location] = location
        fields[.referrerPolicy] = "same-origin"
        return Response(status: .seeOther, headers: fields)
    }
}

extension HTTPField.Name {
    // A valid literal field name: the initialiser only fails on characters a name may not hold.
    // swift-format-ignore: NeverForceUnwrap
    static let referrerPolicy = HTTPField.Name("Referrer-Policy")!
}
