import ExchangeSimulator
import Foundation
import Logging
import MarketData
import PipelineTesting
import Testing

@testable import MarketStreams

/// Stream connections sent from a chosen local address (`--source-address`), which Binance counts new connections by.
struct StreamConnectionTests {
    static let btc = try! Symbol("BTCUSDT")

    static func symbol(of message: StreamMessage?) -> Symbol? {
        switch message {
        case .kline(let event): event.symbol
        case .depth(let event): event.symbol
        default: nil
        }
    }

    /// Opens a connection to `baseURL`'s streams from `sourceAddress`, waits for its first message and ends it.
    static func firstMessage(baseURL: String, sourceAddress: String?) async throws -> StreamMessage? {
        let (commands, continuation) = AsyncStream<StreamConnection.Command>.makeStream()
        defer { continuation.finish() }
        let connection = StreamConnection(
            id: 1, baseURL: baseURL.replacingOccurrences(of: "http://", with: "ws://"), sourceAddress: sourceAddress,
            streams: [.kline(btc), .depth(btc)], commands: commands, clock: .system, logger: Logger(label: "test"))
        let (messages, delivered) = AsyncStream<StreamMessage>.makeStream()
        let task = Task {
            defer { delivered.finish() }
            try await connection.run(deliver: { delivered.yield($0) }, malformed: { _ in })
        }
        defer { task.cancel() }
        var iterator = messages.makeAsyncIterator()
        guard let first = await iterator.next() else {
            // The connection ended without a message: its error, if any, fails the test.
            try await task.value
            return nil
        }
        task.cancel()
        _ = await task.result
        return first
    }

    @Test(.enabled(if: hasSecondLoopbackAddress, "needs 127.0.0.2 (every 127/8 address is the loopback's on Linux)"))
    func aConnectionFromASourceAddressIsCountedUnderIt() async throws {
        let exchange = SimulatedExchange(configuration: .init(seed: 4, symbols: [Self.btc], historyMinutes: 10))
        let first = try await SimulatorServer.withRunning(exchange) { baseURL in
            try await Self.firstMessage(baseURL: baseURL, sourceAddress: "127.0.0.2")
        }
        #expect(Self.symbol(of: first) == Self.btc, "\(String(describing: first))")
        #expect(exchange.streamClients == ["127.0.0.2"])
    }

    @Test func withoutASourceAddressTheSystemChooses() async throws {
        let exchange = SimulatedExchange(configuration: .init(seed: 4, symbols: [Self.btc], historyMinutes: 10))
        let first = try await SimulatorServer.withRunning(exchange) { baseURL in
            try await Self.firstMessage(baseURL: baseURL, sourceAddress: nil)
        }
        #expect(Self.symbol(of: first) == Self.btc, "\(String(describing: first))")
        #expect(exchange.streamClients == ["127.0.0.1"])
    }

