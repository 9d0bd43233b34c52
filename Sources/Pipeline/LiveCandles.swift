public import MarketData
import Synchronization

/// Hands the stream collector's k-line events (open and final) to the pages' Server-Sent Events, as they arrive.
///
/// Subscribers are bounded (``maximumSubscribers``) and each keeps only its newest few events: a slow or hostile client
/// costs a fixed amount of memory and never holds the collector back.
public final class LiveCandles: Sendable {
    public static let maximumSubscribers = 256
    static let bufferedEvents = 16

    private struct Subscriber {
        /// `nil` for every symbol.
        let symbol: Symbol?
        let continuation: AsyncStream<KlineStreamEvent>.Continuation
    }

    private let subscribers = Mutex<[Int: Subscriber]>([:])
    private let nextID = Atomic<Int>(0)

    public init() {}

    public var subscriberCount: Int { subscribers.withLock { $0.count } }

    public func publish(_ event: KlineStreamEvent) {
        subscribers.withLock { subscribers in
            for subscriber in subscribers.values where subscriber.symbol == nil || subscriber.symbol == event.symbol {
                subscriber.continuation.yield(event)
            }
        }
    }

    /// Ends every subscriber's stream after the events it holds (the collector stopped): clients then reconnect.
    public func finish() {
        let ended = subscribers.withLock { subscribers in
            defer { subscribers = [:] }
            return Array(subscribers.values)
        }
        for subscriber in ended { subscriber.continuation.finish() }
    }

    /// The events of `symbol` (every symbol for `nil`) from now on; `nil` when ``maximumSubscribers`` are listening.
    public func subscribe(_ symbol: Symbol?) -> AsyncStream<KlineStreamEvent>? {
        let id = nextID.add(1, ordering: .relaxed).newValue
        let (stream, continuation) = AsyncStream<KlineStreamEvent>.makeStream(bufferingPolicy: .bufferingNewest(Self.bufferedEvents))
        let admitted = subscribers.withLock { subscribers in
            guard subscribers.count < Self.maximumSubscribers else { return false }
            subscribers[id] = Subscriber(symbol: symbol, continuation: continuation)
            return true
        }
        guard admitted else {
            continuation.finish()
            return nil
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.subscribers.withLock { $0.removeValue(forKey: id) }
        }
        return stream
    }
}
