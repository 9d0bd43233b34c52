import Foundation
import HTTPTypes
import MarketData
import PipelineTesting
import Testing
import Warehouse

@testable import WebApp

/// The pages through the router: content, empty states, sign-in and protected forms.
struct PageTests {
    typealias Fixture = APIFixture

    /// The intervals people chart most, formed from the stored minutes (5m, 15m) and hours (4h), with indicators.
    @Test(arguments: ["5m", "15m", "4h"])
    func analyticsRendersEveryIntervalWithIndicators(interval: String) async throws {
        let fixture = try await Fixture()
        defer { fixture.folder.remove() }
        _ = try await fixture.warehouse.importKlines([
            KlineImport(
                batch: KlineBatch(WarehouseConformance.intervalMinutes()), symbol: Fixture.btc, capturedAt: .max,
                object: ProcessedObject(bucket: "import", key: "import/BTCUSDT/40-days.zip#1", processedAt: 1))
        ])
        _ = try await fixture.warehouse.rollUpPending()
        try await fixture.withClient { client in
            let page = try await client.send(.get, "/analytics?symbol=BTCUSDT&interval=\(interval)&limit=60")
            #expect(page.status == .ok)
            #expect(page.body.components(separatedBy: "{\"open_time\":").count - 1 == 60)
            #expect(Self.drawnBodies(page.body) == 60)
            #expect(page.body.contains("<option selected>\(interval)</option>"))
            for option in ["1m", "3m", "30m", "2h", "12h", "3d", "1w", "1M"] { #expect(page.body.contains("<option>\(option)</option>")) }
            #expect(page.body.contains("class=\"chart rsi\"") && page.body.contains("class=\"chart macd\""))
            let readout = try #require(page.body.range(of: "latest RSI "), "no indicator read-out")
            let values = page.body[readout.upperBound...].prefix(60)
            #expect(
                values.first?.isNumber == true && !values.hasPrefix("—") && values.contains(", MACD ") && !values.contains("MACD —"),
                "\(values)")
        }
    }

    /// The candle bodies the SVG draws: one `M…z` rectangle each in the up and down paths.
    static func drawnBodies(_ body: String) -> Int {
        ["body up", "body down"].reduce(0) { total, name in
            guard let start = body.range(of: "class=\"\(name)\" d=\"") else { return total }
            return total + body[start.upperBound...].prefix { $0 != "\"" }.filter { $0 == "M" }.count
        }
    }

