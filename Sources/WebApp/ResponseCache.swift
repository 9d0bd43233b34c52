import Hummingbird
import NIOCore
import Synchronization

/// Encoded responses of read endpoints, reused while the warehouse's data version is unchanged.
///
/// Market-data responses are pure functions of the stored data, which changes once a minute, while dashboards and
/// scripts ask for the same URLs many times in between. A hit costs one read of the data version instead of reading and
/// encoding hundreds of candles; a change anywhere empties the cache, so an answer is never stale.
final class ResponseCache: Sendable {
    private struct State {
        var version: Int64 = .min
        var entries: [String: ByteBuffer] = [:]
        var bytes = 0
    }

    private let state = Mutex(State())

    /// Entries and the bytes they hold (keys and bodies), for tests and metrics.
    var usage: (entries: Int, bytes: Int) { state.withLock { ($0.entries.count, $0.bytes) } }
    /// Bounds memory, keys and bodies together: when adding would exceed it, the cache starts over.
    let maximumBytes: Int

    init(maximumBytes: Int = 32 << 20) {
        self.maximumBytes = maximumBytes
    }

    /// The cached body for `key` at `version`, or `produce()`'s, which is remembered. Errors are thrown, not cached.
    func body(key: String, version: Int64, produce: () async throws -> [UInt8]) async throws -> ByteBuffer {
        let hit: ByteBuffer? = state.withLock { state in
            guard state.version == version else { return nil }
            return state.entries[key]
        }
        if let hit { return hit }
        let body = ByteBuffer(bytes: try await produce())
        state.withLock { state in
            if state.version != version {
                state = State(version: version)
            }
            let size = key.utf8.count + body.readableBytes
            guard state.entries[key] == nil, size <= maximumBytes else { return }
            if state.bytes + size > maximumBytes {
                state.entries.removeAll()
                state.bytes = 0
            }
            state.entries[key] = body
            state.bytes += size
        }
        return body
    }

    static func json(_ body: ByteBuffer) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        headers[.cacheControl] = "no-store"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: body))
    }
}
