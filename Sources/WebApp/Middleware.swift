import DataLake
import Exchange
import HTTPTypes
public import Hummingbird
import Logging
import Pipeline
import Prometheus
import Warehouse

/// Gives every request an id of ours (any `X-Request-Id` the client sent is replaced, so log lines cannot be forged
/// into another request's), visible to handlers in the request's headers and answered in the response's.
struct RequestIdentity<Context: RequestContext>: RouterMiddleware {
    // A valid literal field name.
    // swift-format-ignore: NeverForceUnwrap
    static var headerName: HTTPField.Name { HTTPField.Name("X-Request-Id")! }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let id = String(UInt64.random(in: 1...UInt64.max), radix: 16)
        var head = request.head
        head.headerFields[Self.headerName] = id
        var response = try await next(Request(head: head, body: request.body), context)
        response.headers[Self.headerName] = id
        return response
    }
}

/// The id ``RequestIdentity`` gave `request`.
func requestID(of request: Request) -> String { request.headers[RequestIdentity<WebRequestContext>.headerName] ?? "none" }

/// Turns every failure into the API's JSON error shape: unknown routes 404, a known path with another method 405, and
/// anything failing on our side a 5xx that says only what kind of failure it was and the request id: the detail (a
/// database's user@host, a file path) goes to the log under that id, never to the client.
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    let routes: RouteBook
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError where error.status.code < 500 {
            return try error.response(from: request, context: context)
        } catch let error as HTTPError where error.status == .notFound && !routes.serves(request) {
            let methods = routes.methods(servingPath: Substring(request.uri.path))
            if !methods.isEmpty {
                let allowed = methods.map(\.rawValue).joined(separator: ", ")
                var headers = HTTPFields()
                headers[.allow] = allowed
                return try APIError(
                    .methodNotAllowed, code: "method_not_allowed", "\(request.method.rawValue) is not allowed here; use \(allowed)",
                    headers: headers
                ).response(from: request, context: context)
            }
            let path = request.uri.path
            if !path.hasPrefix("/api/"), path != "/metrics", request.headers[.accept]?.contains("text/html") == true {
                let page =
                    "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Not found · CryptoPipe</title>"
                    + "<link rel=\"stylesheet\" href=\"/assets/app.css\"></head><body><main><h1>Not found</h1><p>There is no page at "
                    + SVG.escape(path) + ". <a href=\"/\">Go to the dashboard</a>.</p></main></body></html>"
                return Response.html(page, status: .notFound)
            }
            return try APIError(
                .notFound, code: "not_found", "no such endpoint: \(path); see /api/openapi.json for the API"
            ).response(from: request, context: context)
        } catch let error as any HTTPResponseError where error.status.code < 500 {
            let code = error.status.reasonPhrase.lowercased().replacingOccurrences(of: " ", with: "_")
            let message = (error as? HTTPError)?.body ?? error.status.reasonPhrase
            return try APIError(error.status, code: code, message).response(from: request, context: context)
        } catch {
            let failure = Self.failure(for: error)
            let requestID = requestID(of: request)
            logger.error(
                "request failed",
                metadata: [
                    "http.path": "\(request.uri.path)", "http.request_id": "\(requestID)", "http.status": "\(failure.status.code)",
                    "error": "\(error)",
                ])
            return try failure.serverFailure(requestID: requestID).response(from: request, context: context)
        }
    }
}

extension JSONErrorMiddleware {
    /// The status and code a server-side failure is answered with, by what failed: the warehouse, the lake or the
    /// exchange (a pipeline error says which); the detail stays in the log.
    static func failure(for error: any Error) -> APIError {
        switch (error as? PipelineError)?.underlying ?? error {
        case let error as APIError: error
        case let error as WarehouseError where error.code == .invalidData:
            APIError(.internalServerError, code: "warehouse_data_invalid", "")
        case is WarehouseError: APIError(.serviceUnavailable, code: "warehouse_unavailable", "")
        case is ObjectStoreError: APIError(.serviceUnavailable, code: "lake_unavailable", "")
        case is ExchangeError: APIError(.badGateway, code: "exchange_unavailable", "")
        case let error as any HTTPResponseError: APIError(error.status, code: "server_error", "")
        default: APIError(.internalServerError, code: "internal_error", "")
        }
    }
}

/// Counts requests and records their latency per route template, method and status.
struct HTTPMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let registry: PrometheusCollectorRegistry
    static var buckets: [Duration] {
        [
            .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(20),
            .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(5),
        ]
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let response = try await next(request, context)
        // Unrouted requests are counted under one label (Hummingbird's not-found responder names them "NotFound"), not
        // under their paths, which a client could vary without end.
        let route = context.endpointPath ?? "NotFound"
        let labels = [("route", route), ("method", request.method.rawValue)]
        registry.makeCounter(
            descriptor: MetricNameDescriptor(
                namespace: "cryptopipe", metricName: "http_requests", unitName: "total",
                helpText: "HTTP requests answered, by route template, method and status"),
            labels: labels + [("status", String(response.status.code))]
        ).increment()
        registry.makeDurationHistogram(
            descriptor: MetricNameDescriptor(
                namespace: "cryptopipe", metricName: "http_request_duration", unitName: "seconds",
                helpText: "Time to produce the response head, by route template and method"),
            labels: labels, buckets: Self.buckets
        ).record(ContinuousClock.now - start)
        return response
    }
}
