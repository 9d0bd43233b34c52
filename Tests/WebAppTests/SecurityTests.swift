import DataLake
import Exchange
import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import MarketData
import Pipeline
import PipelineTesting
import Testing

@testable import Warehouse
@testable import WebApp

/// What an anonymous or hostile client can and cannot do: sessions, anti-forgery, throttling, banners, bounded caches,
/// atomic changes and 5xx answers that say little.
struct SecurityTests {
    typealias Fixture = APIFixture

    @Test func sessionsLiveInTheWarehouseSurviveARestartAndEndWithSignOut() async throws {
        let fixture = try await Fixture()
        defer { fixture.folder.remove() }
        let signedIn = try await fixture.signedIn()
        #expect(signedIn.cookie.count == "cryptopipe_session=".count + 64)
        let secondSession = try await fixture.signedIn()
        #expect(secondSession.cookie != signedIn.cookie && secondSession.csrf != signedIn.csrf)
        // A new router over the same warehouse (a restart, or another process) knows the session.
        try await fixture.withClient { client in
            let page = try await client.send(.get, "/settings", cookie: signedIn.cookie)
            #expect(page.body.contains("signed in") && page.body.contains("value=\"\(signedIn.csrf)\""))
            // Another session's form token is not this session's.
            let crossed = try await client.send(
                .post, "/scheduler/gap-fill/disable", form: "csrf=\(secondSession.csrf)", cookie: signedIn.cookie)
            #expect(crossed.headers[.location]?.hasPrefix("/signin") == true)
            let signOut = try await client.send(.post, "/signout", form: "csrf=\(signedIn.csrf)", cookie: signedIn.cookie)
            #expect(signOut.headers[.location] == "/?notice=signed_out" && signOut.headers[.setCookie]?.contains("Max-Age=0") == true)
            // The copied cookie is worthless after sign-out.
            let copied = try await client.send(.get, "/settings", cookie: signedIn.cookie)
            #expect(!copied.body.contains("signed in") && !copied.body.contains("name=\"csrf\""))
            let replay = try await client.send(.post, "/scheduler/gap-fill/disable", form: "csrf=\(signedIn.csrf)", cookie: signedIn.cookie)
            #expect(replay.headers[.location]?.hasPrefix("/signin") == true)
            // The other session is untouched.
            let other = try await client.send(.get, "/settings", cookie: secondSession.cookie)
            #expect(other.body.contains("signed in"))
        }
        #expect(try await fixture.warehouse.jobSchedules().first { $0.job == "gap-fill" }?.enabled != false)
    }

    @Test func sessionsExpireWhenIdleFor12HoursAndAfter30DaysAtMost() async throws {
        let fixture = try await Fixture()
        defer { fixture.folder.remove() }
        let idle = try await fixture.signedIn()
        let busy = try await fixture.signedIn()
        try await fixture.withClient { client in
            @Sendable func isSignedIn(_ session: Fixture.Client.Session) async throws -> Bool {
                try await client.send(.get, "/settings", cookie: session.cookie).body.contains("signed in")
            }
            // Used every 11 hours, the busy session outlives the idle one.
            fixture.clock.advance(milliseconds: 11 * 3_600_000)
            let busyAt11 = try await isSignedIn(busy)
            fixture.clock.advance(milliseconds: 1 * 3_600_000)
            let idleAt12 = try await isSignedIn(idle)
            let busyAt12 = try await isSignedIn(busy)
            #expect(busyAt11 && !idleAt12 && busyAt12)
            var busyUntil30Days = true
            for _ in 0..<((30 * 24 - 12) / 11) {
                fixture.clock.advance(milliseconds: 11 * 3_600_000)
                busyUntil30Days = try await isSignedIn(busy) && busyUntil30Days
            }
            fixture.clock.advance(milliseconds: 11 * 3_600_000)
            let busyAfter30Days = try await isSignedIn(busy)
            #expect(busyUntil30Days && !busyAfter30Days)
        }
        #expect(try await fixture.warehouse.deleteExpiredSessions(idleBefore: .max, createdBefore: .max) == 0)
    }