    @Test func everyPageRendersWithTheLayoutAndItsCharts() async throws {
        let fixture = try await Fixture()
        defer { fixture.folder.remove() }
        try await fixture.loadMarket()
        try await fixture.withClient { client in
            for path in ["/", "/analytics", "/pipeline", "/scheduler", "/settings", "/signin"] {
                let reply = try await client.send(.get, path)
                #expect(reply.status == .ok, "\(path): \(reply.body.prefix(300))")
                #expect(reply.headers[.contentType]?.hasPrefix("text/html") == true)
                #expect(reply.body.hasPrefix("<!doctype html>") && reply.body.contains("<nav>") && reply.body.contains("/assets/app.js"))
                #expect(reply.headers[.contentSecurityPolicy]?.contains("script-src 'self'") == true)
                // The policy's `style-src 'self'` ignores inline styles: every style comes from the stylesheet.
                #expect(!reply.body.contains(" style=\""), "\(path) has an inline style the policy blocks")
            }
            let dashboard = try await client.send(.get, "/")
            #expect(dashboard.body.contains("data-refresh=\"15\"") && dashboard.body.contains("class=\"sparkline up\""))
            #expect(dashboard.body.contains(">114.98<") && dashboard.body.contains("No candles yet"))  // ETHUSDT has none
            let pipeline = try await client.send(.get, "/pipeline")
            #expect(pipeline.body.contains("No gaps recorded") && pipeline.body.contains("crypto-raw"))
            let live = try await client.send(.get, "/?fragment=live")
            #expect(!live.body.contains("<nav>") && live.body.contains("class=\"card\""))
            let analytics = try await client.send(.get, "/analytics?symbol=btcusdt&interval=1m&limit=60")
            #expect(analytics.body.components(separatedBy: "{\"open_time\":").count - 1 == 60)
            #expect(Self.drawnBodies(analytics.body) == 60)
            #expect(analytics.body.contains("class=\"chart rsi\"") && analytics.body.contains("class=\"chart macd\""))
            #expect(analytics.body.contains("class=\"depth bids\"") && analytics.body.contains("class=\"band upper\""))
            #expect(analytics.body.contains("data-readout=\"readout\""))
            let empty = try await client.send(.get, "/analytics?symbol=ETHUSDT")
            #expect(empty.body.contains("No 1m candles of ETHUSDT are stored yet"))
            let bad = try await client.send(.get, "/analytics?interval=7m")
            #expect(
                bad.status == .badRequest
                    && bad.body.contains(
                        "interval must be one of 1m, 3m, 5m, 15m, 30m, 1h, 2h, 4h, 6h, 8h, 12h, 1d, 3d, 1w, 1M, not &#39;7m&#39;")
            )
            let css = try await client.send(.get, "/assets/app.css")
            #expect(css.status == .ok && css.headers[.contentType]?.hasPrefix("text/css") == true)
            let missing = try await client.send(.get, "/no-such-page", accept: "text/html")
            #expect(missing.status == .notFound && missing.body.contains("Go to the dashboard"))
        }
    }

    @Test func formsNeedASignedInSessionAndTheFormToken() async throws {
        let fixture = try await Fixture()
        defer { fixture.folder.remove() }
        try await fixture.withClient { client in
            // Not signed in: sent to the sign-in page, nothing changes.
            let anonymous = try await client.send(.post, "/scheduler/gap-fill/disable", form: "csrf=anything")
            #expect(anonymous.headers[.location] == "/signin?next=%2Fscheduler&error=signin_required")
            let anonymousPage = try await client.send(.get, "/scheduler")
            #expect(!anonymousPage.body.contains("name=\"csrf\""))

            let wrong = try await client.send(.post, "/signin", form: "token=guess&next=%2Fscheduler")
            #expect(
                wrong.status == .unauthorized && wrong.body.contains("That is not the admin token.") && wrong.headers[.setCookie] == nil)
            let session = try await client.signIn(next: "/scheduler")
            #expect(session.location == "/scheduler?notice=signed_in")
            #expect(session.setCookie.contains("HttpOnly") && session.setCookie.contains("SameSite=Strict"))
            #expect(!session.setCookie.contains(Fixture.token) && !session.setCookie.contains("Secure"))
            let cookie = session.cookie
            let csrf = session.csrf
            // Only our own pages as targets after signing in.
            let elsewhere = try await client.send(.post, "/signin", form: "token=\(Fixture.token)&next=https%3A%2F%2Fevil.example")
            #expect(elsewhere.headers[.location] == "/?notice=signed_in")

            // Signed in but without the form token (a cross-site post): refused.
            let forged = try await client.send(.post, "/scheduler/gap-fill/disable", form: "csrf=nope", cookie: cookie)
            #expect(forged.headers[.location]?.hasPrefix("/signin") == true)
            #expect(try await fixture.warehouse.jobSchedules().first { $0.job == "gap-fill" }?.enabled != false)

            let disabled = try await client.send(.post, "/scheduler/gap-fill/disable", form: "csrf=\(csrf)", cookie: cookie)
            #expect(disabled.headers[.location] == "/scheduler?notice=job_disabled")
            let schedule = try await client.send(
                .post, "/scheduler/maintenance/schedule", form: "csrf=\(csrf)&weekday=monday&time=03%3A30", cookie: cookie)
            #expect(schedule.headers[.location] == "/scheduler?notice=schedule_saved")
            let tooShort = try await client.send(
                .post, "/scheduler/extract-transform/schedule", form: "csrf=\(csrf)&interval_seconds=1", cookie: cookie)
            #expect(tooShort.status == .badRequest && tooShort.body.contains("interval_seconds must be from"))
            let added = try await client.send(.post, "/settings/symbols", form: "csrf=\(csrf)&symbol=solusdt", cookie: cookie)
            #expect(added.headers[.location] == "/settings?notice=symbol_added")
            let unknown = try await client.send(.post, "/settings/symbols", form: "csrf=\(csrf)&symbol=DOGEUSDT", cookie: cookie)
            #expect(unknown.status == .badRequest && unknown.body.contains("DOGEUSDT is not listed"))
            let removed = try await client.send(.post, "/settings/symbols/ETHUSDT/remove", form: "csrf=\(csrf)", cookie: cookie)
            #expect(removed.headers[.location] == "/settings?notice=symbol_removed")
            let page = try await client.send(.get, "/settings?notice=symbol_removed", cookie: cookie)
            #expect(page.body.contains("signed in") && page.body.contains("value=\"\(csrf)\""))
            #expect(page.body.contains(Banner.symbolRemoved.text))
        }
        let saved = try await fixture.warehouse.jobSchedules()
        #expect(saved.first { $0.job == "gap-fill" }?.enabled == false)
        #expect(saved.first { $0.job == "maintenance" }.map { [$0.weekday, $0.minuteOfDay] } == [1, 210])
        #expect(try await fixture.warehouse.setting("symbols") == "BTCUSDT,SOLUSDT")
    }

    @Test func withoutAnAdminTokenThePagesAreReadOnly() async throws {
        let fixture = try await Fixture(adminToken: nil)
        defer { fixture.folder.remove() }
        try await fixture.withClient { client in
            let page = try await client.send(.get, "/settings")
            #expect(page.body.contains("Changes are disabled: set CRYPTOPIPE_ADMIN_TOKEN") && page.body.contains(" disabled>"))
            let post = try await client.send(.post, "/settings/symbols", form: "symbol=SOLUSDT")
            #expect(post.headers[.location] == "/settings?error=changes_disabled")
        }
        // Reading the page saved the seed list; the post added nothing.
        #expect(try await fixture.warehouse.setting("symbols") == "BTCUSDT,ETHUSDT")
    }
}
