import ArgumentParser
import DataLake
import Foundation
import MarketData
import WarehouseMySQL
import WebApp

/// Options every pipeline command shares.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "Folder for the embedded lake and warehouse (env CRYPTOPIPE_DATA_DIR, default ./data).")
    var dataDir: String?

    @Option(
        name: .long,
        help: """
            Warehouse URL: sqlite:<path> or mysql://user@host:3306/database, password in CRYPTOPIPE_MYSQL_PASSWORD \
            (env CRYPTOPIPE_WAREHOUSE, default sqlite:<data-dir>/warehouse.sqlite).
            """)
    var warehouse: String?

    @Option(
        name: .long,
        help: "Data lake: a folder path or s3://<raw-bucket> (env CRYPTOPIPE_LAKE, default <data-dir>/lake).")
    var lake: String?

    @OptionGroup(title: "S3 lake") var s3: S3Options

    @Option(name: .long, help: "Binance REST base URL (env CRYPTOPIPE_EXCHANGE_URL, default https://api.binance.com).")
    var exchangeURL: String?

    @Option(
        name: .long,
        help: """
            Local IP address exchange requests are sent from: Binance counts request weight per IP, so processes on one \
            machine with an address each get the whole budget (env CRYPTOPIPE_SOURCE_ADDRESS, default the system's choice).
            """)
    var sourceAddress: String?

    @Option(name: .long, help: "Comma-separated symbols (env CRYPTOPIPE_SYMBOLS, default BTCUSDT,ETHUSDT).")
    var symbols: String?

    @Option(
        name: .long,
        help: "Share of Binance's 6000/min request weight this process may use, percent 1-100 (env CRYPTOPIPE_WEIGHT_BUDGET, default 50).")
    var weightBudget: String?

    @Option(name: .long, help: "Seconds before an exchange request is abandoned (env CRYPTOPIPE_REQUEST_TIMEOUT, default 10).")
    var requestTimeout: String?

    @Option(name: .long, help: "trace, debug, info, notice, warning, error or critical (env CRYPTOPIPE_LOG_LEVEL, default info).")
    var logLevel: String?

    @Option(
        name: .long,
        help: """
            MySQL/MariaDB only: a database to keep read-only views with the original Python system's table and column \
            names in, for queries written against that schema (env CRYPTOPIPE_ORIGINAL_VIEWS, default none).
            """)
    var originalViews: String?

    /// Everything resolved and validated; no I/O.
    func resolve(_ settings: Settings = Settings()) throws(CLIError) -> ResolvedConfiguration {
        let dataDir = settings.text(dataDir, env: "CRYPTOPIPE_DATA_DIR", default: "./data")
        let warehouseText = settings.text(warehouse, env: "CRYPTOPIPE_WAREHOUSE", default: "sqlite:\(dataDir)/warehouse.sqlite")
        let lakeText = settings.text(lake, env: "CRYPTOPIPE_LAKE", default: "\(dataDir)/lake")
        let exchangeText = settings.text(exchangeURL, env: "CRYPTOPIPE_EXCHANGE_URL", default: "https://api.binance.com")
        let symbolText = settings.text(symbols, env: "CRYPTOPIPE_SYMBOLS", default: "BTCUSDT,ETHUSDT")
        let symbols: [Symbol]
        do {
            symbols = try Symbol.parseList(symbolText)
        } catch {
            throw .usage("\(error.description); symbols look like BTCUSDT (set --symbols or CRYPTOPIPE_SYMBOLS)")
        }
        let timeout = try settings.integer(
            requestTimeout, option: "--request-timeout", env: "CRYPTOPIPE_REQUEST_TIMEOUT", default: 10, range: 1...600)
        let level = try settings.value(
            logLevel, option: "--log-level", env: "CRYPTOPIPE_LOG_LEVEL", default: "info",
            expected: "trace, debug, info, notice, warning, error or critical"
        ) { ["trace", "debug", "info", "notice", "warning", "error", "critical"].contains($0.lowercased()) ? $0.lowercased() : nil }
        let weightBudgetPercent = try settings.integer(
            weightBudget, option: "--weight-budget", env: "CRYPTOPIPE_WEIGHT_BUDGET", default: 50, range: 1...100)
        let retentionDays = try settings.integer(
            nil, option: "--retention-days", env: "CRYPTOPIPE_RETENTION_DAYS", default: 90, range: 1...36_500)
        let archiveAfterDays = try settings.integer(
            nil, option: "--archive-after-days", env: "CRYPTOPIPE_ARCHIVE_AFTER_DAYS", default: 7, range: 1...36_500)
        let deleteArchiveAfterDays = try settings.integer(
            nil, option: "--delete-archive-after-days", env: "CRYPTOPIPE_DELETE_ARCHIVE_AFTER_DAYS", default: 30, range: 1...36_500)
        func source(_ flag: String?, _ env: String) -> String {
            flag != nil ? "flag" : (settings.environment[env].map { !$0.isEmpty } ?? false) ? "environment" : "default"
        }
        let exchange = try Self.validateExchangeURL(exchangeText)
        let sourceText = settings.text(sourceAddress, env: "CRYPTOPIPE_SOURCE_ADDRESS", default: "")
        let sourceAddress = try Self.validateSourceAddress(sourceText)
        let originalViewsText = settings.text(originalViews, env: "CRYPTOPIPE_ORIGINAL_VIEWS", default: "")
        let warehouseLocation = try Self.withOriginalViews(
            originalViewsText,
            in: try WarehouseLocation(parsing: warehouseText, mysqlPassword: settings.environment["CRYPTOPIPE_MYSQL_PASSWORD"]))
        let lakeLocation = try LakeLocation(parsing: lakeText)
        let s3Settings = try s3.resolve(settings)
        var entries = [
            ConfigurationEntry(name: "data_dir", value: dataDir, source: source(self.dataDir, "CRYPTOPIPE_DATA_DIR")),
            ConfigurationEntry(name: "warehouse", value: warehouseLocation.description, source: source(warehouse, "CRYPTOPIPE_WAREHOUSE")),
            ConfigurationEntry(name: "lake", value: lakeLocation.description, source: source(lake, "CRYPTOPIPE_LAKE")),
            ConfigurationEntry(
                name: "original_views", value: originalViewsText.isEmpty ? "none" : originalViewsText,
                source: source(originalViews, "CRYPTOPIPE_ORIGINAL_VIEWS")),
            ConfigurationEntry(
                name: "exchange_url", value: Self.redactingCredentials(exchange), source: source(exchangeURL, "CRYPTOPIPE_EXCHANGE_URL")),
            ConfigurationEntry(
                name: "source_address", value: sourceAddress ?? "default",
                source: source(self.sourceAddress, "CRYPTOPIPE_SOURCE_ADDRESS")),
            ConfigurationEntry(
                name: "initial_symbols", value: symbols.map(\.rawValue).joined(separator: ","),
                source: source(self.symbols, "CRYPTOPIPE_SYMBOLS")),
            ConfigurationEntry(
                name: "request_timeout_seconds", value: String(timeout), source: source(requestTimeout, "CRYPTOPIPE_REQUEST_TIMEOUT")),
            ConfigurationEntry(
                name: "weight_budget_percent", value: String(weightBudgetPercent), source: source(weightBudget, "CRYPTOPIPE_WEIGHT_BUDGET")),
            ConfigurationEntry(name: "retention_days", value: String(retentionDays), source: source(nil, "CRYPTOPIPE_RETENTION_DAYS")),
            ConfigurationEntry(
                name: "archive_after_days", value: String(archiveAfterDays), source: source(nil, "CRYPTOPIPE_ARCHIVE_AFTER_DAYS")),
            ConfigurationEntry(
                name: "delete_archive_after_days", value: String(deleteArchiveAfterDays),
                source: source(nil, "CRYPTOPIPE_DELETE_ARCHIVE_AFTER_DAYS")),
            ConfigurationEntry(name: "log_level", value: level, source: source(logLevel, "CRYPTOPIPE_LOG_LEVEL")),
        ]
        if case .s3 = lakeLocation { entries += s3Settings.entries() }
        return ResolvedConfiguration(
            dataDir: dataDir, warehouse: warehouseLocation, lake: lakeLocation, exchangeURL: exchange, sourceAddress: sourceAddress,
            symbols: symbols,
            symbolsGiven: source(self.symbols, "CRYPTOPIPE_SYMBOLS") != "default", requestTimeoutSeconds: timeout, logLevel: level,
            weightBudgetPercent: weightBudgetPercent, retentionDays: retentionDays, archiveAfterDays: archiveAfterDays,
            deleteArchiveAfterDays: deleteArchiveAfterDays,
            s3: s3Settings, entries: entries)
    }

    /// `location` with `--original-views` set (a MySQL warehouse only, another database of a valid name); unchanged
    /// when `database` is empty.
    static func withOriginalViews(_ database: String, in location: WarehouseLocation) throws(CLIError) -> WarehouseLocation {
        guard !database.isEmpty else { return location }
        guard case .mysql(var mysql) = location else {
            throw .usage(
                "--original-views needs a MySQL or MariaDB warehouse (--warehouse mysql://…); unset it or CRYPTOPIPE_ORIGINAL_VIEWS")
        }
        guard MySQLConfiguration.isValidDatabaseName(database), database != mysql.database else {
            throw .usage(
                "--original-views '\(MySQLConfiguration.redacted(database))' must name a database other than the "
                    + "warehouse's, of letters, digits and _ (at most 64)")
        }
        mysql.originalViewsDatabase = database
        return .mysql(mysql)
    }

    /// The URL without `user:password@`, for display.
    static func redactingCredentials(_ text: String) -> String {
        guard var components = URLComponents(string: text), components.user != nil || components.password != nil else { return text }
        components.user = components.user.map { _ in "[redacted]" }
        components.password = nil
        return components.string ?? "[redacted]"
    }

    /// A URL for an error message, well-formed or not: anything before an `@` may be `user:password`, so it is
    /// replaced, and the text is cut short.
    static func redactingAnyCredentials(_ text: String) -> String {
        var shown = text
        if let at = text.lastIndex(of: "@") {
            let scheme = text.range(of: "://").map { String(text[..<$0.upperBound]) } ?? ""
            shown = scheme + "[redacted]" + text[at...]
        }
        return shown.count > 200 ? String(shown.prefix(200)) + "…" : shown
    }

    /// `nil` for none; else an IP address of this machine (checked by binding a socket to it, so a typo or an address
    /// the machine lost is one line at start, not a failure on every request).
    static func validateSourceAddress(_ text: String) throws(CLIError) -> String? {
        guard !text.isEmpty else { return nil }
        let shown = LeadingGlobalOptions.shown(text)
        guard let address = LocalAddress.parse(text) else {
            throw .usage(
                "--source-address '\(shown)' is not an IP address: give one of this machine's, e.g. 192.0.2.10 or 2001:db8::10 "
                    + "(or unset CRYPTOPIPE_SOURCE_ADDRESS)")
        }
        if let failure = LocalAddress.bindFailure(address) {
            throw .usage(
                "--source-address '\(shown)' is not an address of this machine (\(failure)): give one `ip address` lists "
                    + "(or unset CRYPTOPIPE_SOURCE_ADDRESS)")
        }
        return text
    }

    static func validateExchangeURL(_ text: String) throws(CLIError) -> String {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let host = url.host, !host.isEmpty
        else {
            throw .usage(
                "exchange URL '\(redactingAnyCredentials(text))' is not valid: expected http(s)://host[:port], e.g. https://api.binance.com"
            )
        }
        return text.hasSuffix("/") ? String(text.dropLast()) : text
    }
}