    @Test func theCookieIsSecureBehindHTTPSOrWithAnHTTPSPublicURL() async throws {
        let fixture = try await Fixture()
        defer { fixture.folder.remove() }
        try await fixture.withClient { client in
            var proxied = HTTPFields()
            proxied[HTTPField.Name("X-Forwarded-Proto")!] = "https"
            let behindProxy = try await client.signIn(headers: proxied)
            let plain = try await client.signIn()
            #expect(behindProxy.setCookie.contains("; Secure") && !plain.setCookie.contains("Secure"))
        }
        let public_ = try await Fixture(publicURL: "https://pipe.example.com")
        defer { public_.folder.remove() }
        let secured = try await public_.signedIn()
        #expect(secured.setCookie.contains("; Secure"))
    }

    @Test func bannersComeFromFixedCodesNeverFromTheURL() async throws {
        let fixture = try await Fixture()
        defer { fixture.folder.remove() }
        try await fixture.withClient { client in
            for path in [
                "/?error=Your%20account%20is%20locked", "/settings?notice=Send%20your%20token%20to%20evil", "/signin?error=%3Cb%3Ehi",
                "/?notice=changes_disabled", "/?error=signed_in",
            ] {
                let page = try await client.send(.get, path)
                #expect(page.status == .ok)
                #expect(!page.body.contains("role=\"alert\"") && !page.body.contains("role=\"status\""), "\(path)")
                #expect(!page.body.contains("locked") && !page.body.contains("evil") && !page.body.contains("hi<"))
            }
            let known = try await client.send(.get, "/?notice=signed_in")
            #expect(known.body.contains("<div class=\"notice\" role=\"status\">Signed in.</div>"))
            let error = try await client.send(.get, "/settings?error=signin_required")
            #expect(error.body.contains("role=\"alert\">Sign in to make changes.</div>"))
        }
    }

    @Test func tenFailedSignInsInAMinuteAreThrottledEvenForTheRightToken() async throws {
        let fixture = try await Fixture()
        defer { fixture.folder.remove() }
        try await fixture.withClient { client in
            for _ in 0..<10 {
                #expect(try await client.send(.post, "/signin", form: "token=guess").status == .unauthorized)
            }
            for _ in 0..<3 {
                let refused = try await client.send(.post, "/signin", form: "token=\(Fixture.token)")
                #expect(refused.status == .tooManyRequests && refused.errorCode == "too_many_failures")
                #expect(refused.headers[.retryAfter] == "60" && refused.headers[.setCookie] == nil)
                let bearer = try await client.send(.post, "/api/config/symbols", token: Fixture.token, body: "{\"symbol\":\"SOLUSDT\"}")
                #expect(bearer.status == .tooManyRequests)
            }
            fixture.clock.advance(milliseconds: 45_000)
            #expect(try await client.send(.post, "/signin", form: "token=\(Fixture.token)").headers[.retryAfter] == "15")
            fixture.clock.advance(milliseconds: 15_000)
            #expect(try await client.send(.post, "/signin", form: "token=\(Fixture.token)").status == .seeOther)
        }
        #expect(fixture.logs.all.filter { $0.contains("too many failed sign-ins") }.count == 1)
    }

