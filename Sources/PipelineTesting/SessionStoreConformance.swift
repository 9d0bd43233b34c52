public import Warehouse

/// What every ``SessionStore`` must do, run by each backend's tests.
public enum SessionStoreConformance {
    static func session(_ index: Int, createdAt: Int64, lastSeenAt: Int64? = nil) -> StoredSession {
        let hex = String(index, radix: 16)
        return StoredSession(
            idHash: String(repeating: "0", count: 64 - hex.count) + hex, formToken: String(repeating: "f", count: 63) + "\(index % 10)",
            createdAt: createdAt, lastSeenAt: lastSeenAt ?? createdAt)
    }

    public static let checks: [ConformanceCheck<any SessionStore>] = [
        ConformanceCheck("a created session reads back exactly; an unknown hash reads as none") { store in
            let stored = session(1, createdAt: 1_000, lastSeenAt: 2_000)
            try await store.createSession(stored)
            try require(try await store.session(idHash: stored.idHash) == stored, "session did not read back")
            try require(try await store.session(idHash: session(2, createdAt: 0).idHash) == nil, "unknown hash found a session")
        },
        ConformanceCheck("a duplicate id hash is refused and leaves the first session unchanged") { store in
            let first = session(3, createdAt: 1_000)
            try await store.createSession(first)
            var second = first
            second.formToken = String(repeating: "a", count: 64)
            let refused = await failure { () async throws(WarehouseError) in try await store.createSession(second) }
            try require(refused != nil, "a second session with the same hash was stored")
            try require(try await store.session(idHash: first.idHash) == first, "the first session changed")
        },
        ConformanceCheck("touching moves last use forward only; sign-out deletes exactly one session") { store in
            let kept = session(4, createdAt: 1_000)
            let signedOut = session(5, createdAt: 1_000)
            try await store.createSession(kept)
            try await store.createSession(signedOut)
            try await store.touchSession(idHash: kept.idHash, at: 5_000)
            try await store.touchSession(idHash: kept.idHash, at: 3_000)
            try require(try await store.session(idHash: kept.idHash)?.lastSeenAt == 5_000, "last use did not become 5000")
            try await store.deleteSession(idHash: signedOut.idHash)
            try await store.deleteSession(idHash: signedOut.idHash)
            try require(try await store.session(idHash: signedOut.idHash) == nil, "signed-out session still there")
            try require(try await store.session(idHash: kept.idHash) != nil, "sign-out deleted another session")
        },
        ConformanceCheck("expiry deletes idle and too-old sessions and keeps the rest") { store in
            let idle = session(6, createdAt: 10_000, lastSeenAt: 10_000)
            let old = session(7, createdAt: 1_000, lastSeenAt: 90_000)
            let live = session(8, createdAt: 50_000, lastSeenAt: 90_000)
            for stored in [idle, old, live] { try await store.createSession(stored) }
            let deleted = try await store.deleteExpiredSessions(idleBefore: 20_000, createdBefore: 5_000)
            try require(deleted == 2, "deleted \(deleted) sessions, expected 2")
            try require(try await store.session(idHash: idle.idHash) == nil, "idle session kept")
            try require(try await store.session(idHash: old.idHash) == nil, "session past its absolute lifetime kept")
            try require(try await store.session(idHash: live.idHash) == live, "live session changed")
        },
        ConformanceCheck("a store that is also a warehouse keeps its data version through session writes") { store in
            // Signing in or using a page is no market data: it must not empty every response cache.
            guard let warehouse = store as? any WarehouseOverview else { return }
            let before = try await warehouse.dataVersion()
            let stored = session(7, createdAt: 1_000)
            try await store.createSession(stored)
            try await store.touchSession(idHash: stored.idHash, at: 2_000)
            try await store.deleteSession(idHash: stored.idHash)
            _ = try await store.deleteExpiredSessions(idleBefore: 0, createdBefore: 0)
            let after = try await warehouse.dataVersion()
            try require(after == before, "the data version went from \(before) to \(after)")
        },
    ]
}
