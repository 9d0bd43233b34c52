// Fuzz target `form-cookie`: what FormData.decode and FormData.cookie(_:in:) run: URLEncodedForm.dictionary (form
// bodies) and CookieHeader (Cookie: header values). Built with Sources/WebApp/URLEncoding.swift (FormData itself lives
// beside Hummingbird types and only forwards to these).

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data.assumingMemoryBound(to: UInt8.self), count: count)
    let text = String(decoding: bytes, as: UTF8.self)

    let form = URLEncodedForm.dictionary(text)
    precondition(form.count <= URLEncodedForm.maximumFields && form.keys.allSatisfy { !$0.isEmpty })
    // A repeated name keeps its last value.
    let fields = URLEncodedForm.fields(text)
    for (name, value) in form { precondition(fields.last { $0.name == name }?.value == value) }

    let pairs = CookieHeader.pairs(text)
    for pair in pairs {
        // Split and trimmed by scalar: no `;` inside, no `=` in the name, no blank at either end.
        let name = pair.name.unicodeScalars
        let value = pair.value.unicodeScalars
        precondition(!name.isEmpty && !value.isEmpty && !name.contains(";") && !value.contains(";") && !name.contains("="))
        precondition(name.first != " " && name.last != " " && value.first != " " && value.last != " ")
    }
    if let first = pairs.first {
        precondition(CookieHeader.value(String(first.name), in: text) == String(first.value))
    }
    // A session cookie among others is found whatever surrounds it.
    let session = "sid=" + String(decoding: bytes.prefix(64).filter { $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: ";") }, as: UTF8.self)
    // The `;` closes whatever piece the text ends with, so it cannot swallow the cookie's name.
    let header = text + ";; " + session + "; sid=later"
    let found = CookieHeader.value("sid", in: header)
    if !pairs.contains(where: { $0.name == "sid" }), session.count > 4 {
        precondition(found == String(session.dropFirst(4)), "\(header) -> \(found ?? "nil")")
    }
    return 0
}