    @Test func concurrentGuessesCannotSlipPastTheThrottle() async throws {
        let fixture = try await Fixture()
        defer { fixture.folder.remove() }
        try await fixture.withClient { client in
            let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for index in 0..<30 {
                    group.addTask {
                        index % 2 == 0
                            ? try await client.send(.post, "/signin", form: "token=guess\(index)").status
                            : try await client.send(.post, "/api/config/symbols", token: "guess-\(index)", body: "{}").status
                    }
                }
                return try await group.reduce(into: [HTTPResponse.Status]()) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == .unauthorized }.count == 10, "\(statuses)")
            #expect(statuses.filter { $0 == .tooManyRequests }.count == 20)
        }
    }

    /// `demo`'s printed link: it signs in and redirects at once, so the token leaves the address bar; a wrong one is a
    /// counted failure. Elsewhere (`run`, `serve`) a token in the URL is ignored: operators' tokens stay out of URLs.
    @Test func theDemosSignInLinkSignsInAndRedirectsWithoutTheToken() async throws {
        let fixture = try await Fixture(signInLinks: true)
        defer { fixture.folder.remove() }
        try await fixture.withClient { client in
            let signedIn = try await client.send(.get, "/signin?token=\(Fixture.token)&next=/scheduler")
            #expect(signedIn.status == .seeOther && signedIn.headers[.location] == "/scheduler?notice=signed_in")
            #expect(signedIn.headers[.referrerPolicy] == "same-origin")
            let setCookie = try #require(signedIn.headers[.setCookie])
            #expect(setCookie.hasPrefix("cryptopipe_session=") && setCookie.contains("HttpOnly"))
            let cookie = String(try #require(setCookie.split(separator: ";").first))
            let page = try await client.send(.get, "/scheduler", cookie: cookie)
            #expect(page.body.contains("signed in") && page.body.contains("name=\"csrf\""))
            #expect(!page.body.contains(" disabled>"), "controls stay disabled after the link")

            for _ in 0..<10 {
                let wrong = try await client.send(.get, "/signin?token=guess-0123456789abcdef")
                #expect(wrong.status == .unauthorized && wrong.headers[.setCookie] == nil)
                #expect(wrong.body.contains("not the admin token") && !wrong.body.contains("guess-0123456789abcdef"))
            }
            let throttled = try await client.send(.get, "/signin?token=\(Fixture.token)")
            #expect(throttled.status == .tooManyRequests && throttled.headers[.setCookie] == nil)
        }
        let operatorToken = try await Fixture()
        defer { operatorToken.folder.remove() }
        try await operatorToken.withClient { client in
            let form = try await client.send(.get, "/signin?token=\(Fixture.token)")
            #expect(form.status == .ok && form.headers[.setCookie] == nil && form.body.contains("name=\"token\""))
        }
    }

    /// A session belongs to the admin token it was opened with: starting with another token (an operator's after a
    /// demo's, a rotated one) ends them all; the same token, as another process on the warehouse has it, keeps them.
    @Test func sessionsEndWhenTheAdminTokenChanges() async throws {
        let fixture = try await Fixture()
        defer { fixture.folder.remove() }
        #expect(try await fixture.services.endSessionsOfAnotherAdminToken() == false)
        let session = try await fixture.signedIn()
        #expect(try await fixture.services.endSessionsOfAnotherAdminToken() == false)
        let fingerprint = try #require(try await fixture.warehouse.setting("web.sessions.admin_token"))
        #expect(!fingerprint.contains(Fixture.token))
        try await fixture.withClient { client in
            let page = try await client.send(.get, "/settings", cookie: session.cookie)
            #expect(page.body.contains("signed in"))
        }
        var rotated = fixture.services
        rotated.adminToken = "another-admin-token-0123456789"
        #expect(try await rotated.endSessionsOfAnotherAdminToken() == true)
        try await fixture.withClient { client in
            let page = try await client.send(.get, "/settings", cookie: session.cookie)
            #expect(!page.body.contains("signed in"))
        }
    }

    @Test func signingInAgainEndsTheSessionTheBrowserHad() async throws {
        let fixture = try await Fixture()
        defer { fixture.folder.remove() }
        let first = try await fixture.signedIn()
        try await fixture.withClient { client in
            let again = try await client.send(.post, "/signin", form: "token=\(Fixture.token)", cookie: first.cookie)
            #expect(again.status == .seeOther && again.headers[.setCookie] != nil)
            let old = try await client.send(.get, "/settings", cookie: first.cookie)
            #expect(!old.body.contains("signed in"))
        }
    }

    @Test func wrongBearerTokensAreThrottledToo() async throws {
        let fixture = try await Fixture()
        defer { fixture.folder.remove() }
        try await fixture.withClient { client in
            for _ in 0..<10 {
                let wrong = try await client.send(
                    .post, "/api/config/symbols", token: "wrong-token-0123456789", body: "{\"symbol\":\"SOLUSDT\"}")
                #expect(wrong.status == .unauthorized)
            }
            let refused = try await client.send(.post, "/api/config/symbols", token: Fixture.token, body: "{\"symbol\":\"SOLUSDT\"}")
            #expect(refused.status == .tooManyRequests && refused.headers[.retryAfter] == "60")
        }
        #expect(try await fixture.warehouse.setting("symbols") != "BTCUSDT,ETHUSDT,SOLUSDT")
    }

    @Test func theThrottleForgetsQuietClientsWhenItHoldsTooMany() {
        let throttle = FailureThrottle()
        for index in 0..<FailureThrottle.maximumClients { throttle.recordFailure(of: "10.0.\(index)", now: 0) }
        throttle.recordFailure(of: "192.0.2.1", now: 120_000)
        #expect(throttle.clientCount == 1)
        for _ in 0..<10 { throttle.recordFailure(of: "192.0.2.2", now: 120_000) }
        #expect(throttle.refusal(for: "192.0.2.2", now: 120_001)?.retryAfterSeconds == 60)
        #expect(throttle.refusal(for: "192.0.2.1", now: 120_001) == nil)
    }

    @Test func paddedURLsShareOneCacheEntryAndKeysCountAgainstTheCap() async throws {
        let fixture = try await Fixture()
        defer { fixture.folder.remove() }
        try await fixture.loadMarket()
        let api = API(services: fixture.services)
        let app = Application(router: WebApp.router(api: api).router)
        try await app.test(.router) { client in
            let padding = String(repeating: "x", count: 40_000)
            // 15m answers go through the response cache; 1m ones through the candle windows.
            for interval in ["15m", "1m"] {
                for index in 0..<50 {
                    let reply = try await client.execute(
                        uri: "/api/candlestick/BTCUSDT?interval=\(interval)&limit=10&pad\(index)=\(padding)", method: .get, headers: [:],
                        body: nil
                    ) { $0.status }
                    #expect(reply == .ok)
                }
            }
        }
        let usage = api.cache.usage
        #expect(usage.entries == 1 && usage.bytes < 40_000)
        let windows = api.candleWindows.usage
        #expect(windows.windows == 1 && windows.bytes < 40_000)
        let tiny = ResponseCache(maximumBytes: 100)
        _ = try await tiny.body(key: String(repeating: "k", count: 90), version: 1) { Array(repeating: 1, count: 20) }
        #expect(tiny.usage.entries == 0)
    }

    @Test func anOverflowingTimeIsABadRequestNotACrash() async throws {
        let fixture = try await Fixture()
        defer { fixture.folder.remove() }
        try await fixture.loadMarket()
        try await fixture.withClient { client in
            for query in [
                "start=2024-01-01T00:00:-9223372036854775807Z", "end=2024-01-01T-9223372036854775807:00Z",
                "start=2024-01-01T00:00:00%2B-9223372036854775807:00", "start=99999999999999999999999",
                "start=2024-01-01T00:00:00.-5Z", "start=%2B024-01-01",
            ] {
                let reply = try await client.send(.get, "/api/candlestick/BTCUSDT?\(query)")
                #expect(reply.status == .badRequest, "\(query)")
            }
        }
    }

    @Test func concurrentSymbolChangesAllTakeEffect() async throws {
        let fixture = try await Fixture()
        defer { fixture.folder.remove() }
        fixture.exchange.listed.withLock { listed in
            for name in ["ADAUSDT", "XRPUSDT", "DOTUSDT", "SOLUSDT"] { listed[name] = "TRADING" }
        }
        try await fixture.withClient { client in
            _ = try await client.send(.get, "/api/config/symbols")
            try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for name in ["ADAUSDT", "XRPUSDT", "DOTUSDT", "SOLUSDT"] {
                    group.addTask {
                        try await client.send(.post, "/api/config/symbols", token: Fixture.token, body: "{\"symbol\":\"\(name)\"}").status
                    }
                }
                group.addTask {
                    try await client.send(.delete, "/api/config/symbols/ETHUSDT", token: Fixture.token).status
                }
                for try await status in group { #expect(status == .created || status == .ok) }
            }
        }
        let saved = try #require(try await fixture.warehouse.setting("symbols")).split(separator: ",").map(String.init)
        #expect(Set(saved) == ["BTCUSDT", "ADAUSDT", "XRPUSDT", "DOTUSDT", "SOLUSDT"])
    }

    @Test func concurrentScheduleChangesAllTakeEffect() async throws {
        let fixture = try await Fixture()
        defer { fixture.folder.remove() }
        try await fixture.scheduler.prepare()
        let scheduler = fixture.scheduler
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { _ = try await scheduler.setEnabled("gap-fill", false) }
            group.addTask { _ = try await scheduler.setSchedule("gap-fill", .every(seconds: 7_200)) }
            group.addTask { _ = try await scheduler.setEnabled("maintenance", false) }
            group.addTask { _ = try await scheduler.setSchedule("maintenance", .weekly(weekday: 3, minuteOfDay: 60)) }
            try await group.waitForAll()
        }
        let saved = Dictionary(uniqueKeysWithValues: try await fixture.warehouse.jobSchedules().map { ($0.job, $0) })
        #expect(saved["gap-fill"]?.enabled == false && saved["gap-fill"]?.intervalSeconds == 7_200)
        #expect(saved["maintenance"]?.enabled == false && saved["maintenance"]?.weekday == 3)
        let states = await scheduler.states()
        #expect(states.first { $0.name == "gap-fill" }.map { !$0.enabled && $0.schedule == .every(seconds: 7_200) } == true)
    }

    @Test func serverFailuresAnswerACodeAndARequestIdAndLogTheDetail() async throws {
        let fixture = try await Fixture(lake: BrokenObjectStore())
        defer { fixture.folder.remove() }
        try await fixture.withClient { client in
            let reply = try await client.send(.get, "/api/pipeline/stats")
            #expect(reply.status == .serviceUnavailable && reply.errorCode == "lake_unavailable")
            let id = try #require(reply.headers[HTTPField.Name("X-Request-Id")!])
            #expect((reply.json["error"] as? [String: Any])?["request_id"] as? String == id)
            #expect(!reply.body.contains("disk gone") && reply.body.contains(id))
            #expect(fixture.logs.all.contains { $0.contains("disk gone") })
            #expect(fixture.logs.all.contains { $0.contains("request failed") && $0.contains(id) })
            // A client's own X-Request-Id is replaced by ours.
            var forged = HTTPFields()
            forged[HTTPField.Name("X-Request-Id")!] = "forged"
            let other = try await client.send(.get, "/api/health", headers: forged)
            #expect(other.headers[HTTPField.Name("X-Request-Id")!] != "forged")
        }
        try await fixture.warehouse.pool.write { db in try db.execute(sql: "DROP TABLE processed_files") }
        try await fixture.withClient { client in
            let reply = try await client.send(.get, "/api/pipeline/stats")
            #expect(reply.status == .serviceUnavailable && reply.errorCode == "warehouse_unavailable")
            #expect(!reply.body.contains("processed_files") && reply.json["error"] != nil)
            let page = try await client.send(.get, "/pipeline")
            #expect(page.status == .serviceUnavailable && !page.body.contains("processed_files") && page.body.contains("(request "))
        }
    }

    @Test func oneComputationServesEveryoneWhoAsksWhileItRuns() async throws {
        let clock = ManualClock(1_000)
        let flight = SingleFlight<Int>(maximumAge: 60_000, clock: clock.reader)
        let released = Locked(false)
        let started = Counter()
        try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<20 {
                group.addTask {
                    try await flight.value(now: 1_000) {
                        started.increment()
                        while !released.withLock({ $0 }) { await Task.yield() }
                        return 42
                    }.value
                }
            }
            // Every caller either joins the running computation or starts one: wait until all 20 have done either.
            while await flight.joined + flight.computations < 20 { await Task.yield() }
            clock.advance(milliseconds: 5_000)  // the computation finishes 5 s after it started
            released.withLock { $0 = true }
            for try await value in group { #expect(value == 42) }
        }
        let computations = await flight.computations
        #expect(started.value == 1 && computations == 1)
        // Fresh for a minute from when it finished, then computed again; a new data version is computed at once.
        _ = try await flight.value(now: 60_999) { 1 }
        #expect(await flight.computations == 1)
        #expect(try await flight.value(now: 61_000) { 2 }.value == 42)
        #expect(try await flight.value(now: 66_000) { 2 }.value == 2)
        #expect(try await flight.value(now: 66_001, version: 9) { 3 }.value == 3)
    }
}

