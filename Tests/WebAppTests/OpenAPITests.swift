import Foundation
import HTTPTypes
import Testing

@testable import WebApp

/// The OpenAPI document is kept true: same operations as the router, every operation answers with a status it
/// documents, and every reference resolves.
struct OpenAPITests {
    @Test func theDocumentListsExactlyTheRoutesTheRouterServes() async throws {
        let fixture = try await APIFixture()
        defer { fixture.folder.remove() }
        let routes = WebApp.router(services: fixture.services).routes.routes
        let served = Set(routes.map { "\($0.method.rawValue) \($0.path)" })
        let documented = Set(OpenAPIDocument.routes.map { "\($0.method) \($0.path)" })
        #expect(served == documented, "served only: \(served.subtracting(documented)); documented only: \(documented.subtracting(served))")
        #expect(routes.count == served.count, "a route registered twice")
    }

    @Test func everyOperationAnswersWithADocumentedStatus() async throws {
        let fixture = try await APIFixture()
        defer { fixture.folder.remove() }
        try await fixture.loadMarket()
        let document = OpenAPIDocument.document
        let paths = try #require(document["paths"])
        try await fixture.withClient { client in
            for route in OpenAPIDocument.routes {
                let uri = route.path.replacingOccurrences(of: "{symbol}", with: "BTCUSDT").replacingOccurrences(
                    of: "{job}", with: "gap-fill")
                let method = HTTPRequest.Method(rawValue: route.method)!
                let body =
                    route.method == "PATCH" ? #"{"interval_seconds": 600}"# : route.method == "POST" ? #"{"symbol": "SOLUSDT"}"# : nil
                for token in [nil, APIFixture.token] {
                    let reply: APIFixture.Reply
                    if route.path.hasPrefix("/api/stream/") {
                        // A live stream ends when its lifetime has passed on the fixture's clock, moved until it has.
                        let done = Flag()
                        async let streamed = {
                            defer { done.state.withLock { $0 = true } }
                            return try await client.send(method, uri, token: token, body: body)
                        }()
                        while !done.state.withLock({ $0 }) {
                            fixture.clock.advance(by: .seconds(30))
                            try await Task.sleep(for: .milliseconds(2))
                        }
                        reply = try await streamed
                    } else {
                        reply = try await client.send(method, uri, token: token, body: body)
                    }
                    let operation = try #require(paths[route.path]?[route.method.lowercased()])
                    let responses = try #require(operation["responses"])
                    #expect(
                        responses[String(reply.status.code)] != nil, "\(route.method) \(uri) answered \(reply.status.code): \(reply.body)")
                    #expect(reply.status.code < 500 || reply.status == .serviceUnavailable, "\(route.method) \(uri): \(reply.body)")
                }
            }
        }
    }

    @Test func everyReferenceResolvesAndTheDocumentIsJSON() throws {
        let bytes = OpenAPIDocument.document.encoded
        let parsed = try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any]
        #expect(parsed?["openapi"] as? String == "3.1.0")
        let text = String(decoding: bytes, as: UTF8.self)
        let schemas = Set(OpenAPIDocument.schemas.map(\.0))
        let references = text.components(separatedBy: "#/components/schemas/").dropFirst().map { $0.prefix { $0 != "\"" } }
        #expect(!references.isEmpty)
        for reference in references { #expect(schemas.contains(String(reference)), "unresolved \(reference)") }
    }
}
