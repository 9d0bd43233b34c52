import Foundation
import HTTPTypes
import MarketData
import Pipeline
import PipelineTesting
import Testing
import Warehouse

@testable import WebApp

/// Every endpoint through the router, with its error cases.
struct APITests {
    typealias Fixture = APIFixture

    @Test func candlesAreExactNewestFirstByDefaultAndSelectableByRange() async throws {
        let fixture = try await Fixture()
        defer { fixture.folder.remove() }
        try await fixture.loadMarket()
        try await fixture.withClient { client in
            let newest = try await client.send(.get, "/api/candlestick/BTCUSDT?limit=2")
            #expect(newest.status == .ok)
            let candles = try #require(newest.json["candles"] as? [[String: Any]])
            #expect(newest.json["count"] as? Int == 2 && candles.count == 2)
            // Minute 1499 is still open; 1498 closed at 114.98.
            #expect(candles[0]["open_time"] as? Int64 == Fixture.start + 1_498 * 60_000)
            #expect(candles[0]["open_time_iso"] as? String == "2024-01-02T00:58:00.000Z")
            #expect(candles[0]["close"] as? String == "114.98000000" && candles[0]["closed"] as? Bool == true)
            #expect(candles[0]["quote_volume"] as? String == "150.25000000" && candles[0]["trades"] as? Int == 1)
            #expect(candles[1]["closed"] as? Bool == false)
            let range = try await client.send(
                .get, "/api/candlestick/btcusdt?start=2024-01-01T00:10:00Z&end=\(Fixture.start + 12 * 60_000)")
            let ranged = try #require(range.json["candles"] as? [[String: Any]])
            #expect(ranged.map { $0["close"] as? String } == ["100.10000000", "100.11000000", "100.12000000"])
            let hours = try await client.send(.get, "/api/candlestick/BTCUSDT?interval=1h&limit=1000")
            let hourly = try #require(hours.json["candles"] as? [[String: Any]])
            #expect(hours.json["interval"] as? String == "1h" && hourly.count == 25)
            #expect(hourly[0]["volume"] as? String == "90.00000000" && hourly[0]["trades"] as? Int == 60)
            // Answers are reused only while the data is unchanged: a new load shows at once.
            _ = try await fixture.warehouse.loadKlines(
                [Fixture.candle(1_500)], symbol: Fixture.btc, interval: .oneMinute, capturedAt: fixture.clock.now,
                object: ProcessedObject(bucket: "crypto-raw", key: "2024-01-02/BTCUSDT_klines_2.json", processedAt: fixture.clock.now))
            let again = try await client.send(.get, "/api/candlestick/BTCUSDT?limit=2")
            let newer = try #require(again.json["candles"] as? [[String: Any]])
            #expect(newer.last?["open_time"] as? Int64 == Fixture.start + 1_500 * 60_000)
        }
    }

    @Test(arguments: [
        ("/api/candlestick/BTCUSDT?interval=7m", 400, "invalid_interval"),
        ("/api/candlestick/BTCUSDT?interval=1s", 400, "invalid_interval"),
        ("/api/candlestick/BTCUSDT?interval=1m%00", 400, "invalid_interval"),
        ("/api/candlestick/BTCUSDT?limit=0", 400, "invalid_limit"),
        ("/api/candlestick/BTCUSDT?limit=1001", 400, "invalid_limit"),
        ("/api/candlestick/BTCUSDT?limit=ten", 400, "invalid_limit"),
        ("/api/candlestick/BTCUSDT?start=yesterday", 400, "invalid_start"),
        ("/api/candlestick/BTCUSDT?end=99999999999999999999", 400, "invalid_end"),
        ("/api/candlestick/BTCUSDT?start=2024-01-02&end=2024-01-01", 400, "invalid_range"),
        ("/api/candlestick/BTC-USDT", 400, "invalid_symbol"),
        ("/api/candlestick/DOGEUSDT", 404, "unknown_symbol"),
        ("/api/orderbook/BTCUSDT?limit=0", 400, "invalid_limit"),
        ("/api/orderbook/ETHUSDT", 404, "no_order_book"),
        ("/api/stats/ETHUSDT", 404, "no_data"),
        ("/api/stats/%E2%82%AC", 400, "invalid_symbol"),
        ("/api/indicators/BTCUSDT?interval=1W", 400, "invalid_interval"),
        ("/api/indicators/BTCUSDT?limit=-1", 400, "invalid_limit"),
        ("/api/gaps/x", 400, "invalid_symbol"),
        ("/api/ingestion/logs?page=0", 400, "invalid_page"),
        ("/api/ingestion/logs?page_size=501", 400, "invalid_page_size"),
        ("/api/ingestion/logs?job=backup", 400, "invalid_job"),
        ("/api/ingestion/logs?status=done", 400, "invalid_status"),
        ("/api/nothing-here", 404, "not_found"),
        ("/nothing", 404, "not_found"),
    ])
    func badReadsGetAClearJSONError(uri: String, status: Int, code: String) async throws {
        let fixture = try await Fixture()
        defer { fixture.folder.remove() }
        try await fixture.loadMarket()
        try await fixture.withClient { client in
            let reply = try await client.send(.get, uri)
            #expect(Int(reply.status.code) == status, "\(uri): \(reply.body)")
            #expect(reply.errorCode == code, "\(uri): \(reply.body)")
            #expect((reply.json["error"] as? [String: Any])?["message"] as? String != nil)
            #expect(reply.headers[.contentType]?.hasPrefix("application/json") == true)
        }
    }