/// A thread-safe count for test closures.
final class Counter: Sendable {
    private let count = Locked(0)
    func increment() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}

extension APIFixture {
    /// Signs in through a router of its own and returns the session.
    func signedIn() async throws -> Client.Session {
        let result = Locked<Client.Session?>(nil)
        try await withClient { client in
            let session = try await client.signIn()
            result.withLock { $0 = session }
        }
        return try #require(result.withLock { $0 })
    }
}

/// An in-memory lake that counts full listings (`list`), to see how often the lake statistics walk it.
struct CountingLake: ObjectStore {
    let base = InMemoryObjectStore()
    let listings = Counter()

    func put(bucket: String, key: String, bytes: [UInt8]) async throws(ObjectStoreError) {
        try await base.put(bucket: bucket, key: key, bytes: bytes)
    }
    func get(bucket: String, key: String) async throws(ObjectStoreError) -> [UInt8] { try await base.get(bucket: bucket, key: key) }
    func head(bucket: String, key: String) async throws(ObjectStoreError) -> ObjectInfo? { try await base.head(bucket: bucket, key: key) }
    func list(bucket: String, prefix: String) async throws(ObjectStoreError) -> [ObjectInfo] {
        listings.increment()
        return try await base.list(bucket: bucket, prefix: prefix)
    }
    func list(bucket: String, prefix: String, after: String?, limit: Int) async throws(ObjectStoreError) -> ObjectPage {
        listings.increment()
        return await base.list(bucket: bucket, prefix: prefix, after: after, limit: limit)
    }
    func listFolders(bucket: String, prefix: String) async throws(ObjectStoreError) -> [String] {
        try await base.listFolders(bucket: bucket, prefix: prefix)
    }
    func copy(from source: ObjectLocation, to destination: ObjectLocation) async throws(ObjectStoreError) {
        try await base.copy(from: source, to: destination)
    }
    func delete(bucket: String, key: String) async throws(ObjectStoreError) { try await base.delete(bucket: bucket, key: key) }
}

