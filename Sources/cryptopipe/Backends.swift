import AsyncHTTPClient
import DataLake
import Exchange
import Foundation
import Logging
import MarketData
import Pipeline
import ServiceLifecycle
import Synchronization
import Warehouse
import WarehouseMySQL

/// The composition root: the only place that picks concrete backends for the configuration.
struct Backends {
    let configuration: ResolvedConfiguration
    let warehouse: any Warehouse
    /// The pages' sign-in sessions: kept in the same warehouse.
    let sessions: any SessionStore
    let lake: any ObjectStore
    let layout: LakeLayout
    let logger: Logger
    /// One request-weight budget for every exchange client of the process.
    let budget: WeightBudget
    /// What a long-running command adds to its ServiceGroup for the warehouse (the MySQL pool's retry stopper), and
    /// runs after the group ended.
    var warehouseServices: [any Service] = []
    var closeWarehouse: @Sendable () async -> Void = {}
    /// The exchange's time for this process: measured by the extractors, and until then (or in a process that never
    /// talks to the exchange) the offset the collector stored last.
    let exchangeClock = ExchangeClock()

    /// "Now" on the exchange's clock, for what reasons about market time: first fetches and lag. Bookkeeping
    /// (ledger times, backoffs, gap records) stays on the local clock.
    var marketClock: PipelineClock {
        let clock = exchangeClock
        return PipelineClock { clock.now() }
    }

    /// The earlier of the two clocks, for deleting by age: a rehearsal on a replay of 2021 keeps its 2021 minutes, and
    /// no clock reading, however wrong, makes retention or lake ageing run ahead of the local clock.
    var retentionClock: PipelineClock {
        let clock = exchangeClock
        return PipelineClock { min(clock.now(), clock.local.now()) }
    }

    /// Opens the warehouse (migrating it) and the lake.
    static func open(_ configuration: ResolvedConfiguration) async throws -> Backends {
        LogSetup.bootstrapOnce(level: configuration.logLevel)
        let logger = Logger(label: "cryptopipe")
        // The lake first: a missing credential is a usage error that should not leave a new warehouse file behind.
        let (lake, layout) = try openLake(configuration.lake, configuration: configuration, logger: logger)
        let warehouse: any Warehouse
        let sessions: any SessionStore
        var warehouseServices: [any Service] = []
        var closeWarehouse: @Sendable () async -> Void = {}
        switch configuration.warehouse {
        case .sqlite(let path):
            try createFolder(for: path, what: "warehouse")
            let sqlite: SQLiteWarehouse
            do {
                sqlite = try SQLiteWarehouse(path: path)
            } catch {
                throw CLIError("\(error.description) (check --warehouse / CRYPTOPIPE_WAREHOUSE)")
            }
            try await sqlite.migrate()
            warehouse = sqlite
            sessions = sqlite
        case .mysql(let mysqlConfiguration):
            do {
                try MariaDBClientLibrary.load()
            } catch {
                throw CLIError(error.message)
            }
            var mysqlLogger = logger
            mysqlLogger[metadataKey: "mysql.server"] = "\(mysqlConfiguration.host):\(mysqlConfiguration.port)"
            let mysql = MySQLWarehouse(configuration: mysqlConfiguration, logger: mysqlLogger)
            do {
                try await mysql.migrate()
            } catch {
                throw CLIError("\(error.description) (check --warehouse / CRYPTOPIPE_WAREHOUSE and CRYPTOPIPE_MYSQL_PASSWORD)")
            }
            warehouse = mysql
            sessions = mysql
            warehouseServices = [mysql.retryService]
            closeWarehouse = { await mysql.shutdown() }
        }
        let budget = WeightBudget(configuration: .init(sharePercent: configuration.weightBudgetPercent), clock: .system)
        let backends = Backends(
            configuration: configuration, warehouse: warehouse, sessions: sessions, lake: lake, layout: layout, logger: logger,
            budget: budget, warehouseServices: warehouseServices, closeWarehouse: closeWarehouse)
        if let stored = try await ExchangeClockSync.stored(in: warehouse) { backends.exchangeClock.adopt(stored) }
        return backends
    }

