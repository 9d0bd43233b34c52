// Fuzz target `s3-xml`: S3XMLElement.parse and the walks S3ObjectStore does over its answers (ListObjectsV2 pages,
// Error bodies, DeleteResult), plus escape → parse of element text.
// Built with Sources/DataLake/S3/S3XML.swift (the store itself needs
// AsyncHTTPClient, so its reading code is mirrored here).

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data.assumingMemoryBound(to: UInt8.self), count: count))

    if let root = try? S3XMLElement.parse(bytes) {
        precondition(!root.name.isEmpty)
        // ListObjectsV2, as S3ObjectStore.list reads a page.
        for object in root.children("Contents") {
            _ = object.value("Key")
            _ = object.value("Size").flatMap(Int.init)
            _ = object.value("ETag")
        }
        _ = root.children("CommonPrefixes").compactMap { $0.value("Prefix") }
        _ = root.value("IsTruncated") == "true" ? root.value("NextContinuationToken") : nil
        // Error bodies and DeleteResult failures.
        if root.name == "Error" { _ = (root.value("Code"), root.value("Message")) }
        if let failure = root.children("Error").first { _ = (failure.value("Key"), failure.value("Code"), failure.value("Message")) }
        var stack = [root]
        var elements = 0
        while let element = stack.popLast() {
            elements += 1
            stack += element.children
        }
        precondition(elements <= count)
    }

    // Whatever text an element carries survives escape → parse (the DeleteObjects body is built this way).
    let text = String(decoding: bytes, as: UTF8.self)
    let document = Array("<Key>\(S3XMLElement.escape(text))</Key>".utf8)
    guard let key = try? S3XMLElement.parse(document) else { preconditionFailure("escaped text does not parse: \(text)") }
    precondition(key.name == "Key" && key.text == text && key.children.isEmpty, "escape → parse changed \(text)")
    return 0
}
