public import HTTPTypes
public import Hummingbird
import MarketData
import NIOCore

/// An API failure answered as `{"error": {"code": "...", "message": "..."}}` with its HTTP status.
public struct APIError: Error, HTTPResponseError, Sendable, CustomStringConvertible {
    public var status: HTTPResponse.Status
    /// Stable, machine-readable, snake_case.
    public var code: String
    /// One line for a person: what was wrong and what to do.
    public var message: String
    public var headers: HTTPFields
    /// Set on server-side failures (5xx) only: the id under which the log has the detail.
    public var requestID: String?

    public init(_ status: HTTPResponse.Status, code: String, _ message: String, headers: HTTPFields = [:]) {
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
    }

    public var description: String { "\(status.code) \(code): \(message)" }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var json = JSONWriter()
        json.object { json in
            json.key("error")
            json.object { json in
                json.key("code")
                json.string(code)
                json.key("message")
                json.string(message)
                if let requestID {
                    json.key("request_id")
                    json.string(requestID)
                }
            }
        }
        return Response.json(json.bytes, status: status, headers: headers)
    }

    /// The same failure as the client sees it: its status and code, a fixed message and the request id; the detail
    /// stays in the log.
    func serverFailure(requestID: String) -> APIError {
        let text =
            status == .serviceUnavailable
            ? "the service is temporarily unavailable; try again shortly"
            : "the server failed to answer"
        var failure = APIError(
            status, code: code, text + "; the server's log has the detail under request id \(requestID)", headers: headers)
        failure.requestID = requestID
        return failure
    }

    static func badRequest(_ code: String, _ message: String) -> APIError { APIError(.badRequest, code: code, message) }
    static func notFound(_ code: String, _ message: String) -> APIError { APIError(.notFound, code: code, message) }
}

extension Response {
    /// A JSON response from bytes a ``JSONWriter`` made.
    static func json(_ bytes: [UInt8], status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "application/json; charset=utf-8"
        fields[.cacheControl] = "no-store"
        return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    static func json(status: HTTPResponse.Status = .ok, _ body: (inout JSONWriter) -> Void) -> Response {
        var writer = JSONWriter()
        body(&writer)
        return json(writer.bytes, status: status)
    }
}
