import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOWebSocket
@_spi(WSInternal) import WSCore

/// A WebSocket client connection sent from one local address (`--source-address`).
///
/// swift-websocket's `WebSocketClient` connects from the system's choice of address and offers no way to bind, while
/// Binance limits new stream connections per IP. This makes the same client connection — NIO's HTTP upgrade, TLS with
/// the host's name, swift-websocket's frame handling (pongs, close handshake, frame-size limit) — on a bootstrap bound
/// to the address. The frame handling is swift-websocket's `WebSocketHandler` (SPI `WSInternal`, the entry point its
/// own client uses), so both paths behave alike; SPI is not covered by semantic versioning, so Package.swift allows
/// patch releases of swift-websocket only.
enum BoundWebSocket {
    struct Context: WebSocketContext {
        let logger: Logger
    }

    /// Why a bound connection could not be made, before any frame was exchanged.
    struct ConnectError: Error, CustomStringConvertible {
        let url: String
        let reason: String
        var description: String { "cannot open the stream connection \(url): \(reason)" }
    }

    private enum Upgrade: Sendable {
        case websocket(NIOAsyncChannel<WebSocketFrame, WebSocketFrame>)
        case notUpgraded
    }

    /// The parts of a `ws://` or `wss://` URL a connection needs.
    struct Target {
        var host: String
        var port: Int
        var secure: Bool
        /// Path and query, as sent in the request line.
        var requestTarget: String
        /// The `Host` header (the port only when it is not the scheme's own), also the `Origin`'s authority.
        var hostHeader: String

        init(url: String) throws(ConnectError) {
            guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
                scheme == "ws" || scheme == "wss", var host = components.host
            else { throw ConnectError(url: url, reason: "not a ws:// or wss:// URL with a host") }
            // `URLComponents` keeps IPv6 literals bracketed in `host` on some platforms and not on others.
            if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            // Host names and address literals only: what goes into a header must not carry a line break or a space.
            guard !host.isEmpty, host.unicodeScalars.allSatisfy({ $0.isASCII && $0.value > 32 && $0.value < 127 && $0 != "%" }) else {
                throw ConnectError(url: url, reason: "the host is empty or not a host name or address")
            }
            secure = scheme == "wss"
            let defaultPort = secure ? 443 : 80
            let port = components.port ?? defaultPort
            guard (1...65_535).contains(port) else { throw ConnectError(url: url, reason: "the port is not 1-65535") }
            self.host = host
            self.port = port
            let path = components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath
            requestTarget = components.percentEncodedQuery.map { path + "?" + $0 } ?? path
            let shownHost = host.contains(":") ? "[\(host)]" : host
            hostHeader = port == defaultPort ? shownHost : "\(shownHost):\(port)"
        }
    }

    /// How long the TCP connection, TLS and the HTTP upgrade may take together.
    static let handshakeTimeout: TimeAmount = .seconds(30)

    /// Connects to `url` from `localAddress` (an IP literal, port chosen by the system) and runs `handler` on the
    /// connection until either side ends it. A connection that is refused, not upgraded, not done within
    /// ``handshakeTimeout`` or cancelled meanwhile is closed before this throws.
    static func connect(
        url: String, localAddress: String, maxFrameSize: Int, logger: Logger, handler: @escaping WebSocketDataHandler<Context>
    ) async throws {
        let target = try Target(url: url)
        let local: SocketAddress
        do {
            local = try SocketAddress(ipAddress: localAddress, port: 0)
        } catch {
            throw ConnectError(url: url, reason: "'\(localAddress)' is not an IP address to send from")
        }
        let sslContext = target.secure ? try NIOSSLContext(configuration: .makeClientConfiguration()) : nil
        // Server name indication carries host names only.
        let serverName = (try? SocketAddress(ipAddress: target.host, port: 0)) == nil ? target.host : nil
        let origin = (target.secure ? "wss://" : "ws://") + target.hostHeader
        let connected: (any Channel, EventLoopFuture<Upgrade>)
        do {
            connected = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .channelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
                .connectTimeout(handshakeTimeout)
                .bind(to: local)
                .connect(host: target.host, port: target.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let upgrader = NIOTypedWebSocketClientUpgrader<Upgrade>(
                            maxFrameSize: maxFrameSize,
                            upgradePipelineHandler: { channel, _ in
                                channel.eventLoop.makeCompletedFuture {
                                    .websocket(try NIOAsyncChannel<WebSocketFrame, WebSocketFrame>(wrappingChannelSynchronously: channel))
                                }
                            })
                        var headers = HTTPHeaders()
                        headers.add(name: "Host", value: target.hostHeader)
                        headers.add(name: "Origin", value: origin)
                        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: target.requestTarget, headers: headers)
                        var pipeline = NIOUpgradableHTTPClientPipelineConfiguration(
                            upgradeConfiguration: NIOTypedHTTPClientUpgradeConfiguration(
                                upgradeRequestHead: head, upgraders: [upgrader],
                                notUpgradingCompletionHandler: { $0.eventLoop.makeCompletedFuture { Upgrade.notUpgraded } }))
                        pipeline.leftOverBytesStrategy = .forwardBytes
                        if let sslContext {
                            let tls = try NIOSSLClientHandler(context: sslContext, serverHostname: serverName)
                            try channel.pipeline.syncOperations.addHandler(tls, position: .first)
                        }
                        let upgrade = try channel.pipeline.syncOperations.configureUpgradableHTTPClientPipeline(configuration: pipeline)
                        return (channel, upgrade)
                    }
                }
        } catch {
            try Task.checkCancellation()
            throw ConnectError(url: url, reason: "\(error) (sending from \(localAddress))")
        }
        let (channel, upgrade) = connected
        // The upgrade's future does not follow cancellation and has no deadline of its own: closing the channel ends it.
        let deadline = channel.eventLoop.scheduleTask(in: handshakeTimeout) { channel.close(promise: nil) }
        let result: Upgrade
        do {
            result = try await withTaskCancellationHandler {
                try await upgrade.get()
            } onCancel: {
                channel.close(promise: nil)
            }
            deadline.cancel()
        } catch {
            deadline.cancel()
            channel.close(promise: nil)
            try Task.checkCancellation()
            throw ConnectError(url: url, reason: "the WebSocket handshake failed: \(error)")
        }
        switch result {
        case .websocket(let asyncChannel):
            // Errors from here on are swift-websocket's own (a close code for a frame too large, say), as on the
            // unbound path, whose client maps a few of them to `WebSocketClientError`; both are only logged.
            _ = try await WebSocketHandler.handle(
                type: .client,
                configuration: .init(extensions: [], autoPing: .disabled, validateUTF8: false, maxFrameSize: maxFrameSize),
                asyncChannel: asyncChannel, context: Context(logger: logger), handler: handler)
        case .notUpgraded:
            channel.close(promise: nil)
            throw ConnectError(url: url, reason: "the server did not upgrade to a WebSocket")
        }
    }
}