struct ResolvedConfiguration {
    var dataDir: String
    var warehouse: WarehouseLocation
    var lake: LakeLocation
    var exchangeURL: String
    /// The local address exchange requests are sent from; `nil`: the system's choice.
    var sourceAddress: String?
    var symbols: [Symbol]
    /// Whether `--symbols` or `CRYPTOPIPE_SYMBOLS` was given (rather than the default list).
    var symbolsGiven: Bool
    var requestTimeoutSeconds: Int
    var logLevel: String
    /// Percent of the exchange's per-minute request weight this process may use.
    var weightBudgetPercent: Int
    var retentionDays: Int
    /// Raw objects move to the archive bucket after this many days…
    var archiveAfterDays: Int
    /// …and archived objects are deleted after this many.
    var deleteArchiveAfterDays: Int
    var s3: S3Options.Resolved
    /// The effective configuration with where each value came from, for `/api/config`.
    var entries: [ConfigurationEntry]

    /// Seeds a new warehouse with `symbols` instead of the default list (the demo tracks what its simulator lists).
    mutating func seedSymbols(_ symbols: [Symbol], source: String) {
        self.symbols = symbols
        if let index = entries.firstIndex(where: { $0.name == "initial_symbols" }) {
            entries[index] = ConfigurationEntry(
                name: "initial_symbols", value: symbols.map(\.rawValue).joined(separator: ","), source: source)
        }
    }
}