extension SecurityTests {
    @Test func theLakeIsListedOnceAMinuteHoweverManyAsk() async throws {
        let lake = CountingLake()
        try await lake.put(bucket: "crypto-raw", key: "2024-01-02/BTCUSDT_klines_1.json", bytes: [1, 2, 3])
        let fixture = try await Fixture(lake: lake)
        defer { fixture.folder.remove() }
        try await fixture.withClient { client in
            let first = try await client.send(.get, "/api/pipeline/stats")
            #expect(first.status == .ok)
            let perCollection = lake.listings.value
            #expect(perCollection > 0)
            try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for index in 0..<20 {
                    group.addTask { try await client.send(.get, index % 2 == 0 ? "/api/pipeline/stats" : "/pipeline").status }
                }
                for try await status in group { #expect(status == .ok) }
            }
            #expect(lake.listings.value == perCollection, "the lake was listed again within the minute")
            fixture.clock.advance(milliseconds: 60_000)
            _ = try await client.send(.get, "/api/pipeline/stats")
            #expect(lake.listings.value == 2 * perCollection)
        }
    }
}

/// A server-side failure is answered by what failed, never with its detail.
struct FailureMappingTests {
    typealias Middleware = JSONErrorMiddleware<WebRequestContext>

    @Test func failuresAreNamedByTheirSource() {
        let warehouse = WarehouseError(.unavailable, operation: "read", detail: "user@db.internal:3306 refused")
        let failedStatement = WarehouseError(.failed, operation: "write", detail: "UNIQUE constraint failed")
        let invalidData = WarehouseError(.invalidData, operation: "read", detail: "column 3 holds 'x', not a decimal")
        let lake = ObjectStoreError.io(operation: "list", location: ObjectLocation(bucket: "crypto-raw", key: ""), detail: "/srv/lake")
        let exchange = ExchangeError(.timeout, endpoint: "/api/v3/klines")
        let cases: [(any Error, Int, String)] = [
            (warehouse, 503, "warehouse_unavailable"), (PipelineError.warehouse(warehouse), 503, "warehouse_unavailable"),
            (lake, 503, "lake_unavailable"), (PipelineError.lake(lake), 503, "lake_unavailable"),
            (exchange, 502, "exchange_unavailable"), (PipelineError.exchange(exchange), 502, "exchange_unavailable"),
            (failedStatement, 503, "warehouse_unavailable"), (invalidData, 500, "warehouse_data_invalid"),
            (PipelineError.warehouse(invalidData), 500, "warehouse_data_invalid"), (CancellationError(), 500, "internal_error"),
        ]
        for (error, status, code) in cases {
            let failure = Middleware.failure(for: error)
            #expect(failure.status.code == status && failure.code == code, "\(error)")
            #expect(failure.message.isEmpty, "a detail would reach the client: \(failure.message)")
        }
    }
}
