import DataLake
import Exchange
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import MarketData
import NIOCore
import Pipeline
import PipelineTesting
import Prometheus
import Synchronization
import Testing
import Warehouse
import WebApp

/// A warehouse with known data, a lake, a scheduler that is not running (as in `serve`) and the router over them.
struct APIFixture {
    static let btc = try! Symbol("BTCUSDT")
    static let eth = try! Symbol("ETHUSDT")
    static let token = "test-admin-token-0123456789"
    /// 2024-01-01T00:00:00Z.
    static let start: Int64 = 1_704_067_200_000

    let folder: TemporaryDirectory
    let warehouse: SQLiteWarehouse
    let lake: InMemoryObjectStore
    let clock: ManualClock
    let scheduler: JobScheduler
    let exchange: ListingSource
    let usage = ExchangeUsageMonitor()
    let registry = PrometheusCollectorRegistry()
    let logs: LogRecorder
    let services: WebAppServices

    init(
        adminToken: String? = APIFixture.token, lake customLake: (any ObjectStore)? = nil, publicURL: String? = nil,
        signInLinks: Bool = false
    ) async throws {
        folder = try TemporaryDirectory("webapp")
        warehouse = try SQLiteWarehouse(path: folder.path + "/w.sqlite")
        try await warehouse.migrate()
        lake = InMemoryObjectStore()
        clock = ManualClock(Self.start + 1_500 * 60_000)
        exchange = ListingSource()
        let recorder = LogRecorder()
        logs = recorder
        let logger = Logger(label: "api") { _ in RecordingLogHandler(recorder: recorder) }
        let noop = { @Sendable () async throws -> JobRunOutcome in JobRunOutcome(status: .succeeded) }
        scheduler = JobScheduler(
            jobs: [
                ScheduledJob(name: "extract-transform", defaultSchedule: .every(seconds: 60), work: noop),
                ScheduledJob(name: "gap-fill", defaultSchedule: .every(seconds: 3_600), work: noop),
                ScheduledJob(name: "maintenance", defaultSchedule: .weekly(weekday: 0, minuteOfDay: 120), work: noop),
            ], warehouse: warehouse, clock: clock.reader, logger: logger)
        services = WebAppServices(
            warehouse: warehouse, lake: customLake ?? lake, layout: LakeLayout(),
            scheduler: scheduler,
            symbols: SymbolRegistry(warehouse: warehouse, seed: [Self.btc, Self.eth], clock: clock.reader),
            exchange: exchange, exchangeUsage: usage,
            configuration: [
                ConfigurationEntry(name: "warehouse", value: "sqlite:w.sqlite", source: "default"),
                ConfigurationEntry(name: "admin_token", value: adminToken ?? "", source: "environment", secret: true),
            ],
            adminToken: adminToken, sessions: warehouse, publicURL: publicURL, signInLinks: signInLinks,
            clock: clock.reader, metrics: registry,
            logger: logger)
    }

    /// 1500 minutes of BTCUSDT (the last one still open), a few gaps' worth of ledger, and an order book.
    func loadMarket() async throws {
        let candles = (0..<1_500).map { index in Self.candle(index) }
        _ = try await warehouse.loadKlines(
            candles, symbol: Self.btc, interval: .oneMinute, capturedAt: clock.now - 30_000,
            object: ProcessedObject(bucket: "crypto-raw", key: "2024-01-02/BTCUSDT_klines_1.json", processedAt: clock.now))
        _ = try await warehouse.rollUpPending()
        let book = OrderBookSnapshot(
            lastUpdateId: 42, bids: [level("100.00000001", "1"), level("99.5", "2")], asks: [level("100.00000002", "3"), level("101", "4")])
        _ = try await warehouse.loadOrderBook(
            book, symbol: Self.btc, capturedAt: clock.now - 10_000,
            object: ProcessedObject(bucket: "crypto-raw", key: "2024-01-02/BTCUSDT_depth_1.json", processedAt: clock.now))
        try await lake.put(bucket: "crypto-raw", key: "2024-01-02/BTCUSDT_klines_1.json", bytes: Array(repeating: 1, count: 100))
        try await lake.put(bucket: "crypto-raw", key: "2024-01-02/BTCUSDT_depth_1.json", bytes: Array(repeating: 1, count: 50))
    }