/// Where the warehouse lives, from `--warehouse`.
enum WarehouseLocation: Equatable {
    case sqlite(path: String)
    /// A MySQL 8 or MariaDB server; the password comes from the URL, else from `CRYPTOPIPE_MYSQL_PASSWORD`.
    case mysql(MySQLConfiguration)

    init(parsing text: String, mysqlPassword: String? = nil) throws(CLIError) {
        let lower = text.lowercased()
        if lower.hasPrefix("sqlite:") {
            var path = String(text.dropFirst("sqlite:".count))
            if path.hasPrefix("//") { path = String(path.dropFirst(2)) }
            guard !path.isEmpty else { throw .usage("warehouse URL '\(text)' has no file path: expected sqlite:<path>") }
            self = .sqlite(path: path)
        } else if lower.hasPrefix("mysql://") || lower.hasPrefix("mariadb://") {
            var configuration: MySQLConfiguration
            do {
                configuration = try MySQLConfiguration(url: text)
            } catch {
                throw .usage("\(error.description) (check --warehouse / CRYPTOPIPE_WAREHOUSE)")
            }
            if configuration.password == nil, let mysqlPassword, !mysqlPassword.isEmpty { configuration.password = mysqlPassword }
            self = .mysql(configuration)
        } else {
            throw .usage(
                "warehouse URL '\(MySQLConfiguration.redacted(text))' is not supported: expected sqlite:<path> "
                    + "(e.g. sqlite:data/warehouse.sqlite) or mysql://user@host:3306/database")
        }
    }

