import HTTPTypes
public import Hummingbird
import Logging
import NIOCore

/// Builds the HTTP router of the JSON API (and, with the dashboard, the pages) over the shared services.
public enum WebApp {
    public typealias Context = WebRequestContext

    /// The router and the book of every route it serves.
    public static func router(services: WebAppServices) -> (router: Router<Context>, routes: RouteBook) {
        router(api: API(services: services))
    }

    /// The router over `api`, which tests keep to look at its caches.
    static func router(api: API) -> (router: Router<Context>, routes: RouteBook) {
        let services = api.services
        let router = Router(context: Context.self)
        let routes = RouteBook()
        router.add(middleware: HTTPMetricsMiddleware(registry: services.metrics))
        router.add(middleware: RequestIdentity())
        router.add(middleware: JSONErrorMiddleware(routes: routes, logger: services.logger))
        let openAPI = OpenAPIDocument.document.encoded
        routes.add(.get, "/api/health", to: router) { try await api.health($0, $1) }
        routes.add(.get, "/api/candlestick/{symbol}", to: router) { try await api.candlestick($0, $1) }
        routes.add(.get, "/api/orderbook/{symbol}", to: router) { try await api.orderBook($0, $1) }
        routes.add(.get, "/api/stats/{symbol}", to: router) { try await api.statistics($0, $1) }
        routes.add(.get, "/api/indicators/{symbol}", to: router) { try await api.indicators($0, $1) }
        routes.add(.get, "/api/chart/{symbol}", to: router) { try await api.chart($0, $1) }
        routes.add(.get, "/api/dashboard/metrics", to: router) { try await api.dashboardMetrics($0, $1) }
        routes.add(.get, "/api/stream/candles", to: router) { try await api.allCandlesStream($0, $1) }
        routes.add(.get, "/api/stream/candles/{symbol}", to: router) { try await api.candleStream($0, $1) }
        routes.add(.get, "/api/pipeline/status", to: router) { try await api.pipelineStatus($0, $1) }
        routes.add(.get, "/api/pipeline/stats", to: router) { try await api.pipelineStats($0, $1) }
        routes.add(.get, "/api/ingestion/logs", to: router) { try await api.ingestionLogs($0, $1) }
        routes.add(.get, "/api/gaps/{symbol}", to: router) { try await api.gaps($0, $1) }
        routes.add(.get, "/api/scheduler", to: router) { try await api.scheduler($0, $1) }
        routes.add(.post, "/api/scheduler/{job}/enable", to: router) { try await api.setJobEnabled(true, $0, $1) }
        routes.add(.post, "/api/scheduler/{job}/disable", to: router) { try await api.setJobEnabled(false, $0, $1) }
        routes.add(.post, "/api/scheduler/{job}/trigger", to: router) { try await api.triggerJob($0, $1) }
        routes.add(.patch, "/api/scheduler/{job}", to: router) { try await api.patchJob($0, $1) }
        routes.add(.get, "/api/config/symbols", to: router) { try await api.listSymbols($0, $1) }
        routes.add(.post, "/api/config/symbols", to: router) { try await api.addSymbol($0, $1) }
        routes.add(.delete, "/api/config/symbols/{symbol}", to: router) { try await api.removeSymbol($0, $1) }
        routes.add(.get, "/api/config", to: router) { try await api.configuration($0, $1) }
        routes.add(.get, "/api/openapi.json", to: router) { _, _ in Response.json(openAPI) }
        routes.add(.get, "/metrics", to: router) { try await api.metrics($0, $1) }
        addPages(Pages(api: api), to: router)
        return (router, routes)
    }

    /// The pages and their form actions; not part of the JSON API's document.
    private static func addPages(_ pages: Pages, to router: Router<Context>) {
        router.get("/") { request, _ in await pages.dashboard(request) }
        router.get("/analytics") { request, _ in await pages.analytics(request) }
        router.get("/pipeline") { request, _ in await pages.pipeline(request) }
        router.get("/scheduler") { request, _ in await pages.scheduler(request) }
        router.get("/settings") { request, _ in await pages.settings(request) }
        router.get("/signin") { request, context in try await pages.signInPage(request, context) }
        router.post("/signin") { request, context in try await pages.signIn(request, context) }
        router.post("/signout") { request, _ in try await pages.signOut(request) }
        for action in ["enable", "disable", "trigger", "schedule"] {
            router.post("/scheduler/:job/\(action)") { request, context in try await pages.jobAction(request, context, action) }
        }
        router.post("/settings/symbols") { request, _ in try await pages.addSymbol(request) }
        router.post("/settings/symbols/:symbol/remove") { request, context in try await pages.removeSymbol(request, context) }
        router.get("/assets/app.css") { _, _ in asset(Assets.css, type: "text/css; charset=utf-8") }
        router.get("/assets/app.js") { _, _ in asset(Assets.javascript, type: "text/javascript; charset=utf-8") }
    }

    private static func asset(_ text: String, type: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = type
        headers[.cacheControl] = "public, max-age=300"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    /// The HTTP server as a service, for the process's ServiceGroup.
    public static func application(
        services: WebAppServices, host: String, port: Int, onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        Application(
            router: router(services: services).router,
            configuration: .init(address: .hostname(host, port: port), serverName: "cryptopipe"),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? port) },
            logger: services.logger)
    }
}
