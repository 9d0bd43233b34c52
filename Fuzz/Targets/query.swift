// Fuzz target `query`: URLEncodedForm (the query-string and form decoder) and the pure validators the API applies to
// query values (QueryValue.integer, .time, .servedInterval).
// Built with Sources/WebApp/URLEncoding.swift, Sources/MarketData/Interval.swift and UTCTime.swift.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data.assumingMemoryBound(to: UInt8.self), count: count)
    let query = String(decoding: bytes, as: UTF8.self)

    let fields = URLEncodedForm.fields(query)
    precondition(fields.count <= URLEncodedForm.maximumFields)
    precondition(fields.count <= query.utf8.count)
    for field in fields.prefix(3) {
        precondition(URLEncodedForm.firstValue(field.name, in: query) == fields.first { $0.name == field.name }?.value)
        // The validators, on every value the API might see.
        if let value = QueryValue.integer(field.value, in: -5...5_000) { precondition((-5...5_000).contains(value)) }
        if let time = QueryValue.time(field.value) { precondition((0...QueryValue.latestTime).contains(time)) }
        if let interval = QueryValue.servedInterval(field.value) {
            precondition(QueryValue.servedIntervals.contains(interval) && interval.rawValue == field.value)
        }
    }

    // Percent-encoding any text (as a browser does) and decoding it gives the text back; so does `+` for a space.
    let text = String(decoding: bytes.prefix(512), as: UTF8.self)
    let encoded = percentEncoded(text)
    precondition(URLEncodedForm.decodeComponent(Array(encoded.utf8)) == text)
    let form = "a=" + encoded + "&" + encoded + "=b&" + encoded
    let decoded = URLEncodedForm.fields(form)
    precondition(decoded.count == (encoded.isEmpty ? 2 : 3))
    precondition(decoded[0].name == "a" && decoded[0].value == text, "\(text) -> \(decoded)")
    if !encoded.isEmpty { precondition(decoded[1] == (text, "b") && decoded[2] == (text, "")) }
    return 0
}

/// `application/x-www-form-urlencoded` encoding: unreserved bytes kept, space as `+`, the rest as `%XX`.
func percentEncoded(_ text: String) -> String {
    var output: [UInt8] = []
    let hex = Array("0123456789ABCDEF".utf8)
    for byte in text.utf8 {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            output.append(byte)
        case UInt8(ascii: " "): output.append(UInt8(ascii: "+"))
        default: output += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 15)]]
        }
    }
    return String(decoding: output, as: UTF8.self)
}
