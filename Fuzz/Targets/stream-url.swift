// Fuzz target `stream-url`: WebSocketTarget(url:) (what a stream connection sends and connects to) and
// WebSocketTarget.isStreamBaseURL(_:) (what `run --stream-url` accepts). Built with
// Sources/MarketStreams/WebSocketTarget.swift.
// Besides totality: a target read from any text has a host, port and request line that cannot end a header or the
// request line early (visible ASCII only); and every base URL `run` accepts still makes a target once the connection
// adds its `/stream?streams=…`, with the same host and port, and its lower-case `url` reads back to the same target.
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafeRawPointer, _ count: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data.assumingMemoryBound(to: UInt8.self), count: count), as: UTF8.self)
    let direct = check(text)
    if WebSocketTarget.isStreamBaseURL(text) {
        guard let direct else { preconditionFailure("\(text) is accepted as --stream-url but makes no target") }
        // As StreamConnection builds it.
        let url = WebSocketTarget.streamURL(base: text, streams: ["btcusdt@kline_1m", "ethusdt@depth@100ms"])
        guard let streams = check(url) else { preconditionFailure("\(text) makes no target with its streams") }
        precondition(streams.host == direct.host && streams.port == direct.port && streams.secure == direct.secure)
        precondition(streams.hostHeader == direct.hostHeader)
        precondition(streams.requestTarget.hasSuffix("/stream?streams=btcusdt@kline_1m/ethusdt@depth@100ms"))
        // The URL handed to the client reads back as the same target (the client connects to what it names).
        precondition(check(streams.url) == streams, "\(streams.url) does not read back")
    }
    return 0
}

func check(_ url: String) -> WebSocketTarget? {
    do {
        let target = try WebSocketTarget(url: url)
        precondition(!target.host.isEmpty && (1...65_535).contains(target.port))
        precondition(
            target.host.unicodeScalars.allSatisfy {
                $0.properties.isASCIIHexDigit || ".-_:".unicodeScalars.contains($0) || ("a"..."z").contains($0) || ("A"..."Z").contains($0)
            })
        for part in [target.host, target.hostHeader, target.requestTarget] {
            precondition(part.unicodeScalars.allSatisfy { $0.value > 32 && $0.value < 127 }, "\(url): \(part) is not visible ASCII")
        }
        precondition(target.requestTarget.hasPrefix("/"))
        let shown = target.host.contains(":") ? "[\(target.host)]" : target.host
        precondition(target.hostHeader == shown || target.hostHeader == "\(shown):\(target.port)")
        return target
    } catch {
        // Compared as bytes: a combining mark at the start of the URL would join the prefix's last space.
        precondition(error.url == url && error.description.utf8.starts(with: "cannot open the stream connection ".utf8))
        return nil
    }
}
