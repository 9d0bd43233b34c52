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

    /// Saves the state of `worker`'s collector, each worker under its own key (`stream.status/{worker}`).
    public func save(to warehouse: any SettingsStore, worker: String = "") async throws(WarehouseError) {
        let data: Data
        do {
            data = try JSONEncoder().encode(self)
        } catch {
            return
        }
        let key = worker.isEmpty ? Self.settingKey : Self.settingKey + "/" + worker
        try await warehouse.saveSetting(key, value: String(decoding: data, as: UTF8.self), at: updatedAt)
    }

    /// How far behind the newest saved state another worker's may be and still count as current: collectors save
    /// after every flush, at least once a minute.
    static let currentWithin: Int64 = 150_000

    /// The collectors' state as one: the newest saved state, with those of other workers saved within
    /// ``currentWithin`` of it (their connections, flushes and malformed messages added up, lags the worst, every
    /// symbol once, from the newest state holding it); `nil` when no collector ever saved one. A state that does not
    /// read (a newer version's) is left out.
    public static func load(from warehouse: any SettingsStore) async throws(WarehouseError) -> StreamStatus? {
        var texts = Array(try await warehouse.settings(withPrefix: settingKey + "/").values)
        if let single = try await warehouse.setting(settingKey) { texts.append(single) }
        let states = texts.compactMap { try? JSONDecoder().decode(StreamStatus.self, from: Data($0.utf8)) }
        return merged(states)
    }

    /// Deletes the states of collectors not saved for a day (workers that stopped or were renamed; a default worker id
    /// is new with every process), keeping `worker`'s own.
    public static func forgetStale(in warehouse: any SettingsStore, keeping worker: String, at now: Int64) async throws(WarehouseError) {
        for (key, text) in try await warehouse.settings(withPrefix: settingKey + "/") where key != settingKey + "/" + worker {
            let state = try? JSONDecoder().decode(StreamStatus.self, from: Data(text.utf8))
            let (age, overflow) = now.subtractingReportingOverflow(state?.updatedAt ?? .min)
            if overflow || age > 86_400_000 { try await warehouse.deleteSetting(key) }
        }
    }

    static func sum(_ a: Int, _ b: Int) -> Int {
        let (total, overflow) = a.addingReportingOverflow(b)
        return overflow ? (b < 0 ? .min : .max) : total
    }

    static func merged(_ states: [StreamStatus]) -> StreamStatus? {
        let ordered = states.sorted { $0.updatedAt > $1.updatedAt }
        guard var merged = ordered.first else { return nil }
        let current = ordered.dropFirst().filter { state in
            let (behind, overflow) = merged.updatedAt.subtractingReportingOverflow(state.updatedAt)
            return !overflow && behind <= currentWithin
        }
        var seen = Set(merged.symbols.map(\.symbol))
        for state in current {
            // Saturating: the figures come from the warehouse.
            merged.connections = Self.sum(merged.connections, state.connections)
            merged.flushes = Self.sum(merged.flushes, state.flushes)
            merged.malformedMessages = Self.sum(merged.malformedMessages, state.malformedMessages)
            merged.lagP50Milliseconds = [merged.lagP50Milliseconds, state.lagP50Milliseconds].compactMap { $0 }.max()
            merged.lagP95Milliseconds = [merged.lagP95Milliseconds, state.lagP95Milliseconds].compactMap { $0 }.max()
            for symbol in state.symbols where seen.insert(symbol.symbol).inserted { merged.symbols.append(symbol) }
        }
        merged.symbols.sort { $0.symbol < $1.symbol }
        return merged
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
