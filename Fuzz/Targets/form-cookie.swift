// Fuzz target `form-cookie`: the query and form field decoder the API runs on every query string
// (URLEncodedForm.fields and firstValue), built with Sources/WebApp/URLEncoding.swift. Form bodies and cookies are read
// by Hummingbird's own decoders (FormData refuses bracketed field names before that decoder runs).

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data.assumingMemoryBound(to: UInt8.self), count: count)
    let text = String(decoding: bytes, as: UTF8.self)

    let fields = URLEncodedForm.fields(text)
    precondition(fields.count <= URLEncodedForm.maximumFields)
    // The first value of a name is what a query parameter reads.
    for (name, value) in fields where !name.isEmpty {
        precondition(URLEncodedForm.firstValue(name, in: text) == fields.first { $0.name == name }?.value ?? value)
    }
    return 0
}
