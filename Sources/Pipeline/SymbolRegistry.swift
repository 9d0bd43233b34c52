public import Exchange
public import MarketData
public import Warehouse

/// The tracked symbols, persisted in the warehouse's `settings` so additions and removals made through the API survive
/// restarts. The configured list (`--symbols` / `CRYPTOPIPE_SYMBOLS`) seeds a warehouse that has none saved.
public actor SymbolRegistry {
    public static let settingKey = "symbols"

    let warehouse: any SettingsStore
    let clock: PipelineClock
    private var current: [Symbol]?
    private let seed: [Symbol]
    private var listing: (symbols: [String: String], fetchedAt: Int64)?
    /// Additions and removals one at a time, so concurrent ones end like some sequence of them.
    private let changes = ChangeLock()

    public init(warehouse: any SettingsStore, seed: [Symbol], clock: PipelineClock = .system) {
        self.warehouse = warehouse
        self.seed = seed
        self.clock = clock
    }

    /// The tracked symbols, in the order they were added.
    public func symbols() async throws(PipelineError) -> [Symbol] {
        if let current { return current }
        let saved: String?
        do {
            saved = try await warehouse.setting(Self.settingKey)
        } catch {
            throw .warehouse(error)
        }
        if let saved {
            if saved.isEmpty {
                current = []
                return []
            }
            do {
                let parsed = try Symbol.parseList(saved)
                current = parsed
                return parsed
            } catch {
                throw .warehouse(
                    WarehouseError(
                        .invalidData, operation: "read the tracked symbols",
                        detail: "setting '\(Self.settingKey)' holds '\(saved)': \(error)")
                )
            }
        }
        try await save(seed)
        return seed
    }

    /// The tracked symbols as saved now: another process (a `serve`, another worker) may have changed them.
    public func refreshed() async throws(PipelineError) -> [Symbol] {
        await changes.acquire()
        defer { changes.release() }
        current = nil
        return try await symbols()
    }

    /// Adds `symbol` after checking that the exchange lists it and trades it; adding a tracked symbol changes nothing.
    public func add(_ symbol: Symbol, validatingWith source: any MarketDataSource) async throws(SymbolRegistryError) -> [Symbol] {
        // Asked before taking the lock, so a slow exchange does not hold up every other change.
        if let current, current.contains(symbol) { return current }
        try await validate([symbol], with: source)
        await changes.acquire()
        defer { changes.release() }
        let list: [Symbol]
        do {
            list = try await symbols()
        } catch {
            throw .storage(error.description)
        }
        guard !list.contains(symbol) else { return list }
        do {
            try await save(list + [symbol])
        } catch {
            throw .storage(error.description)
        }
        return list + [symbol]
    }

    /// Stops tracking `symbol`; its stored data stays.
    public func remove(_ symbol: Symbol) async throws(SymbolRegistryError) -> [Symbol] {
        await changes.acquire()
        defer { changes.release() }
        let list: [Symbol]
        do {
            list = try await symbols()
        } catch {
            throw .storage(error.description)
        }
        guard list.contains(symbol) else { throw .notTracked(symbol) }
        let remaining = list.filter { $0 != symbol }
        do {
            try await save(remaining)
        } catch {
            throw .storage(error.description)
        }
        return remaining
    }

    /// Checks that the exchange lists and trades every symbol; the first that fails is the error, with close matches
    /// when it is not listed.
    public func validate(_ symbols: [Symbol], with source: any MarketDataSource) async throws(SymbolRegistryError) {
        for symbol in symbols {
            let listed = try await listing(source: source, refreshingFor: symbol)
            guard let status = listed.symbols[symbol.rawValue] else {
                throw .notListed(symbol, closeMatches: SymbolSuggestions.closest(to: symbol.rawValue, in: listed.symbols.keys))
            }
            guard status == "TRADING" else { throw .notTrading(symbol, status: status) }
        }
    }

    /// Symbol → status from exchangeInfo (which weighs 20): kept for a day, and fetched again for a symbol it does not
    /// list when it is more than ten minutes old, so a new listing is seen soon without asking on every check.
    private func listing(
        source: any MarketDataSource, refreshingFor symbol: Symbol
    ) async throws(SymbolRegistryError) -> (symbols: [String: String], fetchedAt: Int64) {
        let now = clock.now()
        if let listing, now >= listing.fetchedAt {
            let age = now - listing.fetchedAt
            if age < 86_400_000, listing.symbols[symbol.rawValue] != nil || age < 600_000 { return listing }
        }
        let info: ExchangeInfo
        do {
            info = try await source.exchangeInfo().value
        } catch {
            throw .exchangeUnavailable(error.description)
        }
        let fresh = (Dictionary(info.symbols.map { ($0.symbol, $0.status) }, uniquingKeysWith: { first, _ in first }), now)
        listing = fresh
        return fresh
    }

    private func save(_ symbols: [Symbol]) async throws(PipelineError) {
        do {
            try await warehouse.saveSetting(Self.settingKey, value: symbols.map(\.rawValue).joined(separator: ","), at: clock.now())
        } catch {
            throw .warehouse(error)
        }
        current = symbols
    }
}