    @Test func aKnownPathWithAnotherMethodIs405WithAllow() async throws {
        let fixture = try await Fixture()
        defer { fixture.folder.remove() }
        try await fixture.withClient { client in
            let reply = try await client.send(.delete, "/api/candlestick/BTCUSDT")
            #expect(reply.status == .methodNotAllowed && reply.errorCode == "method_not_allowed")
            #expect(reply.headers[.allow] == "GET")
            let symbols = try await client.send(.put, "/api/config/symbols")
            #expect(symbols.headers[.allow] == "GET, POST")
            // No HEAD routes are registered: HEAD is another method, not an unknown path.
            let head = try await client.send(.head, "/api/health")
            #expect(head.status == .methodNotAllowed && head.headers[.allow] == "GET")
            let unknown = try await client.send(.get, "/api/nothing-here")
            #expect(unknown.status == .notFound && unknown.errorCode == "not_found")
        }
    }

    @Test func orderBookHasExactSpreadAndMid() async throws {
        let fixture = try await Fixture()
        defer { fixture.folder.remove() }
        try await fixture.loadMarket()
        try await fixture.withClient { client in
            let reply = try await client.send(.get, "/api/orderbook/BTCUSDT?limit=1")
            #expect(reply.status == .ok)
            #expect(reply.json["spread"] as? String == "0.00000001")
            #expect(reply.json["mid"] as? String == "100.000000015")
            #expect(reply.json["best_bid"] as? String == "100.00000001" && reply.json["last_update_id"] as? Int == 42)
            #expect((reply.json["bids"] as? [[String: Any]])?.count == 1 && (reply.json["asks"] as? [[String: Any]])?.count == 1)
            #expect(reply.json["captured_at"] as? Int64 == fixture.clock.now - 10_000)
        }
        #expect(API.half(of: try ExactDecimal(parsing: "-0.00000001")) == "-0.000000005")
        #expect(API.half(of: try ExactDecimal(parsing: "3")) == "1.50000000")
    }

    @Test func statisticsCoverTheLast1440ClosedMinutesExactly() async throws {
        let fixture = try await Fixture()
        defer { fixture.folder.remove() }
        try await fixture.loadMarket()
        try await fixture.withClient { client in
            let reply = try await client.send(.get, "/api/stats/BTCUSDT")
            #expect(reply.status == .ok)
            let json = reply.json
            // Closed minutes 59…1498: open is minute 59's open (minute 58's close), last is 114.98.
            #expect(json["minutes"] as? Int == 1_440 && json["trades"] as? Int == 1_440)
            #expect(json["open_price"] as? String == "100.58000000" && json["last_price"] as? String == "114.98000000")
            #expect(json["price_change"] as? String == "14.40000000")
            #expect(json["volume"] as? String == "2160.00000000")
            #expect(json["open_time"] as? Int64 == Fixture.start + 59 * 60_000)
        }
    }

