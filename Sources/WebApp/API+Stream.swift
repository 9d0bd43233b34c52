import HTTPTypes
import Hummingbird
import MarketData
import NIOCore
import Pipeline
import ServiceLifecycle
import Synchronization
import Warehouse

/// Server-Sent Events of the newest candles, for pages that move as the streams deliver: `/api/stream/candles/{symbol}`
/// for one symbol (the Analytics chart), `/api/stream/candles` for every tracked symbol (the dashboard's cards).
///
/// Each event is `event: candle` with the candle as `/api/candlestick` writes it, plus its `symbol`. In a process that
/// collects from streams the events are the collector's, as they arrive; elsewhere (`serve`, `run --source rest`) the
/// newest stored candles are read every few seconds and sent when they change. A connection ends after
/// ``streamLifetime`` (browsers reconnect after `retry`), and at most ``LiveCandles/maximumSubscribers`` are open.
/// Every stream ends when the process begins to shut down, so an open page does not hold up a SIGTERM.
extension API {
    static let streamLifetime: Duration = .seconds(600)
    static let streamHeartbeat: Duration = .seconds(15)
    static let streamPoll: Duration = .seconds(5)

    func candleStream(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let symbol = try pathSymbol(context)
        try await requireKnown(symbol)
        return try await eventStream(symbols: [symbol], live: services.liveCandles, filter: symbol)
    }

    func allCandlesStream(_ request: Request, _ context: some RequestContext) async throws -> Response {
        try await eventStream(symbols: try await services.symbols.symbols(), live: services.liveCandles, filter: nil)
    }

    private func eventStream(symbols: [Symbol], live: LiveCandles?, filter: Symbol?) async throws -> Response {
        let events: AsyncStream<KlineStreamEvent>?
        var slot: StreamPolls.Slot?
        if let live {
            guard let stream = live.subscribe(filter) else { throw Self.tooManyStreams }
            events = stream
        } else {
            // Held by the body: freed when the response is done with, whether or not its body ever ran.
            guard let taken = streamPolls.enter() else { throw Self.tooManyStreams }
            slot = taken
            events = nil
        }
        let (clock, newest, reader) = (services.clock, newestCandles, candleReader)
        let pollSlot = slot
        let headers: HTTPFields = [.contentType: "text/event-stream", .cacheControl: "no-cache"]
        return Response(
            status: .ok, headers: headers,
            body: ResponseBody { writer in
                withExtendedLifetime(pollSlot) {}
                let (messages, output) = AsyncStream<[UInt8]>.makeStream(bufferingPolicy: .bufferingNewest(64))
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        // Browsers reconnect this long after the stream ends.
                        output.yield(Array("retry: 3000\n\n".utf8))
                        var sent: [Symbol: StoredKline] = [:]
                        for symbol in symbols {
                            guard let stored = try await newest.read(symbol, reader: reader, now: clock.now()) else { continue }
                            sent[symbol] = stored
                            output.yield(Self.event(symbol, stored))
                        }
                        if let events {
                            for await event in events {
                                output.yield(Self.event(event.symbol, StoredKline(kline: event.kline, isFinal: event.isFinal)))
                            }
                            // The collector stopped.
                            output.finish()
                        } else {
                            let deadline = clock.now() + EpochInstant.milliseconds(Self.streamLifetime)
                            while clock.now() < deadline {
                                try await clock.sleep(for: Self.streamPoll)
                                for symbol in symbols {
                                    guard let stored = try await newest.read(symbol, reader: reader, now: clock.now()),
                                        stored != sent[symbol]
                                    else { continue }
                                    sent[symbol] = stored
                                    output.yield(Self.event(symbol, stored))
                                }
                            }
                            output.finish()
                        }
                    }
                    group.addTask {
                        // A comment now and then keeps proxies from closing a quiet connection.
                        while !Task.isCancelled {
                            try await clock.sleep(for: Self.streamHeartbeat)
                            output.yield(Array(": keep-alive\n\n".utf8))
                        }
                    }
                    if events != nil {
                        group.addTask {
                            try await clock.sleep(for: Self.streamLifetime)
                            output.finish()
                        }
                    }
                    // Writing fails once the client has gone: that, the lifetime or a shutdown ends every task.
                    try await withGracefulShutdownHandler {
                        for await message in messages {
                            try await writer.write(ByteBuffer(bytes: message))
                        }
                    } onGracefulShutdown: {
                        output.finish()
                    }
                    group.cancelAll()
                }
                try await writer.finish(nil)
            })
    }

    static let tooManyStreams = APIError(
        .serviceUnavailable, code: "too_many_streams",
        "\(LiveCandles.maximumSubscribers) live streams are open; close one or try again later", headers: [.retryAfter: "30"])

    /// `event: candle` with the candle as `/api/candlestick` writes it, and its symbol.
    static func event(_ symbol: Symbol, _ stored: StoredKline) -> [UInt8] {
        var json = JSONWriter()
        json.object { json in
            json.key("symbol")
            json.string(symbol.rawValue)
            json.key("candle")
            write(stored, to: &json)
        }
        return Array("event: candle\ndata: ".utf8) + json.bytes + Array("\n\n".utf8)
    }
}

/// Counts the live streams that poll the warehouse (where no collector runs), under the same bound as subscriptions.
final class StreamPolls: Sendable {
    fileprivate let open = Mutex(0)

    /// A stream's place, given back when the last reference to it goes.
    final class Slot: Sendable {
        let polls: StreamPolls
        init(_ polls: StreamPolls) { self.polls = polls }
        deinit { polls.open.withLock { $0 -= 1 } }
    }

    func enter() -> Slot? {
        let admitted = open.withLock { open in
            guard open < LiveCandles.maximumSubscribers else { return false }
            open += 1
            return true
        }
        return admitted ? Slot(self) : nil
    }
}

/// The newest stored 1m candle of each symbol, read at most every 2 s whoever asks: every polling stream of every
/// client shares the reads.
final class NewestCandles: Sendable {
    private let entries = Mutex<[Symbol: (readAt: Int64, candle: StoredKline?)]>([:])

    func read(_ symbol: Symbol, reader: CandleReader, now: Int64) async throws -> StoredKline? {
        if let entry = entries.withLock({ $0[symbol] }), now >= entry.readAt, now - entry.readAt < 2_000 { return entry.candle }
        let candle = try await reader.recentKlines(symbol: symbol, interval: .oneMinute, endingAt: .max, includeOpen: true, limit: 1).last
        entries.withLock { entries in
            // Bounded by the symbols asked for, which are tracked or have stored data.
            if entries.count >= 10_000 { entries.removeAll() }
            entries[symbol] = (now, candle)
        }
        return candle
    }
}