/// Why the tracked symbols could not be changed or read: a struct over a private set of kinds, so adding one does not
/// break callers.
public struct SymbolRegistryError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable {
        private enum Base: Sendable, Hashable { case notListed, notTrading, notTracked, exchangeUnavailable, storage }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The exchange does not list the symbol.
        public static let notListed = Code(.notListed)
        /// Listed, but its status is not `TRADING`.
        public static let notTrading = Code(.notTrading)
        /// Removing a symbol that is not tracked.
        public static let notTracked = Code(.notTracked)
        /// The exchange could not be asked.
        public static let exchangeUnavailable = Code(.exchangeUnavailable)
        /// The warehouse could not read or save the list.
        public static let storage = Code(.storage)
    }

    public let code: Code
    public let symbol: Symbol?
    /// Listed symbols spelled like the one asked for (``Code/notListed``).
    public let closeMatches: [String]
    /// The exchange's status (``Code/notTrading``) or the failure's detail.
    public let detail: String

    private init(_ code: Code, symbol: Symbol? = nil, closeMatches: [String] = [], detail: String = "") {
        self.code = code
        self.symbol = symbol
        self.closeMatches = closeMatches
        self.detail = detail
    }

    public static func notListed(_ symbol: Symbol, closeMatches: [String]) -> SymbolRegistryError {
        SymbolRegistryError(.notListed, symbol: symbol, closeMatches: closeMatches)
    }
    public static func notTrading(_ symbol: Symbol, status: String) -> SymbolRegistryError {
        SymbolRegistryError(.notTrading, symbol: symbol, detail: status)
    }
    public static func notTracked(_ symbol: Symbol) -> SymbolRegistryError { SymbolRegistryError(.notTracked, symbol: symbol) }
    public static func exchangeUnavailable(_ detail: String) -> SymbolRegistryError {
        SymbolRegistryError(.exchangeUnavailable, detail: detail)
    }
    public static func storage(_ detail: String) -> SymbolRegistryError { SymbolRegistryError(.storage, detail: detail) }

    public var description: String {
        let symbol = symbol.map(\.rawValue) ?? "?"
        switch code {
        case .notListed:
            return "\(symbol) is not listed on the exchange; "
                + (closeMatches.isEmpty ? "check the spelling (e.g. BTCUSDT)" : "did you mean \(closeMatches.joined(separator: ", "))?")
        case .notTrading: return "\(symbol) is listed but not trading (status \(detail))"
        case .notTracked: return "\(symbol) is not tracked"
        case .exchangeUnavailable: return "cannot check the symbol with the exchange: \(detail)"
        default: return "cannot save the symbols: \(detail)"
        }
    }
}
