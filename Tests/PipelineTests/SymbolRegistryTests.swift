import Exchange
import MarketData
import Pipeline
import PipelineTesting
import Synchronization
import Testing
import Warehouse

/// Symbol checks against exchangeInfo: close matches for a misspelt symbol, the listing kept a day but asked again for
/// an unknown symbol after ten minutes.
struct SymbolRegistryTests {
    @Test func misspeltHaltedAndNewlyListedSymbols() async throws {
        let folder = try TemporaryDirectory("symbols")
        defer { folder.remove() }
        let warehouse = try SQLiteWarehouse(path: folder.path + "/w.sqlite")
        try await warehouse.migrate()
        let clock = ManualClock(1_795_597_200_000)
        let source = ListingSource(listed: ["BTCUSDT": "TRADING", "ETHUSDT": "TRADING", "LUNAUSDT": "BREAK"])
        let registry = SymbolRegistry(warehouse: warehouse, seed: [], clock: clock.reader)
        let btc = try Symbol("BTCUSDT")

        try await registry.validate([btc, try Symbol("ETHUSDT")], with: source)
        await #expect(throws: SymbolRegistryError.notListed(try Symbol("BTCUSTD"), closeMatches: ["BTCUSDT"])) {
            try await registry.validate([try Symbol("BTCUSTD")], with: source)
        }
        await #expect(throws: SymbolRegistryError.notTrading(try Symbol("LUNAUSDT"), status: "BREAK")) {
            try await registry.validate([try Symbol("LUNAUSDT")], with: source)
        }
        #expect(source.calls.withLock { $0 } == 1, "one exchangeInfo for all checks within ten minutes")

        // A symbol listed since: found once the cached listing is more than ten minutes old.
        source.listed.withLock { $0["SOLUSDT"] = "TRADING" }
        clock.advance(milliseconds: 11 * 60_000)
        try await registry.validate([try Symbol("SOLUSDT")], with: source)
        #expect(source.calls.withLock { $0 } == 2)
        // Known symbols are answered from the listing for a day, then it is fetched again.
        clock.advance(milliseconds: 20 * 3_600_000)
        try await registry.validate([btc], with: source)
        #expect(source.calls.withLock { $0 } == 2)
        clock.advance(milliseconds: 5 * 3_600_000)
        try await registry.validate([btc], with: source)
        #expect(source.calls.withLock { $0 } == 3)
    }
}
