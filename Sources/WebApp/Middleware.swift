import HTTPTypes
public import Hummingbird
import Logging
import Pipeline
import Prometheus
import Warehouse

/// Turns every failure into the API's JSON error shape: unknown routes 404, a known path with another method 405, and
/// anything unexpected a logged 500 that says nothing about internals.
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    let routes: RouteBook
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return try error.response(from: request, context: context)
        } catch let error as HTTPError where error.status == .notFound && context.endpointPath == "NotFound" {
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
        } catch let error as WarehouseError {
            logger.error("warehouse failed", metadata: ["http.path": "\(request.uri.path)", "error": "\(error)"])
            return try APIError(.serviceUnavailable, code: "warehouse_unavailable", error.description)
                .response(from: request, context: context)
        } catch let error as PipelineError {
            logger.error("pipeline failed", metadata: ["http.path": "\(request.uri.path)", "error": "\(error)"])
            return try APIError(.serviceUnavailable, code: "warehouse_unavailable", error.description)
                .response(from: request, context: context)
        } catch let error as any HTTPResponseError {
            let code = error.status.reasonPhrase.lowercased().replacingOccurrences(of: " ", with: "_")
            let message = (error as? HTTPError)?.body ?? error.status.reasonPhrase
            return try APIError(error.status, code: code, message).response(from: request, context: context)
        } catch {
            logger.error("request failed", metadata: ["http.path": "\(request.uri.path)", "error": "\(error)"])
            return try APIError(.internalServerError, code: "internal_error", "the server failed to answer; see its log")
                .response(from: request, context: context)
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