    @Test func indicatorsReturnTheRequestedPointsWithSettledValues() async throws {
        let fixture = try await Fixture()
        defer { fixture.folder.remove() }
        try await fixture.loadMarket()
        try await fixture.withClient { client in
            let reply = try await client.send(.get, "/api/indicators/BTCUSDT?limit=50")
            #expect(reply.status == .ok)
            let series = try #require(reply.json["series"] as? [[String: Any]])
            #expect(series.count == 50 && reply.json["count"] as? Int == 50)
            let latest = try #require(reply.json["latest"] as? [String: Any])
            #expect(latest["open_time"] as? Int64 == series.last?["open_time"] as? Int64)
            // A steady rise of 0.01 a minute: no losses, so RSI is 100; the bands are centred on the 20-minute mean.
            #expect(latest["rsi"] as? Double == 100)
            let middle = try #require(latest["bollinger_middle"] as? Double)
            #expect(abs(middle - 114.885) < 1e-9)
            #expect((latest["macd"] as? Double).map { $0 > 0 } == true)
            // Too few candles for the slow MACD: its values are null, not invented.
            let short = try await client.send(.get, "/api/indicators/BTCUSDT?interval=1h&limit=5")
            let hourly = try #require(short.json["series"] as? [[String: Any]])
            #expect(hourly.count == 5 && hourly.allSatisfy { $0["macd"] is NSNull })
        }
    }

    @Test func healthReportsEachComponentAnd503WhenOneIsDown() async throws {
        let fixture = try await Fixture()
        defer { fixture.folder.remove() }
        try await fixture.withClient { client in
            let reply = try await client.send(.get, "/api/health")
            #expect(reply.status == .ok && reply.json["status"] as? String == "ok")
            let components = try #require(reply.json["components"] as? [String: [String: Any]])
            #expect(components["warehouse"]?["status"] as? String == "ok" && components["lake"]?["status"] as? String == "ok")
            #expect(components["exchange"]?["status"] as? String == "unknown")
        }
        let broken = try await Fixture(lake: BrokenObjectStore())
        defer { broken.folder.remove() }
        try await broken.withClient { client in
            let reply = try await client.send(.get, "/api/health")
            #expect(reply.status == .serviceUnavailable && reply.json["status"] as? String == "down")
            let lake = (reply.json["components"] as? [String: [String: Any]])?["lake"]
            let id = try #require(reply.headers[HTTPField.Name("X-Request-Id")!])
            #expect(lake?["status"] as? String == "down" && (lake?["detail"] as? String)?.contains(id) == true)
            #expect(!reply.body.contains("disk gone") && broken.logs.all.contains { $0.contains("disk gone") && $0.contains(id) })
            let stats = try await client.send(.get, "/api/pipeline/stats")
            #expect(stats.status == .serviceUnavailable && stats.errorCode == "lake_unavailable")
        }
    }

