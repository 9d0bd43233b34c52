import HTTPTypes
public import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
public import Logging
import MarketData
public import NIOCore
import NIOPosix
import NIOWebSocket
public import ServiceLifecycle
import Synchronization

/// Serves a ``SimulatedExchange`` over HTTP with Binance's paths, statuses and headers.
public enum SimulatorServer {
    static let usedWeightHeader = HTTPField.Name("X-MBX-USED-WEIGHT-1M")!
    static let retryAfterHeader = HTTPField.Name("Retry-After")!

    /// The simulator's routes, for `app.test(.router)` and for the live server.
    public static func router(for exchange: SimulatedExchange) -> Router<SimulatorRequestContext> {
        let router = Router(context: SimulatorRequestContext.self)
        for path in ["/api/v3/ping", "/api/v3/time", "/api/v3/exchangeInfo", "/api/v3/klines", "/api/v3/depth"] {
            router.get(RouterPath(path)) { request, context -> Response in
                var query: [String: String] = [:]
                for (key, value) in request.uri.queryParameters { query[String(key)] = String(value) }
                return await deliver(exchange.handle(path: path, query: query, client: client(context.remoteAddress))) { exchange.now }
            }
        }
        return router
    }

    /// The address a client's weight and connections are counted under, as Binance counts them per IP.
    static func client(_ address: SocketAddress?) -> String { address?.ipAddress ?? SimulatedExchange.localClient }

