import AsyncHTTPClient
import DataLake
import Exchange
import Foundation
import Logging
import Pipeline
import Synchronization
import Warehouse

/// The composition root: the only place that picks concrete backends for the configuration.
struct Backends {
    let configuration: ResolvedConfiguration
    let warehouse: any Warehouse
    let lake: any ObjectStore
    let layout = LakeLayout()
    let logger: Logger

    /// Opens the warehouse (migrating it) and the lake.
    static func open(_ configuration: ResolvedConfiguration) async throws -> Backends {
        LogSetup.bootstrapOnce(level: configuration.logLevel)
        let logger = Logger(label: "cryptopipe")
        let warehouse: any Warehouse
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
        }
        let lake: any ObjectStore
        switch configuration.lake {
        case .local(let root):
            do {
                try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            } catch {
                throw CLIError("cannot create lake folder '\(root)': \(error.localizedDescription) (check --lake / CRYPTOPIPE_LAKE)")
            }
            lake = LocalObjectStore(root: root)
        }
        return Backends(configuration: configuration, warehouse: warehouse, lake: lake, logger: logger)
    }

    func exchange(baseURL: String? = nil, usage: ExchangeUsageMonitor = ExchangeUsageMonitor()) -> any MarketDataSource {
        BinanceClient(
            configuration: .init(
                baseURL: baseURL ?? configuration.exchangeURL, requestTimeout: .seconds(configuration.requestTimeoutSeconds), usage: usage),
            httpClient: HTTPClient.shared, logger: logger)
    }

    func extractor(_ options: ExtractOptions, source: any MarketDataSource) -> Extractor {
        Extractor(
            configuration: .init(symbols: configuration.symbols, initialCandles: options.initialCandles, depthLimit: options.depthLimit),
            source: source, lake: lake, layout: layout, warehouse: warehouse, logger: logger)
    }

    func transformer() -> Transformer {
        Transformer(lake: lake, layout: layout, warehouse: warehouse, logger: logger)
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
