import HummingbirdWSClient
import Logging
import MarketData
import NIOCore
import NIOWebSocket
import WSCore

/// One WebSocket connection to Binance's combined-stream endpoint (`/stream`), subscribed to a set of streams.
///
/// It names the first streams in its URL and subscribes the rest with `SUBSCRIBE` requests of at most
/// ``streamsPerRequest`` streams, at most ``requestsPerSecond`` a second (Binance counts them against its 5 incoming
/// messages a second, with the pongs). Pings are answered by the WebSocket library.
struct StreamConnection: Sendable {
    static let streamsInURL = 100
    static let streamsPerRequest = 200
    static let requestsPerSecond = 3
    /// Frames and messages larger than this end the connection: a diff event of a whole deep book fits many times.
    static let maximumMessageBytes = 1 << 22

    enum Command: Sendable {
        case subscribe([StreamName])
        case unsubscribe([StreamName])
        /// `LIST_SUBSCRIPTIONS` with this id: its reply comes after every event the server sent before it, which tells
        /// the collector when a connection being replaced has delivered everything up to that moment.
        case marker(Int64)
    }

    let id: Int
    let baseURL: String
    /// The local IP address to connect from (`--source-address`); `nil` lets the system choose.
    var sourceAddress: String?
    let streams: [StreamName]
    let commands: AsyncStream<Command>
    let clock: PipelineClock
    let logger: Logger

    /// The URL the connection opens: `<base>/stream?streams=a/b/c`.
    static func url(base: String, streams: some Collection<StreamName>) -> String {
        WebSocketTarget.streamURL(base: base, streams: streams.map(\.description))
    }

    /// Connects and delivers every message until the connection ends (by the server, an error or cancellation).
    func run(
        deliver: @escaping @Sendable (StreamMessage) async -> Void, malformed: @escaping @Sendable (String) async -> Void
    )
        async throws
    {
        let target = try WebSocketTarget(url: Self.url(base: baseURL, streams: streams.prefix(Self.streamsInURL)))
        let body = session(deliver: deliver, malformed: malformed)
        // swift-websocket's client reads the URL itself, and cannot take an IPv6 address (it cuts the host at the first
        // `:`): those connections are made from the unspecified address, as the system would choose.
        if let local = sourceAddress ?? (target.isIPv6 ? "::" : nil) {
            try await BoundWebSocket.connect(
                url: target.url, localAddress: local, maxFrameSize: Self.maximumMessageBytes, logger: logger
            ) { inbound, outbound, _ in
                try await body(inbound, outbound)
            }
        } else {
            let configuration = WebSocketClientConfiguration(maxFrameSize: Self.maximumMessageBytes, autoPing: .disabled)
            // The URL as read, scheme in lower case: the client compares `wss` as given, and `WSS://` would go unencrypted.
            try await WebSocketClient.connect(url: target.url, configuration: configuration, logger: logger) { inbound, outbound, _ in
                try await body(inbound, outbound)
            }
        }
    }

    /// What the connection does once open, whichever client opened it: subscribes the streams beyond the URL's, sends
    /// the collector's commands, and delivers every message.
    private func session(
        deliver: @escaping @Sendable (StreamMessage) async -> Void, malformed: @escaping @Sendable (String) async -> Void
    ) -> @Sendable (WebSocketInboundStream, WebSocketOutboundWriter) async throws -> Void {
        let remaining = Array(streams.dropFirst(Self.streamsInURL))
        let (commands, clock) = (self.commands, self.clock)
        return { inbound, outbound in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    var requestID: Int64 = 0
                    func send(_ method: String, _ streams: [StreamName]) async throws {
                        for chunk in stride(from: 0, to: streams.count, by: Self.streamsPerRequest) {
                            requestID += 1
                            let names = streams[chunk..<min(chunk + Self.streamsPerRequest, streams.count)].map { "\"\($0)\"" }
                            let text = #"{"method":"\#(method)","params":[\#(names.joined(separator: ","))],"id":\#(requestID)}"#
                            try await outbound.write(.text(text))
                            try await clock.sleep(for: .milliseconds(1_000 / Self.requestsPerSecond + 1))
                        }
                    }
                    try await send("SUBSCRIBE", remaining)
                    for await command in commands {
                        switch command {
                        case .subscribe(let streams): try await send("SUBSCRIBE", streams)
                        case .unsubscribe(let streams): try await send("UNSUBSCRIBE", streams)
                        case .marker(let id):
                            try await outbound.write(.text(#"{"method":"LIST_SUBSCRIPTIONS","id":\#(id)}"#))
                            try await clock.sleep(for: .milliseconds(1_000 / Self.requestsPerSecond + 1))
                        }
                    }
                    // The collector dropped the connection: keep it until cancelled.
                    try await clock.sleep(for: .seconds(86_400 * 365))
                }
                group.addTask {
                    for try await message in inbound.messages(maxSize: Self.maximumMessageBytes) {
                        let bytes: [UInt8]
                        switch message {
                        case .text(let text): bytes = Array(text.utf8)
                        case .binary(let buffer): bytes = Array(buffer.readableBytesView)
                        }
                        do {
                            await deliver(try BinanceStreamCodec.decode(bytes))
                        } catch {
                            await malformed("\(error)")
                        }
                    }
                }
                // Either side ending (the server closed, the collector cancelled) ends the connection.
                try await group.next()
                group.cancelAll()
            }
        }
    }
}