    /// A server that answers the upgrade with a plain HTTP response (here the simulator's own 404 for an unknown
    /// path) ends the bound connection with an error saying so, and an address that is not one is refused before
    /// connecting.
    @Test func boundConnectionsFailWithAReason() async throws {
        let exchange = SimulatedExchange(configuration: .init(seed: 4, symbols: [Self.btc], historyMinutes: 10))
        try await SimulatorServer.withRunning(exchange) { baseURL in
            let url = baseURL.replacingOccurrences(of: "http://", with: "ws://") + "/no-streams-here"
            let refused = await #expect(throws: WebSocketConnectError.self) {
                try await BoundWebSocket.connect(url: url, localAddress: "127.0.0.1", maxFrameSize: 1 << 16, logger: Logger(label: "test"))
                {
                    _, _, _ in
                }
            }
            #expect(refused?.reason == "the server did not upgrade to a WebSocket", "\(String(describing: refused))")
            let error = await #expect(throws: WebSocketConnectError.self) {
                try await BoundWebSocket.connect(
                    url: url, localAddress: "example.org", maxFrameSize: 1 << 16, logger: Logger(label: "test")
                ) {
                    _, _, _ in
                }
            }
            #expect(error?.description.contains("'example.org' is not an IP address") == true)
        }
        #expect(exchange.streamClients.isEmpty)
    }

    @Test func targetsAreReadFromWebSocketURLs() throws {
        let binance = try WebSocketTarget(url: "wss://data-stream.binance.vision/stream?streams=btcusdt@kline_1m/ethusdt@depth@100ms")
        #expect(binance.host == "data-stream.binance.vision" && binance.port == 443 && binance.secure)
        #expect(binance.requestTarget == "/stream?streams=btcusdt@kline_1m/ethusdt@depth@100ms")
        #expect(binance.hostHeader == "data-stream.binance.vision")
        let local = try WebSocketTarget(url: "ws://127.0.0.1:9443/ws/btcusdt%40kline_1m")
        #expect(local.host == "127.0.0.1" && local.port == 9443 && !local.secure)
        #expect(local.requestTarget == "/ws/btcusdt%40kline_1m" && local.hostHeader == "127.0.0.1:9443")
        let six = try WebSocketTarget(url: "ws://[::1]:8080")
        #expect(six.host == "::1" && six.hostHeader == "[::1]:8080" && six.requestTarget == "/")
        #expect(six.isIPv6 && !local.isIPv6 && six.url == "ws://[::1]:8080/")
        // The URL handed to swift-websocket's client has its scheme in lower case: it compares `wss` as given, and
        // would open `WSS://` unencrypted on port 80.
        let upper = try WebSocketTarget(url: "WSS://data-stream.binance.vision/stream?streams=btcusdt@kline_1m")
        #expect(upper.secure && upper.port == 443 && upper.url == "wss://data-stream.binance.vision/stream?streams=btcusdt@kline_1m")
        #expect(
            WebSocketTarget.streamURL(base: "ws://h:1/", streams: ["a@kline_1m", "b@depth@100ms"])
                == "ws://h:1/stream?streams=a@kline_1m/b@depth@100ms")
        #expect(WebSocketTarget.streamURL(base: "ws://h:1", streams: []) == "ws://h:1/stream")
        for bad in [
            "http://example.org/stream", "ws://", "ws://[]/", "ws://host:0/", "not a url", "wss://host:99999/", "ws://ho%0D%0Ast/",
            "ws://fe80::1%25eth0/", "ws://%5b/", "ws://a%2Fb/", "ws://[::g]/",
        ] {
            #expect(throws: WebSocketConnectError.self, "\(bad)") { try WebSocketTarget(url: bad) }
        }
        // A space or control character never reaches the request line raw: Foundation percent-encodes it (Linux) or
        // refuses the URL, and a target that would still carry one is refused.
        for (hostile, encoded) in [
            ("ws://host/a b", "/a%20b"), ("ws://host/a\r\nX-Injected: 1", "/a%0D%0AX-Injected:%201"), ("ws://host/\u{1B}[2J", "/%1B%5B2J"),
        ] {
            do {
                #expect(try WebSocketTarget(url: hostile).requestTarget == encoded)
            } catch {
                #expect(error.description.hasPrefix("cannot open the stream connection"))
            }
        }
        // What `run --stream-url` accepts, and with the streams added, makes a target; what it refuses may not.
        for good in ["wss://data-stream.binance.vision", "ws://127.0.0.1:9443/", "ws://[::1]:8080/base"] {
            #expect(WebSocketTarget.isStreamBaseURL(good), "\(good)")
            #expect(throws: Never.self, "\(good)") { try WebSocketTarget(url: good + "/stream?streams=btcusdt@kline_1m") }
        }
        for bad in ["https://x", "ws://host:99999", "ws://u:p@host", "ws://host/?q", "ws://[::1", "ws://host/a b", "ws://:80"] {
            #expect(!WebSocketTarget.isStreamBaseURL(bad), "\(bad)")
        }
    }
}
