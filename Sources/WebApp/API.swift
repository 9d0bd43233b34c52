import DataLake
import Exchange
import Hummingbird
import Logging
import MarketData
import Pipeline
import Synchronization
import Warehouse

/// The JSON API's handlers over the shared services.
struct API: Sendable {
    let services: WebAppServices
    let lakeStatistics: LakeStatisticsCache
    /// Symbols with a freshness gauge, so removed ones can be unregistered.
    let gaugeSymbols = Locked(Set<String>())
    let cache = ResponseCache()
    /// Windows of rendered 1m, 1h and 1d candles, so candle requests with any `end` are answered without a read.
    let candleWindows = CandleWindowCache()
    /// Complete candles of 3m–30m formed before, so a request after new data reads only the newest minutes.
    let formedCandles = FormedCandleCache()
    /// Row counts and ledger totals: `count(*)` over the fact tables is not paid per request.
    let warehouseStatistics: SingleFlight<WarehouseStatistics>
    /// The dashboard's figures, per data version and at most every 15 s (the page's refresh).
    let dashboardFigures: SingleFlight<[UInt8]>
    /// Failed sign-ins and Bearer tokens per client address.
    let authenticationFailures = FailureThrottle()
    /// Live candle streams that poll the warehouse, and the reads they share.
    let streamPolls = StreamPolls()
    let newestCandles = NewestCandles()

    init(services: WebAppServices) {
        self.services = services
        let clock = services.clock
        self.lakeStatistics = LakeStatisticsCache(lake: services.lake, layout: services.layout, clock: clock)
        self.warehouseStatistics = SingleFlight(maximumAge: 60_000, clock: clock)
        self.dashboardFigures = SingleFlight(maximumAge: 15_000, clock: clock)
    }

    struct WarehouseStatistics: Sendable {
        var tableCounts: [String: Int]
        var ledger: LedgerSummary
    }

    /// Table counts and ledger totals, counted at most once a minute whoever asks.
    func warehouseFigures() async throws -> SingleFlight<WarehouseStatistics>.Stamped {
        let warehouse = services.warehouse
        return try await warehouseStatistics.value(now: now) {
            WarehouseStatistics(tableCounts: try await warehouse.tableCounts(), ledger: try await warehouse.ledgerSummary())
        }
    }

    /// Checks a presented secret with `isCorrect` unless the client failed too often: then `429` with `Retry-After`
    /// (logged once per client and minute), whether or not the secret is right. Returns whether it was right.
    func authenticate(_ client: String, _ isCorrect: () -> Bool) throws(APIError) -> Bool {
        switch authenticationFailures.attempt(by: client, now: now, isCorrect) {
        case .accepted: return true
        case .rejected: return false
        case .refused(let refusal): throw refused(client, refusal)
        }
    }

    private func refused(_ client: String, _ refusal: FailureThrottle.Refusal) -> APIError {
        if refusal.shouldLog {
            services.logger.warning(
                "too many failed sign-ins or admin tokens; refusing the client for a while",
                metadata: ["http.client": "\(client)", "retry_after_seconds": "\(refusal.retryAfterSeconds)"])
        }
        var headers = HTTPFields()
        headers[.retryAfter] = String(refusal.retryAfterSeconds)
        return APIError(
            .tooManyRequests, code: "too_many_failures",
            "too many failed attempts from this address; try again in \(refusal.retryAfterSeconds) s", headers: headers)
    }

    /// Symbols that are tracked or have stored data are known; anything else is a 404 that says how to add it.
    func requireKnown(_ symbol: Symbol) async throws {
        if try await services.symbols.symbols().contains(symbol) { return }
        let hasMinutes = try await !services.warehouse.recentKlines(
            symbol: symbol, interval: .oneMinute, endingAt: Int64.max, includeOpen: true, limit: 1
        ).isEmpty
        if hasMinutes { return }
        let hasHours = try await !services.warehouse.recentKlines(
            symbol: symbol, interval: .oneHour, endingAt: Int64.max, includeOpen: true, limit: 1
        ).isEmpty
        if hasHours { return }
        throw APIError.notFound(
            "unknown_symbol", "\(symbol) is not tracked and has no stored data; add it with POST /api/config/symbols")
    }

