public import HTTPTypes
public import Hummingbird

/// One registered endpoint: method and OpenAPI-style path (`/api/candlestick/{symbol}`).
public struct APIRoute: Sendable, Hashable, CustomStringConvertible {
    public var method: HTTPRequest.Method
    public var path: String

    public var description: String { "\(method.rawValue) \(path)" }

    /// The same path in Hummingbird's syntax (`/api/candlestick/:symbol`).
    var routerPath: String {
        path.split(separator: "/", omittingEmptySubsequences: false).map { segment in
            segment.hasPrefix("{") && segment.hasSuffix("}") ? ":" + segment.dropFirst().dropLast() : segment
        }.joined(separator: "/")
    }

    /// Whether a concrete request path matches this route's template.
    func matches(path requestPath: Substring) -> Bool {
        let template = path.split(separator: "/", omittingEmptySubsequences: false)
        let actual = requestPath.split(separator: "/", omittingEmptySubsequences: false)
        guard template.count == actual.count else { return false }
        return zip(template, actual).allSatisfy { pattern, segment in
            (pattern.hasPrefix("{") && !segment.isEmpty) || pattern == segment
        }
    }
}

/// Records every route as it is added to the router, so the OpenAPI test and the 405 answers know exactly what the
/// router serves.
public final class RouteBook: @unchecked Sendable {
    // Written only while the router is built (one thread), read afterwards.
    public private(set) var routes: [APIRoute] = []

    init() {}

    func add<Context: RequestContext>(
        _ method: HTTPRequest.Method, _ path: String, to router: Router<Context>,
        _ handler: @escaping @Sendable (Request, Context) async throws -> Response
    ) {
        let route = APIRoute(method: method, path: path)
        routes.append(route)
        router.on(RouterPath(route.routerPath), method: method, use: handler)
    }

    /// Whether a route was added for the request's method and path: a 404 from the router for a request it does not
    /// serve means no route matched. (HEAD is served only where a route says so: the router does not add HEAD routes.)
    func serves(_ request: Request) -> Bool {
        methods(servingPath: Substring(request.uri.path)).contains(request.method)
    }

    /// Methods served at a concrete path, for `405 Method Not Allowed` and its `Allow` header.
    func methods(servingPath path: Substring) -> [HTTPRequest.Method] {
        routes.filter { $0.matches(path: path) }.map(\.method)
    }
}
