import GRDB
import GRDBSQLite

/// ``LeaseStore``: `leases` and `workers`. Lease writes do not touch candle data, but SQLite's data version moves with
/// any commit, so responses cached by other processes are recomputed after one (at most every few seconds).
extension SQLiteWarehouse {
    public func heartbeat(worker id: String, startedAt: Int64, now: Int64, expiresAt: Int64) async throws(WarehouseError) -> [WorkerRecord]
    {
        try await write("record the heartbeat of worker \(id)") { db in
            try db.execute(
                sql: """
                    INSERT INTO workers (id, started_at, heartbeat_at, expires_at) VALUES (?, ?, ?, ?)
                    ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, expires_at = excluded.expires_at
                    """, arguments: [id, startedAt, now, expiresAt])
            // Workers gone for a day are forgotten.
            try db.execute(sql: "DELETE FROM workers WHERE expires_at < ?", arguments: [now &- 86_400_000])
            return try Row.fetchAll(
                db, sql: "SELECT id, started_at, heartbeat_at, expires_at FROM workers WHERE expires_at > ? ORDER BY id", arguments: [now]
            ).map { WorkerRecord(id: $0[0], startedAt: $0[1], heartbeatAt: $0[2], expiresAt: $0[3]) }
        }
    }

    public func retire(worker id: String) async throws(WarehouseError) {
        try await write("retire worker \(id)") { db in
            try db.execute(sql: "DELETE FROM workers WHERE id = ?", arguments: [id])
            try db.execute(sql: "UPDATE leases SET expires_at = 0 WHERE holder = ?", arguments: [id])
        }
    }

    public func acquire(_ names: [String], holder: String, now: Int64, expiresAt: Int64) async throws(WarehouseError) -> Set<String> {
        guard !names.isEmpty else { return [] }
        return try await write("take \(names.count) leases for \(holder)") { db in
            var held: Set<String> = []
            for batch in stride(from: 0, to: names.count, by: Self.leaseBatch).map({
                Array(names[$0..<min($0 + Self.leaseBatch, names.count)])
            }) {
                for name in batch {
                    // Taken when free, expired or ours; a takeover starts a new acquisition time, a renewal keeps it.
                    try db.execute(
                        sql: """
                            INSERT INTO leases (name, holder, acquired_at, expires_at) VALUES (?, ?, ?, ?)
                            ON CONFLICT (name) DO UPDATE SET
                                acquired_at = CASE WHEN leases.holder = excluded.holder THEN leases.acquired_at ELSE excluded.acquired_at END,
                                holder = excluded.holder, expires_at = excluded.expires_at
                            WHERE leases.holder = excluded.holder OR leases.expires_at <= ?
                            """, arguments: [name, holder, now, expiresAt, now])
                }
                let marks = batch.map { _ in "?" }.joined(separator: ", ")
                let values: [any DatabaseValueConvertible] = [holder, now] + batch
                let mine = try String.fetchAll(
                    db, sql: "SELECT name FROM leases WHERE holder = ? AND expires_at > ? AND name IN (\(marks))",
                    arguments: StatementArguments(values))
                held.formUnion(mine)
            }
            return held
        }
    }

    public func release(_ names: [String], holder: String) async throws(WarehouseError) {
        guard !names.isEmpty else { return }
        try await write("give back \(names.count) leases of \(holder)") { db in
            for name in names {
                try db.execute(sql: "UPDATE leases SET expires_at = 0 WHERE name = ? AND holder = ?", arguments: [name, holder])
            }
        }
    }

    public func leases(prefix: String) async throws(WarehouseError) -> [Lease] {
        try await read("read the leases") { db in
            // A range, not LIKE: a prefix may hold `%` or `_`.
            try Row.fetchAll(
                db,
                sql: "SELECT name, holder, acquired_at, expires_at FROM leases WHERE name >= ? AND name < ? ORDER BY name",
                arguments: [prefix, prefix + "\u{10FFFF}"]
            ).map { Lease(name: $0[0], holder: $0[1], acquiredAt: $0[2], expiresAt: $0[3]) }
        }
    }

    public func workers() async throws(WarehouseError) -> [WorkerRecord] {
        try await read("read the workers") { db in
            try Row.fetchAll(db, sql: "SELECT id, started_at, heartbeat_at, expires_at FROM workers ORDER BY id").map {
                WorkerRecord(id: $0[0], startedAt: $0[1], heartbeatAt: $0[2], expiresAt: $0[3])
            }
        }
    }
}
