import HTTPTypes
public import Hummingbird
import HummingbirdCore
public import Logging
import MarketData
import NIOCore
import NIOPosix
public import ServiceLifecycle

/// Serves a ``SimulatedExchange`` over HTTP with Binance's paths, statuses and headers.
public enum SimulatorServer {
    static let usedWeightHeader = HTTPField.Name("X-MBX-USED-WEIGHT-1M")!
    static let retryAfterHeader = HTTPField.Name("Retry-After")!

    /// The simulator's routes, for `app.test(.router)` and for the live server.
    public static func router(for exchange: SimulatedExchange) -> Router<BasicRequestContext> {
        let router = Router()
        for path in ["/api/v3/ping", "/api/v3/time", "/api/v3/exchangeInfo", "/api/v3/klines", "/api/v3/depth"] {
            router.get(RouterPath(path)) { request, _ -> Response in
                var query: [String: String] = [:]
                for (key, value) in request.uri.queryParameters { query[String(key)] = String(value) }
                return await deliver(exchange.handle(path: path, query: query)) { exchange.now }
            }
        }
        return router
    }

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

    struct Server<Responder: HTTPResponder>: Service where Responder.Context == BasicRequestContext {
        let responder: Responder
        let exchange: SimulatedExchange
        let configuration: ServerConfiguration
        let port: Int
        let logger: Logger
        let onListening: @Sendable (Int) async -> Void

        func run() async throws {
            let (responder, exchange, logger, port) = (responder, exchange, logger, port)
            let server = try HTTPServerBuilder.http1().buildServer(
                configuration: configuration, eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: logger
            ) { (request, writer: consuming ResponseWriter, channel) in
                var response: Response
                do {
                    // The router answers its own errors (404, 405, HTTPError); what else escapes is a 500, as in
                    // Hummingbird's `Application`.
                    let context = BasicRequestContext(source: .init(channel: channel, logger: logger))
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
    public static func withRunning<Result: Sendable>(
        _ exchange: SimulatedExchange, logger: Logger = Logger(label: "simulator"),
        _ body: @Sendable (_ baseURL: String) async throws -> Result
    ) async throws -> Result {
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let app = application(exchange: exchange, logger: logger) { port in
            continuation.yield(port)
            continuation.finish()
        }
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: logger))
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else {
                try await tasks.waitForAll()
                throw CancellationError()
            }
            let outcome: Swift.Result<Result, any Error>
            do {
                outcome = .success(try await body("http://127.0.0.1:\(port)"))
            } catch {
                outcome = .failure(error)
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            return try outcome.get()
        }
    }
}
