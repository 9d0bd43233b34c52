public import Exchange
public import MarketData
public import Warehouse

/// The tracked symbols, persisted in the warehouse's `settings` so additions and removals made through the API survive
/// restarts. The configured list (`--symbols` / `CRYPTOPIPE_SYMBOLS`) seeds a warehouse that has none saved.
public actor SymbolRegistry {
    public static let settingKey = "symbols"

    let warehouse: any Warehouse
    let clock: PipelineClock
    private var current: [Symbol]?
    private let seed: [Symbol]
    private var listing: (symbols: [String: String], fetchedAt: Int64)?

    public init(warehouse: any Warehouse, seed: [Symbol], clock: PipelineClock = .system) {
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
                    WarehouseError(operation: "read the tracked symbols", detail: "setting '\(Self.settingKey)' holds '\(saved)': \(error)")
                )
            }
        }
        try await save(seed)
        return seed
    }

    /// Adds `symbol` after checking that the exchange lists it and trades it; adding a tracked symbol changes nothing.
    public func add(_ symbol: Symbol, validatingWith source: any MarketDataSource) async throws(SymbolRegistryError) -> [Symbol] {
        let list: [Symbol]
        do {
            list = try await symbols()
        } catch {
            throw .storage(error.description)
        }
        guard !list.contains(symbol) else { return list }
        let status = try await listedStatus(of: symbol, source: source)
        guard let status else { throw .notListed(symbol) }
        guard status == "TRADING" else { throw .notTrading(symbol, status: status) }
        do {
            try await save(list + [symbol])
        } catch {
            throw .storage(error.description)
        }
        return list + [symbol]
    }

    /// Stops tracking `symbol`; its stored data stays.
    public func remove(_ symbol: Symbol) async throws(SymbolRegistryError) -> [Symbol] {
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

    /// The exchange's status of `symbol` (`TRADING`, `BREAK`…), `nil` when it is not listed. exchangeInfo weighs 20,
    /// so its answer is kept for ten minutes.
    private func listedStatus(of symbol: Symbol, source: any MarketDataSource) async throws(SymbolRegistryError) -> String? {
        let now = clock.now()
        if let listing, now - listing.fetchedAt < 600_000, now >= listing.fetchedAt { return listing.symbols[symbol.rawValue] }
        let info: ExchangeInfo
        do {
            info = try await source.exchangeInfo().value
        } catch {
            throw .exchangeUnavailable(error.description)
        }
        let symbols = Dictionary(info.symbols.map { ($0.symbol, $0.status) }, uniquingKeysWith: { first, _ in first })
        listing = (symbols, now)
        return symbols[symbol.rawValue]
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

public enum SymbolRegistryError: Error, Sendable, Hashable, CustomStringConvertible {
    case notListed(Symbol)
    case notTrading(Symbol, status: String)
    case notTracked(Symbol)
    case exchangeUnavailable(String)
    case storage(String)

    public var description: String {
        switch self {
        case .notListed(let symbol): "\(symbol) is not listed on the exchange; check the spelling (e.g. BTCUSDT)"
        case .notTrading(let symbol, let status): "\(symbol) is listed but not trading (status \(status))"
        case .notTracked(let symbol): "\(symbol) is not tracked"
        case .exchangeUnavailable(let detail): "cannot check the symbol with the exchange: \(detail)"
        case .storage(let detail): "cannot save the symbols: \(detail)"
        }
    }
}
