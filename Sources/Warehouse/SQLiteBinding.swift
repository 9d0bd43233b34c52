import GRDB
import GRDBSQLite
import MarketData

/// SQLite copies the bound bytes before `sqlite3_bind_text` returns.
let sqliteTransient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// Binds exact decimals as canonical text written into one scratch buffer, a slot per parameter of a row.
///
/// The buffer outlives each step, so SQLite reads the text in place (no destructor) instead of copying it, and no
/// string is made per value: loads bind eight decimals for every candle.
struct CanonicalDecimalBinder: ~Copyable {
    private let handle: SQLiteStatement
    private let scratch: UnsafeMutablePointer<UInt8>
    private static let slotLength = ExactDecimal.maxCanonicalLength

    init(_ handle: SQLiteStatement, slots: Int) {
        self.handle = handle
        scratch = .allocate(capacity: Self.slotLength * slots)
    }

    deinit { scratch.deallocate() }

    /// Binds a candle's eight decimals (open, high, low, close, volume, quote volume, taker buy base and quote
    /// volume, in that order) to `parameters`, slots 0 to 7.
    func bindDecimals(of candle: Kline, to parameters: [Int32]) {
        bind(parameters[0], candle.open, slot: 0)
        bind(parameters[1], candle.high, slot: 1)
        bind(parameters[2], candle.low, slot: 2)
        bind(parameters[3], candle.close, slot: 3)
        bind(parameters[4], candle.volume, slot: 4)
        bind(parameters[5], candle.quoteVolume, slot: 5)
        bind(parameters[6], candle.takerBuyBaseVolume, slot: 6)
        bind(parameters[7], candle.takerBuyQuoteVolume, slot: 7)
    }

    /// Binds `value` to parameter `index`, using slot `slot` (each parameter of a row needs its own).
    func bind(_ index: Int32, _ value: ExactDecimal, slot: Int) {
        let start = scratch + slot * Self.slotLength
        let length = value.writeCanonical(into: start)
        start.withMemoryRebound(to: CChar.self, capacity: length) { _ = sqlite3_bind_text(handle, index, $0, Int32(length), nil) }
    }
}

extension SQLiteWarehouse {
    /// Runs a bound statement that returns no rows, then resets it for the next row's bindings.
    static func stepToCompletion(_ handle: SQLiteStatement, _ db: Database) throws {
        let code = sqlite3_step(handle)
        sqlite3_reset(handle)
        guard code == SQLITE_DONE else {
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(db.sqliteConnection)))
        }
    }
}