    /// Without any password.
    var description: String {
        switch self {
        case .sqlite(let path): "sqlite:\(path)"
        case .mysql(let configuration): configuration.description
        }
    }
}

/// Where the lake lives, from `--lake` (or `lake migrate`'s `--from`/`--to`).
enum LakeLocation: Equatable {
    case local(root: String)
    /// An S3-compatible store; the bucket holds raw objects, the archive bucket comes from the S3 options.
    case s3(bucket: String)

    init(parsing text: String) throws(CLIError) {
        guard !text.isEmpty else { throw .usage("lake location is empty: expected a folder path or s3://<bucket>") }
        if text.lowercased().hasPrefix("s3://") {
            var bucket = String(text.dropFirst("s3://".count))
            if bucket.hasSuffix("/") { bucket.removeLast() }
            guard !bucket.contains("/") else {
                throw .usage("lake URL '\(text)' names a path: expected only a bucket, e.g. s3://crypto-raw")
            }
            try S3Options.validateBucket(bucket, what: "lake bucket in '\(text)'")
            self = .s3(bucket: bucket)
            return
        }
        if text.lowercased().hasPrefix("file://") {
            let path = String(text.dropFirst("file://".count))
            guard !path.isEmpty else { throw .usage("lake URL '\(text)' has no path") }
            self = .local(root: path)
            return
        }
        if let colon = text.firstIndex(of: ":"), text[..<colon].allSatisfy({ $0.isLetter }),
            text[text.index(after: colon)...].hasPrefix("//")
        {
            throw .usage("lake URL '\(text)' is not supported: expected a folder path, file://<path> or s3://<bucket>")
        }
        self = .local(root: text)
    }

    var description: String {
        switch self {
        case .local(let root): root
        case .s3(let bucket): "s3://\(bucket)"
        }
    }
}