    /// Mutating endpoints need `Authorization: Bearer <CRYPTOPIPE_ADMIN_TOKEN>`; wrong tokens count towards the
    /// client's throttle.
    func requireAdmin(_ request: Request, _ context: WebRequestContext) throws(APIError) {
        guard let token = services.adminToken else {
            throw APIError(
                .forbidden, code: "admin_disabled",
                "changes are disabled because no admin token is set; set CRYPTOPIPE_ADMIN_TOKEN (16+ characters) and restart")
        }
        let prefix = "Bearer "
        // A request without a token is not a guess and is not counted; a wrong one is.
        let presented = request.headers[.authorization].map { $0.hasPrefix(prefix) ? String($0.dropFirst(prefix.count)) : "" }
        let correct = try presented.map { presented throws(APIError) in
            try authenticate(context.clientAddress) { constantTimeEquals(presented, token) }
        }
        guard correct == true else {
            var headers = HTTPFields()
            headers[.wwwAuthenticate] = "Bearer"
            throw APIError(
                .unauthorized, code: "unauthorized", "send the admin token as 'Authorization: Bearer <token>'", headers: headers)
        }
    }

    var now: Int64 { services.clock.now() }

    /// Candles of every interval from the stored ones.
    var candleReader: CandleReader { CandleReader(services.warehouse, formed: formedCandles) }

    /// A 200 JSON response for `key`, reused until the warehouse's data changes. The key is made of the route and
    /// the parameters it read, after validation, so padding a URL with other parameters cannot add entries.
    func cached(_ key: String, _ produce: () async throws -> [UInt8]) async throws -> Response {
        let version = try await services.warehouse.dataVersion()
        return ResponseCache.json(try await cache.body(key: key, version: version, produce: produce))
    }
}

/// Objects and bytes per lake bucket. Listing a large lake is slow, so the figures are kept for a minute.
struct LakeStatisticsCache: Sendable {
    struct Bucket: Sendable {
        var name: String
        var objects: Int
        var bytes: Int
        var days: Int
    }

    struct Snapshot: Sendable {
        var buckets: [Bucket]
        var computedAt: Int64
    }

    let lake: any ObjectStore
    let layout: LakeLayout
    private let listing: SingleFlight<[Bucket]>

    init(lake: any ObjectStore, layout: LakeLayout, clock: PipelineClock) {
        self.lake = lake
        self.layout = layout
        self.listing = SingleFlight(maximumAge: 60_000, clock: clock)
    }

    /// Lists the lake at most once a minute, and once for any number of concurrent callers.
    func snapshot(now: Int64) async throws(ObjectStoreError) -> Snapshot {
        let lake = self.lake
        let layout = self.layout
        do {
            let stamped = try await listing.value(now: now) {
                let statistics = try await LakeStatistics.collect(lake: lake, layout: layout)
                return statistics.buckets.map { bucket in
                    Bucket(
                        name: bucket.name, objects: bucket.objects, bytes: bucket.bytes,
                        days: bucket.days.filter { CivilDate(isoString: $0.folder) != nil }.count)
                }
            }
            return Snapshot(buckets: stamped.value, computedAt: stamped.computedAt)
        } catch let error as ObjectStoreError {
            throw error
        } catch {
            throw ObjectStoreError.io(
                operation: "list", location: ObjectLocation(bucket: layout.rawBucket, key: ""), detail: "\(error)")
        }
    }
}

/// A value behind a lock, shareable between requests.
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    init(_ value: Value) {
        mutex = Mutex(value)
    }

    func withLock<Result>(_ body: (inout Value) -> Result) -> Result {
        mutex.withLock { body(&$0) }
    }
}
