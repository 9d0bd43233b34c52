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

    private enum Upgrade: Sendable {
        case websocket(NIOAsyncChannel<WebSocketFrame, WebSocketFrame>)
        case notUpgraded
    }

    /// How long the TCP connection, TLS and the HTTP upgrade may take together.
    static let handshakeTimeout: TimeAmount = .seconds(30)

    /// Connects to `url` from `localAddress` (an IP literal, port chosen by the system) and runs `handler` on the
    /// connection until either side ends it. A connection that is refused, not upgraded, not done within
    /// ``handshakeTimeout`` or cancelled meanwhile is closed before this throws.
    static func connect(
        url: String, localAddress: String, maxFrameSize: Int, logger: Logger, handler: @escaping WebSocketDataHandler<Context>
    ) async throws {
        let target = try WebSocketTarget(url: url)
        let local: SocketAddress
        do {
            local = try SocketAddress(ipAddress: localAddress, port: 0)
        } catch {
            throw WebSocketConnectError(url: url, reason: "'\(localAddress)' is not an IP address to send from")
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
            throw WebSocketConnectError(url: url, reason: "\(error) (sending from \(localAddress))")
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
            throw WebSocketConnectError(url: url, reason: "the WebSocket handshake failed: \(error)")
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
            throw WebSocketConnectError(url: url, reason: "the server did not upgrade to a WebSocket")
        }
    }
}