    /// Sends a reply the way its delivery says: an injected fault can delay it, cut its body or drop the connection.
    /// Its `Date` header is the simulator's clock (`now`) when the answer leaves, which a replay or `--clock-offset`
    /// moves away from ours, as Binance's `Date` agrees with its `serverTime`.
    static func deliver(_ reply: SimulatedExchange.Reply, now: @Sendable () -> Int64) async -> Response {
        var headers: HTTPFields = [.contentType: "application/json;charset=UTF-8", .date: UTCTime.httpDate(now())]
        headers[usedWeightHeader] = String(reply.usedWeight)
        if let retryAfter = reply.retryAfterSeconds { headers[retryAfterHeader] = String(retryAfter) }
        let status = HTTPResponse.Status(code: reply.status)
        let body = ByteBuffer(bytes: reply.body)
        switch reply.delivery {
        case .normal:
            return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: body))
        case .delayed(let duration):
            // A client that timed out has gone; the late answer then goes nowhere, as with a real hung server.
            try? await Task.sleep(for: duration)
            headers[.date] = UTCTime.httpDate(now())
            return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: body))
        case .resetAfterHead:
            headers[.contentLength] = "1024"
            return Response(status: status, headers: headers, body: ResponseBody(contentLength: 1_024) { _ in throw InjectedFault() })
        case .cutAfter(let bytes):
            headers[.contentLength] = String(reply.body.count)
            let part = ByteBuffer(bytes: reply.body.prefix(bytes))
            return Response(
                status: status, headers: headers,
                body: ResponseBody(contentLength: reply.body.count) { writer in
                    try await writer.write(part)
                    throw InjectedFault()
                })
        }
    }

    /// One market-data WebSocket connection: its subscriptions' events on the simulator's clock, answers to its
    /// requests, closed at the end of its lifetime or when it breaks Binance's limits.
    static func serveStreams(
        _ exchange: SimulatedExchange, names: [String], combined: Bool, client: String, inbound: WebSocketInboundStream,
        outbound: WebSocketOutboundWriter
    ) async throws {
        let clock = exchange.configuration.clock
        let start = exchange.now
        var first = StreamSession(market: exchange.market, listed: exchange.configuration.symbols, combined: combined)
        guard exchange.admitStreamConnection(at: start, client: client) else {
            exchange.streamCounters.state.withLock { $0.refused += 1 }
            try await outbound.close(.policyViolation, reason: "more than 300 new connections in 5 minutes")
            return
        }
        do {
            try first.subscribe(names, at: start)
        } catch {
            exchange.streamCounters.state.withLock { $0.refused += 1 }
            try await outbound.close(.policyViolation, reason: String("\(error)".prefix(120)))
            return
        }
        let session = SharedSession(first)
        exchange.streamCounters.state.withLock {
            $0.connectionsOpened += 1
            $0.connectionsOpen += 1
        }
        defer { exchange.streamCounters.state.withLock { $0.connectionsOpen -= 1 } }
        let lifetime = EpochInstant.milliseconds(exchange.webSocketLifetime)
        let (deadline, overflow) = start.addingReportingOverflow(lifetime)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for try await message in inbound.messages(maxSize: 1 << 16) {
                    // Binary requests count against the message rate too, and are answered as malformed.
                    let text: String
                    switch message {
                    case .text(let value): text = value
                    case .binary: text = ""
                    }
                    let reply = session.state.withLock { session in
                        Result { () throws(StreamSession.Refusal) in try session.handle(Array(text.utf8), at: exchange.now) }
                    }
                    switch reply {
                    case .success(let bytes):
                        try await outbound.write(.custom(WebSocketFrame(fin: true, opcode: .text, data: ByteBuffer(bytes: bytes))))
                    case .failure(let refusal):
                        exchange.streamCounters.state.withLock { $0.refused += 1 }
                        try await outbound.close(.policyViolation, reason: String("\(refusal)".prefix(120)))
                        return
                    }
                }
            }
            group.addTask {
                var nextFaultDraw = start + 10_000
                while !Task.isCancelled {
                    let now = exchange.now
                    if !overflow, now >= deadline {
                        try await outbound.close(.normalClosure, reason: "connection lifetime reached")
                        return
                    }
                    if now >= nextFaultDraw {
                        nextFaultDraw = now + 10_000
                        if let fault = exchange.drawStreamFault() {
                            if fault == .streamDrop {
                                try await outbound.close(.goingAway, reason: "injected fault: ws-drop")
                                return
                            }
                            session.state.withLock { $0.inject(fault) }
                        }
                    }
                    let messages = session.state.withLock { $0.events(at: now) }
                    var bytes = 0
                    for message in messages {
                        bytes += message.count
                        try await outbound.write(.custom(WebSocketFrame(fin: true, opcode: .text, data: ByteBuffer(bytes: message))))
                    }
                    if !messages.isEmpty {
                        exchange.streamCounters.state.withLock {
                            $0.events += messages.count
                            $0.bytes += bytes
                        }
                    }
                    try await clock.sleep(for: .milliseconds((now / 100 + 1) * 100 - now))
                }
            }
            // Whichever side ends first (the client closed, the lifetime passed) ends the other.
            try await group.next()
            group.cancelAll()
        }
    }

    /// A connection's session, read by its receiving and its sending task.
    final class SharedSession: Sendable {
        let state: Mutex<StreamSession>
        init(_ session: StreamSession) { state = Mutex(session) }
    }

    /// Thrown while writing a body: the server then closes the connection mid-response.
    struct InjectedFault: Error {}

    /// A service serving `exchange` on `host:port` (port 0 picks a free port); `onListening` receives the bound port.
    /// Run it in a `ServiceGroup`.
    ///
    /// Hummingbird's `Application` stamps every response's `Date` with the wall clock; Binance's `Date` agrees with its
    /// `serverTime`, so the simulator runs its router on Hummingbird's HTTP/1 server directly and keeps the `Date` of
    /// its own clock.
    public static func application(
        exchange: SimulatedExchange, host: String = "127.0.0.1", port: Int = 0, logger: Logger,
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some Service {
        Server(
            responder: router(for: exchange).buildResponder(), exchange: exchange,
            configuration: ServerConfiguration(address: .hostname(host, port: port), serverName: "cryptopipe-simulator"), port: port,
            logger: logger, onListening: onListening)
    }

    struct Server<Responder: HTTPResponder>: Service where Responder.Context == SimulatorRequestContext {
        let responder: Responder
        let exchange: SimulatedExchange
        let configuration: ServerConfiguration
        let port: Int
        let logger: Logger
        let onListening: @Sendable (Int) async -> Void

        func run() async throws {
            let (responder, exchange, logger, port) = (responder, exchange, logger, port)
            // Binance pings every 20 s; the library answers the client's pongs and closes a connection that stops.
            let upgrade = HTTP1WebSocketUpgradeChannel.Configuration(
                ws: WebSocketServerConfiguration(maxFrameSize: 1 << 16, autoPing: .enabled(timePeriod: .seconds(20))))
            let server = try HTTPServerBuilder.http1WebSocketUpgrade(configuration: upgrade) { request, channel, _ in
                guard let path = request.path, let (names, combined) = StreamSession.streams(inPath: path) else { return .dontUpgrade }
                let client = SimulatorServer.client(channel.remoteAddress)
                return .upgrade([:]) { inbound, outbound, _ in
                    try await SimulatorServer.serveStreams(
                        exchange, names: names, combined: combined, client: client, inbound: inbound, outbound: outbound)
                }
            }.buildServer(
                configuration: configuration, eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: logger
            ) { (request, writer: consuming ResponseWriter, channel) in
                var response: Response
                do {
                    // The router answers its own errors (404, 405, HTTPError); what else escapes is a 500, as in
                    // Hummingbird's `Application`.
                    let context = SimulatorRequestContext(source: .init(channel: channel, logger: logger))
                    response = try await responder.respond(to: request, context: context)
                } catch {
                    logger.debug("simulator route failed", metadata: ["error": "\(error)"])
                    response = Response(status: .internalServerError)
                }
                if response.headers[.date] == nil { response.headers[.date] = UTCTime.httpDate(exchange.now) }
                response.headers[.server] = "cryptopipe-simulator"
                try await writer.write(response: response.head, body: response.body)
            } onServerRunning: { channel in
                await onListening(channel.localAddress?.port ?? port)
            }
            try await server.run()
        }
    }

    /// Runs a simulator on a free loopback port for the duration of `body`, then shuts it down gracefully.
    ///
    /// The server runs in a task of its own (on `executor` when given), waited for at most 30 s after `body`: a client
    /// that keeps a connection open without reading (a cancelled stream connection whose socket the event loop has not
    /// closed yet) must not hold the caller, a test or the demo, for the connection's lifetime. A server left running
    /// is cancelled and reported.
    public static func withRunning<Result: Sendable>(
        _ exchange: SimulatedExchange, logger: Logger = Logger(label: "simulator"), executor: (any TaskExecutor)? = nil,
        _ body: @Sendable (_ baseURL: String) async throws -> Result
    ) async throws -> Result {
        let (ports, listening) = AsyncStream<Int>.makeStream()
        let app = application(exchange: exchange, logger: logger) { port in
            listening.yield(port)
            listening.finish()
        }
        var configuration = ServiceGroupConfiguration(services: [app], gracefulShutdownSignals: [], logger: logger)
        // Open connections get 10 s to end on their own, then are cancelled.
        configuration.maximumGracefulShutdownDuration = .seconds(10)
        let group = ServiceGroup(configuration: configuration)
        let (ends, ended) = AsyncStream<(any Error)?>.makeStream()
        let server = Task(executorPreference: executor) {
            var failure: (any Error)?
            do { try await group.run() } catch { failure = error }
            listening.finish()
            ended.yield(failure)
            ended.finish()
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else {
            // The server ended before it listened (its error says why), or the caller was cancelled.
            server.cancel()
            if case .ended(let failure?) = await Self.end(of: ends, within: .seconds(30)) { throw failure }
            throw CancellationError()
        }
        let outcome: Swift.Result<Result, any Error>
        do {
            outcome = .success(try await body("http://127.0.0.1:\(port)"))
        } catch {
            outcome = .failure(error)
        }
        let stopping = ContinuousClock.now
        await group.triggerGracefulShutdown()
        let end = await Self.end(of: ends, within: .seconds(30))
        let took = ContinuousClock.now - stopping
        let metadata: Logger.Metadata = ["stream_connections_open": "\(exchange.streamStatistics.connectionsOpen)"]
        switch end {
        case .ended(let failure):
            if took > .seconds(5) { logger.warning("simulator: stopping the server took \(took)", metadata: metadata) }
            let value = try outcome.get()
            // A server that failed while the body ran fails the caller too, as the body's own error would.
            if let failure, !(failure is CancellationError) { throw failure }
            return value
        case .timedOut:
            server.cancel()
            logger.warning("simulator: the server did not stop within 30 s of the end; cancelled and left", metadata: metadata)
            return try outcome.get()
        case .cancelled:
            server.cancel()
            return try outcome.get()
        }
    }

    enum ServerEnd {
        case ended((any Error)?)
        case timedOut
        case cancelled
    }

    /// How the server's task ended, waiting at most `limit` (and not past the caller's cancellation).
    static func end(of ends: AsyncStream<(any Error)?>, within limit: Duration) async -> ServerEnd {
        await withTaskGroup(of: ServerEnd.self) { race in
            race.addTask {
                for await failure in ends { return .ended(failure) }
                return .cancelled
            }
            race.addTask {
                do {
                    try await Task.sleep(for: limit)
                    return .timedOut
                } catch {
                    return .cancelled
                }
            }
            let first = await race.next() ?? .cancelled
            race.cancelAll()
            return first
        }
    }
}

/// A request's context with the client's address: Binance counts request weight, 429s, bans and new stream connections
/// per IP, and so does the simulator.
public struct SimulatorRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }
}
