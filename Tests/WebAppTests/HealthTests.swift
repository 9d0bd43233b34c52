import Foundation
import HTTPTypes
import MarketData
import PipelineTesting
import Testing

@testable import Exchange
@testable import Warehouse

/// `GET /api/health` answers 503 when a component is down — the exchange unreachable, a 418 ban, the warehouse gone —
/// and `/metrics` shows the ban. The exchange's state is what the process's own client recorded: here it is recorded
/// exactly as `BinanceClient` records an answer (`CLIPromiseTests` drives the real client in a running `cryptopipe run`).
struct HealthTests {
    typealias Fixture = APIFixture

    static func components(_ reply: Fixture.Reply) -> [String: [String: Any]] {
        reply.json["components"] as? [String: [String: Any]] ?? [:]
    }

    static func status(_ reply: Fixture.Reply, _ component: String) -> String? {
        components(reply)[component]?["status"] as? String
    }

    /// The value of `cryptopipe_exchange_banned` in a `/metrics` answer.
    static func banned(_ metrics: Fixture.Reply) -> Double? {
        metrics.body.split(separator: "\n").first { $0.hasPrefix("cryptopipe_exchange_banned ") }
            .flatMap { Double($0.split(separator: " ")[1]) }
    }

    @Test func aBanIs503WithItsEndAndShowsInMetricsUntilTheExchangeAnswersAgain() async throws {
        let fixture = try await Fixture()
        defer { fixture.folder.remove() }
        fixture.usage.recordSuccess(usedWeight: 12, at: fixture.clock.now)
        try await fixture.withClient { client in
            let health = try await client.send(.get, "/api/health")
            #expect(health.status == .ok && health.json["status"] as? String == "ok", "\(health.body)")
            #expect(Self.status(health, "exchange") == "ok")
            #expect(Self.banned(try await client.send(.get, "/metrics")) == 0)
        }

        // The exchange answered 418 with Retry-After: 120.
        let bannedAt = fixture.clock.now
        fixture.usage.recordFailure(
            ExchangeError(.banned(retryAfterSeconds: 120), endpoint: "/api/v3/klines?symbol=BTCUSDT"), usedWeight: 6_100, at: bannedAt)
        try await fixture.withClient { client in
            let health = try await client.send(.get, "/api/health")
            #expect(health.status == .serviceUnavailable && health.json["status"] as? String == "down", "\(health.body)")
            #expect(Self.status(health, "exchange") == "down")
            #expect(
                Self.components(health)["exchange"]?["detail"] as? String
                    == "IP banned by the exchange (HTTP 418) until \(UTCTime.iso8601(bannedAt + 120_000))")
            #expect(Self.status(health, "warehouse") == "ok" && Self.status(health, "lake") == "ok")
            let metrics = try await client.send(.get, "/metrics")
            #expect(metrics.status == .ok && Self.banned(metrics) == 1, "\(metrics.body)")
            let pipeline = try await client.send(.get, "/api/pipeline/status")
            #expect((pipeline.json["exchange"] as? [String: Any])?["banned"] as? Bool == true, "\(pipeline.body)")
        }

        // The ban is over and a request got an answer: healthy again, no ban in the metrics.
        fixture.clock.advance(milliseconds: 120_001)
        fixture.usage.recordSuccess(usedWeight: 2, at: fixture.clock.now)
        try await fixture.withClient { client in
            let health = try await client.send(.get, "/api/health")
            #expect(health.status == .ok && Self.status(health, "exchange") == "ok", "\(health.body)")
            #expect(Self.banned(try await client.send(.get, "/metrics")) == 0)
        }
    }

    @Test func anUnreachableExchangeIs503WithoutABan() async throws {
        let fixture = try await Fixture()
        defer { fixture.folder.remove() }
        fixture.usage.recordFailure(
            ExchangeError(.transport("connection refused"), endpoint: "/api/v3/klines?symbol=BTCUSDT"), usedWeight: nil,
            at: fixture.clock.now)
        try await fixture.withClient { client in
            let health = try await client.send(.get, "/api/health")
            #expect(health.status == .serviceUnavailable && health.json["status"] as? String == "down", "\(health.body)")
            #expect(Self.status(health, "exchange") == "down")
            #expect(Self.status(health, "warehouse") == "ok" && Self.status(health, "lake") == "ok")
            #expect(Self.banned(try await client.send(.get, "/metrics")) == 0)
        }
    }

    @Test func aWarehouseThatCannotBeReachedIs503AndTheDetailIsOnlyInTheLog() async throws {
        let fixture = try await Fixture()
        defer { fixture.folder.remove() }
        try fixture.warehouse.pool.close()
        try await fixture.withClient { client in
            let health = try await client.send(.get, "/api/health")
            #expect(health.status == .serviceUnavailable && health.json["status"] as? String == "down", "\(health.body)")
            #expect(Self.status(health, "warehouse") == "down" && Self.status(health, "lake") == "ok")
            let id = try #require(health.headers[HTTPField.Name("X-Request-Id")!])
            #expect(
                Self.components(health)["warehouse"]?["detail"] as? String
                    == "the warehouse cannot be reached; the server's log has the detail under request id \(id)")
            #expect(fixture.logs.all.contains { $0.contains("health: the warehouse is down") && $0.contains(id) }, "\(fixture.logs.all)")
        }
    }
}
