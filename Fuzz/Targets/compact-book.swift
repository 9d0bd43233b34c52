// Fuzz target `compact-book`: CompactOrderBook.levels on any stored side text (the warehouse's file may be damaged or
// edited), in the compact form and in the plain one; what the compact form reads back encodes and decodes to the same
// levels (each price's first level).
// Built with Sources/MarketData/{ExactDecimal,Kline,Interval,UTCTime,Symbol}.swift and Sources/Warehouse/CompactOrderBook.swift.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafeRawPointer, _ count: Int) -> CInt {
    let buffer = UnsafeBufferPointer(start: data.assumingMemoryBound(to: UInt8.self), count: count)
    guard let selector = buffer.first else { return 0 }
    let text = String(decoding: buffer.dropFirst(), as: UTF8.self)
    // The first byte picks the divisors, the plain form among them.
    let (tick, lot): (Int64, Int64) = [(0, 1), (1, 1), (1_000_000, 1_000), (Int64.max / 2, 3), (-1, 1)][Int(selector) % 5]
    let stored = CompactOrderBook(lastUpdateId: 1, priceTick: tick, quantityLot: lot, levelCount: 0, bids: text, asks: text)
    guard let (bids, asks) = try? stored.levels(limit: 1_000) else { return 0 }
    precondition(bids.count <= 1_000 && asks.count <= 1_000)
    let again = CompactOrderBook(OrderBookSnapshot(lastUpdateId: 1, bids: bids, asks: asks))
    guard let (bidsAgain, asksAgain) = try? again.levels(limit: 2_000) else { preconditionFailure("our own text does not read back") }
    precondition(bidsAgain == CompactOrderBook.firstOfEachPrice(bids, descending: true))
    precondition(asksAgain == CompactOrderBook.firstOfEachPrice(asks, descending: false))
    return 0
}
