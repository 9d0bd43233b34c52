public import DataLake
public import Exchange
public import Logging
public import MarketData
public import Pipeline
public import Prometheus
public import Warehouse

/// The warehouse roles the API and the pages read (and Settings writes: the tracked symbols).
public typealias WebWarehouse =
    StoredCandles & OrderBookStore & ObjectLedger & ExtractionLedger & GapStore & JobRunStore & SettingsStore & LeaseStore
    & WarehouseOverview

/// Everything the API and the pages read and steer: the same objects the pipeline uses, not HTTP loopbacks.
public struct WebAppServices: Sendable {
    public var warehouse: any WebWarehouse
    public var lake: any ObjectStore
    public var layout: LakeLayout
    public var scheduler: JobScheduler
    public var symbols: SymbolRegistry
    /// Used to check symbols against exchangeInfo before they are tracked.
    public var exchange: any MarketDataSource
    public var exchangeUsage: ExchangeUsageMonitor
    /// The effective configuration, secrets already redacted, in display order.
    public var configuration: [ConfigurationEntry]
    /// Required as `Authorization: Bearer …` by every mutating endpoint; `nil` disables them (403).
    public var adminToken: String?
    /// Where the pages' sign-in sessions live (the warehouse, in the composition root).
    public var sessions: any SessionStore
    /// The URL people reach the pages at (`--public-url`), when it is known; `https://` gives cookies `Secure`.
    public var publicURL: String?
    /// Whether `GET /signin?token=…` signs in, for the link `demo` prints with the token it made for its own run; a
    /// token chosen by an operator is only ever typed into the form, so it does not end up in URLs.
    public var signInLinks: Bool
    /// The local clock: sessions, throttles and caches.
    public var clock: PipelineClock
    /// The exchange's clock: how late the data is. The collector's own in `run`; in `serve`, the offset the collector
    /// stored in the warehouse.
    public var exchangeClock: ExchangeClock
    public var metrics: PrometheusCollectorRegistry
    public var logger: Logger
    /// The stream collector's k-line events as they arrive, in a process that collects from streams; `nil` elsewhere
    /// (the live pages then read the newest stored candles every few seconds).
    public var liveCandles: LiveCandles?

    public init(
        warehouse: any WebWarehouse, lake: any ObjectStore, layout: LakeLayout, scheduler: JobScheduler, symbols: SymbolRegistry,
        exchange: any MarketDataSource, exchangeUsage: ExchangeUsageMonitor, configuration: [ConfigurationEntry], adminToken: String?,
        sessions: any SessionStore, publicURL: String? = nil, signInLinks: Bool = false, clock: PipelineClock = .system,
        exchangeClock: ExchangeClock? = nil, metrics: PrometheusCollectorRegistry, logger: Logger, liveCandles: LiveCandles? = nil
    ) {
        self.liveCandles = liveCandles
        self.warehouse = warehouse
        self.lake = lake
        self.layout = layout
        self.scheduler = scheduler
        self.symbols = symbols
        self.exchange = exchange
        self.exchangeUsage = exchangeUsage
        self.configuration = configuration
        self.adminToken = adminToken
        self.sessions = sessions
        self.publicURL = publicURL
        self.signInLinks = signInLinks
        self.clock = clock
        // Without a measured clock of its own, the exchange's time starts as the local one (tests' virtual clocks).
        self.exchangeClock = exchangeClock ?? ExchangeClock(local: clock)
        self.metrics = metrics
        self.logger = logger
    }
}

extension WebAppServices {
    var publicURLIsHTTPS: Bool { publicURL?.lowercased().hasPrefix("https://") ?? false }
}

/// One line of the effective configuration.
public struct ConfigurationEntry: Sendable, Hashable {
    public var name: String
    /// Already redacted when secret.
    public var value: String
    /// `flag`, `environment` or `default`.
    public var source: String
    public var secret: Bool

    public init(name: String, value: String, source: String, secret: Bool = false) {
        self.name = name
        self.value = secret ? (value.isEmpty ? "" : "[redacted]") : value
        self.source = source
        self.secret = secret
    }
}
