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

    init(services: WebAppServices) {
        self.services = services
        self.lakeStatistics = LakeStatisticsCache(lake: services.lake, layout: services.layout)
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

    /// Mutating endpoints need `Authorization: Bearer <CRYPTOPIPE_ADMIN_TOKEN>`.
    func requireAdmin(_ request: Request) throws(APIError) {
        guard let token = services.adminToken else {
            throw APIError(
                .forbidden, code: "admin_disabled",
                "changes are disabled because no admin token is set; set CRYPTOPIPE_ADMIN_TOKEN (16+ characters) and restart")
        }
        let header = request.headers[.authorization] ?? ""
        let prefix = "Bearer "
        guard header.hasPrefix(prefix), constantTimeEquals(String(header.dropFirst(prefix.count)), token) else {
            var headers = HTTPFields()
            headers[.wwwAuthenticate] = "Bearer"
            throw APIError(
                .unauthorized, code: "unauthorized", "send the admin token as 'Authorization: Bearer <token>'", headers: headers)
        }
    }

    var now: Int64 { services.clock.now() }

    /// A 200 JSON response for this exact URL, reused until the warehouse's data changes.
    func cached(_ request: Request, _ produce: () async throws -> [UInt8]) async throws -> Response {
        let version = try await services.warehouse.dataVersion()
        return ResponseCache.json(try await cache.body(key: request.uri.description, version: version, produce: produce))
    }
}

/// Objects and bytes per lake bucket. Listing a large lake is slow, so the figures are kept for a minute.
actor LakeStatisticsCache {
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
    private var cached: Snapshot?

    init(lake: any ObjectStore, layout: LakeLayout) {
        self.lake = lake
        self.layout = layout
    }

    func snapshot(now: Int64) async throws(ObjectStoreError) -> Snapshot {
        if let cached, now - cached.computedAt < 60_000, now >= cached.computedAt { return cached }
        let statistics = try await LakeStatistics.collect(lake: lake, layout: layout)
        let buckets = statistics.buckets.map { bucket in
            Bucket(
                name: bucket.name, objects: bucket.objects, bytes: bucket.bytes,
                days: bucket.days.filter { CivilDate(isoString: $0.folder) != nil }.count)
        }
        let snapshot = Snapshot(buckets: buckets, computedAt: now)
        cached = snapshot
        return snapshot
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