    /// Minute `index`: closes at 100 + index/100, one trade per minute.
    static func candle(_ index: Int) -> Kline {
        let close = try! ExactDecimal(parsing: "\(100 + index / 100).\(String(format: "%02d", index % 100))")
        let open = try! ExactDecimal(parsing: "\(100 + max(index - 1, 0) / 100).\(String(format: "%02d", max(index - 1, 0) % 100))")
        let openTime = start + Int64(index) * 60_000
        return Kline(
            openTime: openTime, open: open, high: max(open, close), low: min(open, close), close: close,
            volume: try! ExactDecimal(parsing: "1.5"),
            closeTime: openTime + 59_999, quoteVolume: try! ExactDecimal(parsing: "150.25"), tradeCount: 1,
            takerBuyBaseVolume: try! ExactDecimal(parsing: "0.5"), takerBuyQuoteVolume: try! ExactDecimal(parsing: "50"))
    }

    func level(_ price: String, _ quantity: String) -> PriceLevel {
        PriceLevel(price: try! ExactDecimal(parsing: price), quantity: try! ExactDecimal(parsing: quantity))
    }

    struct Reply {
        var status: HTTPResponse.Status
        var headers: HTTPFields
        var body: String
        var json: [String: Any] {
            (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:]
        }
        var errorCode: String? { (json["error"] as? [String: Any])?["code"] as? String }
    }

    /// Sends requests through the router (no sockets).
    func withClient(_ body: @escaping @Sendable (Client) async throws -> Void) async throws {
        let app = Application(router: WebApp.router(services: services).router)
        try await app.test(.router) { client in try await body(Client(client: client)) }
    }

    struct Client {
        let client: any TestClientProtocol

        /// A signed-in page session: the cookie to send and the form token its pages show.
        struct Session {
            var cookie: String
            var csrf: String
            var setCookie: String
            var location: String
        }

        /// Signs in with the admin token and reads the session's form token from a page.
        func signIn(next: String = "/settings", headers extra: HTTPFields = [:]) async throws -> Session {
            let reply = try await send(.post, "/signin", form: "token=\(APIFixture.token)&next=\(next)", headers: extra)
            let setCookie = try #require(reply.headers[.setCookie], "no cookie: \(reply.status) \(reply.body.prefix(200))")
            let cookie = String(try #require(setCookie.split(separator: ";").first))
            let page = try await send(.get, "/settings", cookie: cookie)
            let marker = "name=\"csrf\" value=\""
            let start = try #require(page.body.range(of: marker), "no form token on the page")
            let csrf = String(page.body[start.upperBound...].prefix { $0 != "\"" })
            return Session(cookie: cookie, csrf: csrf, setCookie: setCookie, location: reply.headers[.location] ?? "")
        }

        func send(
            _ method: HTTPRequest.Method = .get, _ uri: String, token: String? = nil, body: String? = nil, form: String? = nil,
            cookie: String? = nil, accept: String? = nil, headers extra: HTTPFields = [:]
        ) async throws -> Reply {
            var headers = extra
            if let token { headers[.authorization] = "Bearer \(token)" }
            if body != nil { headers[.contentType] = "application/json" }
            if form != nil { headers[.contentType] = "application/x-www-form-urlencoded" }
            if let cookie { headers[.cookie] = cookie }
            if let accept { headers[.accept] = accept }
            let body = body ?? form
            return try await client.execute(
                uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) }
            ) { response in
                Reply(status: response.status, headers: response.headers, body: String(buffer: response.body))
            }
        }
    }
}

/// An object store that fails every call: a lake that is down.
struct BrokenObjectStore: ObjectStore {
    func fail() -> ObjectStoreError {
        .io(operation: "reach", location: ObjectLocation(bucket: "crypto-raw", key: ""), detail: "disk gone")
    }
    func put(bucket: String, key: String, bytes: [UInt8]) async throws(ObjectStoreError) { throw fail() }
    func get(bucket: String, key: String) async throws(ObjectStoreError) -> [UInt8] { throw fail() }
    func head(bucket: String, key: String) async throws(ObjectStoreError) -> ObjectInfo? { throw fail() }
    func list(bucket: String, prefix: String) async throws(ObjectStoreError) -> [ObjectInfo] { throw fail() }
    func list(bucket: String, prefix: String, after: String?, limit: Int) async throws(ObjectStoreError) -> ObjectPage { throw fail() }
    func listFolders(bucket: String, prefix: String) async throws(ObjectStoreError) -> [String] { throw fail() }
    func copy(from source: ObjectLocation, to destination: ObjectLocation) async throws(ObjectStoreError) { throw fail() }
    func delete(bucket: String, key: String) async throws(ObjectStoreError) { throw fail() }
}
