// Fuzz target `envelope`: RawEnvelope.decode, and encode → decode of whatever it accepts; LakeLayout.parse of the same
// bytes as an object name and as a bare file name, and objectKey → parse of whatever it accepts.
// Built with Sources/MarketData/*.swift, Sources/DataLake/RawEnvelope.swift and LakeLayout.swift.

/// Where iso8601 prints a four-digit year, so `captured_at` reads back exactly.
let fourDigitYears: ClosedRange<Int64> = -62_135_596_800_000...253_402_300_799_999

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafeRawPointer, _ count: Int) -> CInt {
    let buffer = UnsafeBufferPointer(start: data.assumingMemoryBound(to: UInt8.self), count: count)
    // A bare file name (what the original system's processed_files records) names a real time too.
    if let name = LakeLayout.parse(name: String(decoding: buffer, as: UTF8.self)) {
        precondition((0...UTCTime.latest).contains(name.capturedAt))
    }
    if let name = LakeLayout.parse(key: String(decoding: buffer, as: UTF8.self)) {
        // A name's capture is a real time, its folder within a day of it, and our own name for it reads back the same.
        precondition((0...UTCTime.latest).contains(name.capturedAt))
        let ours = LakeLayout.objectKey(symbol: name.symbol, type: name.type, capturedAt: name.capturedAt)
        let again = LakeLayout.parse(key: ours)
        precondition(again?.capturedAt == name.capturedAt && again?.symbol == name.symbol && again?.type == name.type, ours)
    }
    // The byte-by-byte reading of the usual shape agrees with the general one wherever it answers.
    let key = String(decoding: buffer, as: UTF8.self)
    if let fast = LakeLayout.parseUsualShape(key) { precondition(LakeLayout.parseAnyShape(key) == fast, key) }
    guard let envelope = try? RawEnvelope.decode(buffer) else { return 0 }
    precondition(envelope.dataRange.lowerBound >= 0 && envelope.dataRange.upperBound <= count)
    precondition(envelope.type != .klines || envelope.interval != nil)
    let payload = Array(buffer[envelope.dataRange])
    guard fourDigitYears.contains(envelope.capturedAt) else { return 0 }
    let encoded = RawEnvelope.encode(
        symbol: envelope.symbol, capturedAt: envelope.capturedAt, type: envelope.type, interval: envelope.interval, data: payload)
    encoded.withUnsafeBufferPointer { encodedBuffer in
        guard let again = try? RawEnvelope.decode(encodedBuffer) else {
            preconditionFailure("re-encoded envelope does not decode: \(String(decoding: encoded, as: UTF8.self))")
        }
        precondition(again.symbol == envelope.symbol && again.capturedAt == envelope.capturedAt)
        precondition(again.type == envelope.type && again.interval == envelope.interval)
        precondition(Array(encodedBuffer[again.dataRange]) == payload)
    }
    return 0
}