    /// The store and bucket names for a lake location; S3 settings and credentials come from the configuration.
    /// `readsEveryLayout`: the caller reads a folder's original layout as well as ours (`lake migrate`), so a folder
    /// holding both is not warned about.
    static func openLake(
        _ location: LakeLocation, configuration: ResolvedConfiguration, logger: Logger, readsEveryLayout: Bool = false
    ) throws(CLIError) -> (any ObjectStore, LakeLayout) {
        switch location {
        case .local(let root):
            do {
                try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            } catch {
                throw CLIError("cannot create lake folder '\(root)': \(error.localizedDescription) (check --lake / CRYPTOPIPE_LAKE)")
            }
            let layout = LakeLayout.of(localFolder: root)
            if layout == .originalLocal {
                logger.info(
                    "the lake folder has the original system's layout: raw/ is read and written as crypto-raw, archive/ as crypto-archive",
                    metadata: ["lake.root": "\(root)"])
            } else if !readsEveryLayout, LakeLayout.layouts(inLocalFolder: root).count > 1 {
                logger.warning(
                    "the lake folder holds both the original system's raw/ and archive/ and crypto-raw/ and crypto-archive/; only the latter are used",
                    metadata: [
                        "lake.root": "\(root)",
                        "hint": "copy the original objects in: cryptopipe lake migrate --from \(root) --to <another folder or s3://bucket>",
                    ])
            }
            return (LocalObjectStore(root: root), layout)
        case .s3(let bucket):
            let s3 = try configuration.s3.configuration(requestTimeoutSeconds: configuration.requestTimeoutSeconds)
            var s3Logger = logger
            s3Logger[metadataKey: "s3.endpoint"] = "\(s3.effectiveEndpoint)"
            return (
                S3ObjectStore(configuration: s3, logger: s3Logger),
                LakeLayout(rawBucket: bucket, archiveBucket: configuration.s3.archiveBucket)
            )
        }
    }

    func exchange(baseURL: String? = nil, usage: ExchangeUsageMonitor = ExchangeUsageMonitor()) -> any MarketDataSource {
        BinanceClient(
            configuration: .init(
                baseURL: baseURL ?? configuration.exchangeURL, requestTimeout: .seconds(configuration.requestTimeoutSeconds), usage: usage,
                budget: budget, exchangeClock: exchangeClock, sourceAddress: configuration.sourceAddress),
            httpClient: HTTPClient.shared, logger: logger)
    }

    func extractor(_ options: ExtractOptions, source: any MarketDataSource) -> Extractor {
        Extractor(
            configuration: .init(symbols: configuration.symbols, initialCandles: options.initialCandles, depthLimit: options.depthLimit),
            source: source, lake: lake, layout: layout, warehouse: warehouse, clock: marketClock,
            clockSync: ExchangeClockSync(clock: exchangeClock, source: source, warehouse: warehouse, logger: logger), logger: logger)
    }

    /// Checks `--symbols` / `CRYPTOPIPE_SYMBOLS`, when given, against the exchange's listing: a misspelt symbol is a
    /// usage error with close matches. When the exchange cannot be asked, the run itself reports that.
    func validateGivenSymbols(source: any MarketDataSource) async throws(CLIError) {
        guard configuration.symbolsGiven else { return }
        do {
            try await SymbolRegistry(warehouse: warehouse, seed: configuration.symbols).validate(configuration.symbols, with: source)
        } catch  where error.code == .exchangeUnavailable {
            logger.warning("cannot check the symbols with the exchange", metadata: ["error": "\(error.detail)"])
        } catch {
            throw .usage("\(error.description) (check --symbols / CRYPTOPIPE_SYMBOLS)")
        }
    }

    func maintenance() -> Maintenance {
        Maintenance(
            configuration: .init(
                retentionDays: configuration.retentionDays,
                lake: .init(archiveAfterDays: configuration.archiveAfterDays, deleteAfterDays: configuration.deleteArchiveAfterDays)),
            warehouse: warehouse, lake: lake, layout: layout, clock: retentionClock, logger: logger)
    }

    func transformer(rescan: Bool = false) -> Transformer {
        Transformer(lake: lake, layout: layout, warehouse: warehouse, rescan: rescan, logger: logger)
    }

    private static func createFolder(for file: String, what: String) throws {
        let folder = (file as NSString).deletingLastPathComponent
        guard !folder.isEmpty else { return }
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw CLIError("cannot create \(what) folder '\(folder)': \(error.localizedDescription)")
        }
    }
}

enum LogSetup {
    private static let bootstrapped = Mutex(false)

    /// swift-log may be bootstrapped once per process; logs go to stderr so stdout stays for data.
    static func bootstrapOnce(level: String) {
        let first = bootstrapped.withLock { done in
            defer { done = true }
            return !done
        }
        guard first else { return }
        let logLevel = Logger.Level(rawValue: level) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = logLevel
            return handler
        }
    }
}