    @Test func pipelineStatusStatsLogsAndGaps() async throws {
        let fixture = try await Fixture()
        defer { fixture.folder.remove() }
        try await fixture.loadMarket()
        try await fixture.warehouse.recordExtraction(
            ExtractionUpdate(symbol: Fixture.btc, type: .klines, fetchTime: fixture.clock.now - 30_000, lastOpenTime: nil, records: 1_500))
        for index in 0..<3 {
            let id = try await fixture.warehouse.startJobRun(job: "extract-transform", trigger: .schedule, at: Int64(index) * 60_000)
            try await fixture.warehouse.finishJobRun(
                id: id, at: Int64(index) * 60_000 + 500,
                outcome: JobRunOutcome(status: index == 1 ? .failed : .succeeded, files: 4, rows: 100, error: index == 1 ? "boom" : nil))
        }
        try await fixture.warehouse.setGap(
            symbol: Fixture.btc, range: MinuteRange(from: Fixture.start - 600_000, to: Fixture.start - 60_000), status: .exchangeEmpty,
            at: 5)
        try await fixture.withClient { client in
            let status = try await client.send(.get, "/api/pipeline/status")
            let symbols = try #require(status.json["symbols"] as? [[String: Any]])
            #expect(symbols.map { $0["symbol"] as? String } == ["BTCUSDT", "ETHUSDT"])
            let klines = try #require(symbols[0]["klines"] as? [String: Any])
            #expect(
                klines["record_count"] as? Int == 1_500 && klines["newest_closed_open_time"] as? Int64 == Fixture.start + 1_498 * 60_000)
            // Now is minute 1500 opening; minute 1498 closed 60 s ago.
            #expect(klines["lag_seconds"] as? Int == 60)
            #expect((symbols[0]["depth"] as? [String: Any])?["lag_seconds"] as? Int == 10)
            #expect((symbols[1]["klines"] as? [String: Any])?["lag_seconds"] is NSNull)
            let exchange = try #require(status.json["exchange"] as? [String: Any])
            #expect(exchange["weight_limit"] as? Int == 6_000 && exchange["banned"] as? Bool == false)

            let stats = try await client.send(.get, "/api/pipeline/stats")
            #expect((stats.json["tables"] as? [String: Int])?["fact_klines"] == 1_500)
            let ledger = try #require(stats.json["ledger"] as? [String: Any])
            #expect(ledger["processed_files"] as? Int == 2 && ledger["duplicates_skipped"] as? Int == 0)
            let buckets = try #require((stats.json["lake"] as? [String: Any])?["buckets"] as? [[String: Any]])
            #expect(buckets.first?["bucket"] as? String == "crypto-raw" && buckets.first?["objects"] as? Int == 2)
            #expect(buckets.first?["bytes"] as? Int == 150 && buckets.first?["days"] as? Int == 1)

            let page = try await client.send(.get, "/api/ingestion/logs?page=1&page_size=2")
            #expect(page.json["total"] as? Int == 3 && page.json["total_pages"] as? Int == 2)
            let runs = try #require(page.json["runs"] as? [[String: Any]])
            #expect(runs.map { $0["started_at"] as? Int64 } == [120_000, 60_000] && runs[0]["duration_ms"] as? Int == 500)
            let failed = try await client.send(.get, "/api/ingestion/logs?status=failed&job=extract-transform")
            #expect((failed.json["runs"] as? [[String: Any]])?.map { $0["error"] as? String } == ["boom"])

            let gaps = try await client.send(.get, "/api/gaps/BTCUSDT")
            #expect(gaps.json["exchange_empty"] as? Int == 1 && gaps.json["open"] as? Int == 0)
            #expect((gaps.json["gaps"] as? [[String: Any]])?.first?["minutes"] as? Int == 10)

            let dashboard = try await client.send(.get, "/api/dashboard/metrics")
            let cards = try #require(dashboard.json["symbols"] as? [[String: Any]])
            #expect((cards[0]["statistics"] as? [String: Any])?["last_price"] as? String == "114.98000000")
            #expect(cards[1]["statistics"] is NSNull)
            let pipeline = try #require(dashboard.json["pipeline"] as? [String: Any])
            #expect(pipeline["tracked_symbols"] as? Int == 2 && (pipeline["last_extract_transform"] as? [String: Any])?["id"] as? Int == 3)
        }
    }

    @Test func changesNeedTheAdminTokenAnd403WhenNoneIsConfigured() async throws {
        let fixture = try await Fixture()
        defer { fixture.folder.remove() }
        try await fixture.withClient { client in
            for (method, uri) in [
                (HTTPRequest.Method.post, "/api/scheduler/gap-fill/disable"), (.post, "/api/scheduler/gap-fill/enable"),
                (.post, "/api/scheduler/gap-fill/trigger"), (.patch, "/api/scheduler/gap-fill"), (.post, "/api/config/symbols"),
                (.delete, "/api/config/symbols/BTCUSDT"),
            ] {
                let missing = try await client.send(method, uri, body: "{}")
                #expect(missing.status == .unauthorized && missing.errorCode == "unauthorized", "\(uri)")
                #expect(missing.headers[.wwwAuthenticate] == "Bearer")
                let wrong = try await client.send(method, uri, token: Fixture.token + "x", body: "{}")
                #expect(wrong.status == .unauthorized, "\(uri)")
            }
        }
        let locked = try await Fixture(adminToken: nil)
        defer { locked.folder.remove() }
        try await locked.withClient { client in
            let reply = try await client.send(.post, "/api/scheduler/gap-fill/disable", token: "anything")
            #expect(reply.status == .forbidden && reply.errorCode == "admin_disabled")
            #expect(
                (reply.json["error"] as? [String: Any])?["message"] as? String == nil
                    ? false : reply.body.contains("CRYPTOPIPE_ADMIN_TOKEN"))
        }
        #expect(!fixture.logs.all.contains { $0.contains(Fixture.token) }, "the token was logged")
        #expect(constantTimeEquals("abc", "abc") && !constantTimeEquals("abc", "abd") && !constantTimeEquals("abc", "abcd"))
    }

    @Test func schedulerCanBeReadEnabledDisabledAndRescheduled() async throws {
        let fixture = try await Fixture()
        defer { fixture.folder.remove() }
        let token = Fixture.token
        try await fixture.withClient { client in
            let list = try await client.send(.get, "/api/scheduler")
            let jobs = try #require(list.json["jobs"] as? [[String: Any]])
            #expect(jobs.map { $0["name"] as? String } == ["extract-transform", "gap-fill", "maintenance"])
            #expect(list.json["scheduler_running"] as? Bool == false)
            #expect((jobs[2]["schedule"] as? [String: Any])?["time"] as? String == "02:00")

            let disabled = try await client.send(.post, "/api/scheduler/gap-fill/disable", token: token)
            #expect(disabled.status == .ok && disabled.json["enabled"] as? Bool == false && disabled.json["next_run_at"] is NSNull)
            let enabled = try await client.send(.post, "/api/scheduler/gap-fill/enable", token: token)
            #expect(enabled.json["enabled"] as? Bool == true)

            let interval = try await client.send(
                .patch, "/api/scheduler/extract-transform", token: token, body: #"{"interval_seconds": 120}"#)
            #expect(interval.status == .ok && (interval.json["schedule"] as? [String: Any])?["interval_seconds"] as? Int == 120)
            let weekly = try await client.send(
                .patch, "/api/scheduler/maintenance", token: token, body: #"{"weekday": "Saturday", "time": "23:30"}"#)
            #expect((weekly.json["schedule"] as? [String: Any])?["weekday"] as? String == "saturday")

            for (uri, body, code) in [
                ("/api/scheduler/maintenance", #"{"interval_seconds": 60}"#, "wrong_schedule_kind"),
                ("/api/scheduler/extract-transform", #"{"weekday": "monday", "time": "01:00"}"#, "wrong_schedule_kind"),
                ("/api/scheduler/extract-transform", #"{"interval_seconds": 5}"#, "invalid_schedule"),
                ("/api/scheduler/extract-transform", #"{"interval_seconds": "soon"}"#, "invalid_body"),
                ("/api/scheduler/extract-transform", "not json", "invalid_body"),
                ("/api/scheduler/extract-transform", "{}", "invalid_body"),
                ("/api/scheduler/maintenance", #"{"weekday": "funday", "time": "01:00"}"#, "invalid_weekday"),
                ("/api/scheduler/maintenance", #"{"weekday": "monday", "time": "25:00"}"#, "invalid_time"),
            ] {
                let reply = try await client.send(.patch, uri, token: token, body: body)
                #expect(reply.status == .badRequest && reply.errorCode == code, "\(body): \(reply.body)")
            }
            let unknown = try await client.send(.post, "/api/scheduler/backup/enable", token: token)
            #expect(unknown.status == .notFound && unknown.errorCode == "unknown_job")
            // This scheduler is not running (as in `cryptopipe serve`).
            let trigger = try await client.send(.post, "/api/scheduler/maintenance/trigger", token: token)
            #expect(trigger.status == .conflict && trigger.errorCode == "scheduler_not_running")
        }
        let saved = try await fixture.warehouse.jobSchedules()
        #expect(saved.first { $0.job == "extract-transform" }?.intervalSeconds == 120)
        #expect(saved.first { $0.job == "maintenance" }.map { ($0.weekday, $0.minuteOfDay) }! == (6, 1_410))
    }

    @Test func symbolsAreValidatedAgainstExchangeInfoAndPersisted() async throws {
        let fixture = try await Fixture()
        defer { fixture.folder.remove() }
        let token = Fixture.token
        try await fixture.withClient { client in
            let initial = try await client.send(.get, "/api/config/symbols")
            #expect(initial.json["symbols"] as? [String] == ["BTCUSDT", "ETHUSDT"])
            let added = try await client.send(.post, "/api/config/symbols", token: token, body: #"{"symbol": "solusdt"}"#)
            #expect(added.status == .created && added.json["symbols"] as? [String] == ["BTCUSDT", "ETHUSDT", "SOLUSDT"])
            let again = try await client.send(.post, "/api/config/symbols", token: token, body: #"{"symbol": "SOLUSDT"}"#)
            #expect(again.status == .ok)
            for (body, status, code) in [
                (#"{"symbol": "DOGEUSDT"}"#, 400, "unknown_symbol"), (#"{"symbol": "LUNAUSDT"}"#, 400, "unknown_symbol"),
                (#"{"symbol": "SOL/USDT"}"#, 400, "invalid_symbol"), (#"{"name": "SOLUSDT"}"#, 400, "invalid_body"),
            ] {
                let reply = try await client.send(.post, "/api/config/symbols", token: token, body: body)
                #expect(Int(reply.status.code) == status && reply.errorCode == code, "\(body): \(reply.body)")
            }
            fixture.exchange.down.withLock { $0 = true }
            fixture.clock.advance(milliseconds: 601_000)
            let unreachable = try await client.send(.post, "/api/config/symbols", token: token, body: #"{"symbol": "XRPUSDT"}"#)
            #expect(unreachable.status == .badGateway && unreachable.errorCode == "exchange_unavailable")
            let removed = try await client.send(.delete, "/api/config/symbols/ethusdt", token: token)
            #expect(removed.status == .ok && removed.json["symbols"] as? [String] == ["BTCUSDT", "SOLUSDT"])
            let notTracked = try await client.send(.delete, "/api/config/symbols/ETHUSDT", token: token)
            #expect(notTracked.status == .notFound && notTracked.errorCode == "not_tracked")
        }
        #expect(try await fixture.warehouse.setting("symbols") == "BTCUSDT,SOLUSDT")
        // exchangeInfo (weight 20) is asked once for several additions within ten minutes.
        #expect(fixture.exchange.calls.withLock { $0 } == 2)
    }

    @Test func configurationIsShownWithSecretsRedacted() async throws {
        let fixture = try await Fixture()
        defer { fixture.folder.remove() }
        try await fixture.withClient { client in
            let reply = try await client.send(.get, "/api/config")
            #expect(reply.status == .ok && !reply.body.contains(Fixture.token))
            let settings = try #require(reply.json["settings"] as? [[String: Any]])
            #expect(settings.first { $0["name"] as? String == "admin_token" }?["value"] as? String == "[redacted]")
            #expect(reply.json["admin_enabled"] as? Bool == true && reply.json["tracked_symbols"] as? [String] == ["BTCUSDT", "ETHUSDT"])
        }
    }

    @Test func metricsExposeRequestsLagWeightAndJobs() async throws {
        let fixture = try await Fixture()
        defer { fixture.folder.remove() }
        try await fixture.loadMarket()
        try await fixture.withClient { client in
            _ = try await client.send(.get, "/api/candlestick/BTCUSDT?limit=1")
            _ = try await client.send(.get, "/api/candlestick/BTCUSDT?limit=0")
            let reply = try await client.send(.get, "/metrics")
            #expect(reply.status == .ok && reply.headers[.contentType]?.hasPrefix("text/plain") == true)
            let text = reply.body
            #expect(
                text.contains(#"cryptopipe_http_requests_total{route="/api/candlestick/{symbol}",method="GET",status="200"} 1"#), "\(text)")
            #expect(text.contains(#"cryptopipe_http_requests_total{route="/api/candlestick/{symbol}",method="GET",status="400"} 1"#))
            #expect(text.contains(#"cryptopipe_freshness_lag_seconds{symbol="BTCUSDT"} 60.0"#))
            #expect(text.contains("cryptopipe_exchange_weight_limit 6000.0") && text.contains("cryptopipe_tracked_symbols 2.0"))
            #expect(text.contains("cryptopipe_http_request_duration_seconds_bucket"))
        }
    }
}
