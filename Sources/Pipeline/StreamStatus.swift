public import Foundation
public import MarketData
public import Warehouse

/// The stream collector's state (`run --source stream`): per symbol whether its streams are connected, when its last
/// event came, its book and how often it was rebuilt or repaired over REST; the lag from a candle's close to its
/// warehouse row. The collector saves it in the warehouse's settings, so `status`, the API and the pages of any process
/// on the warehouse show it.
public struct StreamStatus: Sendable, Hashable, Codable {
    public struct SymbolState: Sendable, Hashable, Codable {
        public var symbol: Symbol
        public var connected: Bool
        public var lastEvent: Int64?
        public var bookSynced: Bool
        public var bookUpdateId: Int64?
        public var rebuilds: Int
        public var repairs: Int
        /// The open time of the newest candle in the lake.
        public var lastWritten: Int64?

        public init(
            symbol: Symbol, connected: Bool, lastEvent: Int64?, bookSynced: Bool, bookUpdateId: Int64?, rebuilds: Int, repairs: Int,
            lastWritten: Int64?
        ) {
            self.symbol = symbol
            self.connected = connected
            self.lastEvent = lastEvent
            self.bookSynced = bookSynced
            self.bookUpdateId = bookUpdateId
            self.rebuilds = rebuilds
            self.repairs = repairs
            self.lastWritten = lastWritten
        }
    }

    public static let settingKey = "stream.status"

    public var streamURL: String
    public var updatedAt: Int64
    public var connections: Int
    public var flushes: Int
    /// Time from a candle's close to its warehouse row, over the last flushes.
    public var lagP50Milliseconds: Int64?
    public var lagP95Milliseconds: Int64?
    public var malformedMessages: Int
    public var symbols: [SymbolState]

    public init(
        streamURL: String, updatedAt: Int64, connections: Int, flushes: Int, lagP50Milliseconds: Int64?, lagP95Milliseconds: Int64?,
        malformedMessages: Int, symbols: [SymbolState]
    ) {
        self.streamURL = streamURL
        self.updatedAt = updatedAt
        self.connections = connections
        self.flushes = flushes
        self.lagP50Milliseconds = lagP50Milliseconds
        self.lagP95Milliseconds = lagP95Milliseconds
        self.malformedMessages = malformedMessages
        self.symbols = symbols
    }

    /// The state without what moves with every event or flush (when it was taken, last events, update ids, newest
    /// candles, lags): equal for two states that differ in nothing an operator acts on.
    public var withoutMomentaryFields: StreamStatus {
        var shape = self
        shape.updatedAt = 0
        shape.flushes = 0
        shape.lagP50Milliseconds = nil
        shape.lagP95Milliseconds = nil
        shape.symbols = symbols.map { state in
            var state = state
            state.lastEvent = nil
            state.bookUpdateId = nil
            state.lastWritten = nil
            return state
        }
        return shape
    }

    public func save(to warehouse: any SettingsStore) async throws(WarehouseError) {
        let data: Data
        do {
            data = try JSONEncoder().encode(self)
        } catch {
            return
        }
        try await warehouse.saveSetting(Self.settingKey, value: String(decoding: data, as: UTF8.self), at: updatedAt)
    }

    /// The last saved state; `nil` when no collector ever saved one, or what is saved does not read (a newer version's).
    public static func load(from warehouse: any SettingsStore) async throws(WarehouseError) -> StreamStatus? {
        guard let text = try await warehouse.setting(settingKey) else { return nil }
        return try? JSONDecoder().decode(StreamStatus.self, from: Data(text.utf8))
    }

    /// As `/api/pipeline/status` and `status --json` show it.
    public func writeJSON(to json: inout JSONWriter) {
        let status = self
        json.object { json in
            json.key("stream_url")
            json.string(status.streamURL)
            json.time("updated_at", "updated_at_iso", status.updatedAt)
            json.key("connections")
            json.int(status.connections)
            json.key("flushes")
            json.int(status.flushes)
            json.key("lag_p50_ms")
            json.optionalInt(status.lagP50Milliseconds)
            json.key("lag_p95_ms")
            json.optionalInt(status.lagP95Milliseconds)
            json.key("malformed_messages")
            json.int(status.malformedMessages)
            json.key("symbols")
            json.array { json in
                for symbol in status.symbols {
                    json.object { json in
                        json.key("symbol")
                        json.string(symbol.symbol.rawValue)
                        json.key("connected")
                        json.bool(symbol.connected)
                        json.time("last_event", "last_event_iso", symbol.lastEvent)
                        json.key("book_synced")
                        json.bool(symbol.bookSynced)
                        json.key("book_update_id")
                        json.optionalInt(symbol.bookUpdateId)
                        json.key("rebuilds")
                        json.int(symbol.rebuilds)
                        json.key("repairs")
                        json.int(symbol.repairs)
                        json.time("last_written", "last_written_iso", symbol.lastWritten)
                    }
                }
            }
        }
    }

}
