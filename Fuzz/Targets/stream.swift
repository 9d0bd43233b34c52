// Fuzz target `stream`: BinanceStreamCodec.decode of any message (raw or combined), encode → decode round trips of the
// events it accepts, and a LocalOrderBook fed the diff events of the input (split at newlines) after a snapshot: it must
// never trap, and stay within its bounds. Built with JSONScanner, ExactDecimal, BinanceCodec, BinanceStreamCodec, Kline,
// Symbol, LocalOrderBook and their helpers.
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data.assumingMemoryBound(to: UInt8.self), count: count))
    var book = LocalOrderBook(symbol: try! Symbol("BTCUSDT"), bufferLimit: 4, bufferedLevelLimit: 64, levelLimit: 16)
    var snapshotGiven = false
    for line in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true) {
        guard let message = try? BinanceStreamCodec.decode(Array(line)) else { continue }
        switch message {
        case .kline(let event):
            guard let again = try? BinanceStreamCodec.decode(BinanceStreamCodec.encode(event)) else {
                preconditionFailure("a kline event it read does not read back")
            }
            precondition(again == .kline(event))
            precondition(event.kline.openTime % 60_000 == 0 && event.kline.closeTime == event.kline.openTime + 59_999)
        case .depth(let event):
            guard let again = try? BinanceStreamCodec.decode(BinanceStreamCodec.encode(event)) else {
                preconditionFailure("a depth event it read does not read back")
            }
            precondition(again == .depth(event))
            precondition(event.firstUpdateId <= event.finalUpdateId)
            _ = book.receive(event)
            if !snapshotGiven {
                // The first event's levels, taken as the snapshot, just before it.
                snapshotGiven = true
                let snapshot = OrderBookSnapshot(lastUpdateId: event.firstUpdateId &- 1, bids: event.bids, asks: event.asks)
                _ = book.applySnapshot(snapshot, limit: 8)
            }
            precondition(book.bufferedEvents <= 4)
            if let top = book.top(100) {
                precondition(top.bids.count <= 16 && top.asks.count <= 16)
                precondition(zip(top.bids, top.bids.dropFirst()).allSatisfy { $0.price > $1.price })
                precondition(zip(top.asks, top.asks.dropFirst()).allSatisfy { $0.price < $1.price })
                precondition(top.bids.allSatisfy { !$0.quantity.isZero } && top.asks.allSatisfy { !$0.quantity.isZero })
            }
        case .reply, .error, .ignored:
            break
        }
    }
    return 0
}
