public import Warehouse

/// ``LeaseStore``: `leases` and `workers`, outside the data version (`run`, not `write`): renewing leases every few
/// seconds must not make other processes recompute their cached responses.
///
/// Under Galera each statement is certified against the other nodes' commits: two workers taking one lease on two nodes
/// at once conflict, the loser's statement fails with 1213 and is rerun by the pool, and then sees the winner's row.
extension MySQLWarehouse {
    public func heartbeat(worker id: String, startedAt: Int64, now: Int64, expiresAt: Int64) async throws(WarehouseError) -> [WorkerRecord]
    {
        try await run("record the heartbeat of worker \(id)") { connection throws(MySQLError) in
            try connection.run(
                """
                INSERT INTO workers (id, started_at, heartbeat_at, expires_at) VALUES (?, ?, ?, ?)
                ON DUPLICATE KEY UPDATE heartbeat_at = VALUES(heartbeat_at), expires_at = VALUES(expires_at)
                """, MySQLParameters(id, startedAt, now, expiresAt))
            // Workers gone for a day are forgotten.
            try connection.run("DELETE FROM workers WHERE expires_at < ?", MySQLParameters(now &- 86_400_000))
            return try connection.query(
                "SELECT id, started_at, heartbeat_at, expires_at FROM workers WHERE expires_at > ? ORDER BY id", MySQLParameters(now)
            ).all.map { row throws(MySQLError) in
                WorkerRecord(
                    id: try row.requiredText(0), startedAt: try row.requiredInt(1), heartbeatAt: try row.requiredInt(2),
                    expiresAt: try row.requiredInt(3))
            }
        }
    }

    public func retire(worker id: String) async throws(WarehouseError) {
        try await run("retire worker \(id)") { connection throws(MySQLError) in
            try connection.run("DELETE FROM workers WHERE id = ?", MySQLParameters(id))
            try connection.run("UPDATE leases SET expires_at = 0 WHERE holder = ?", MySQLParameters(id))
        }
    }

    public func acquire(_ names: [String], holder: String, now: Int64, expiresAt: Int64) async throws(WarehouseError) -> Set<String> {
        guard !names.isEmpty else { return [] }
        return try await run("take \(names.count) leases for \(holder)") { connection throws(MySQLError) in
            var held: Set<String> = []
            for start in stride(from: 0, to: names.count, by: Self.leaseBatch) {
                let batch = names[start..<min(start + Self.leaseBatch, names.count)]
                var parameters = MySQLParameters()
                for name in batch {
                    parameters.append(name)
                    parameters.append(holder)
                    parameters.append(now)
                    parameters.append(expiresAt)
                }
                parameters.append(now)
                parameters.append(now)
                // Assignments apply left to right and see the earlier ones: the acquisition time and the holder are
                // decided on the row as it was, the expiry on the holder as it now is.
                try connection.run(
                    """
                    INSERT INTO leases (name, holder, acquired_at, expires_at) VALUES \(batch.map { _ in "(?, ?, ?, ?)" }.joined(separator: ", "))
                    ON DUPLICATE KEY UPDATE
                        acquired_at = IF(holder <> VALUES(holder) AND expires_at <= ?, VALUES(acquired_at), acquired_at),
                        holder = IF(holder = VALUES(holder) OR expires_at <= ?, VALUES(holder), holder),
                        expires_at = IF(holder = VALUES(holder), VALUES(expires_at), expires_at)
                    """, parameters)
                var query = MySQLParameters(holder, now)
                for name in batch { query.append(name) }
                let mine = try connection.query(
                    "SELECT name FROM leases WHERE holder = ? AND expires_at > ? AND name IN (\(batch.map { _ in "?" }.joined(separator: ", ")))",
                    query
                ).all.map { row throws(MySQLError) in try row.requiredText(0) }
                held.formUnion(mine)
            }
            return held
        }
    }

    public func release(_ names: [String], holder: String) async throws(WarehouseError) {
        guard !names.isEmpty else { return }
        try await run("give back \(names.count) leases of \(holder)") { connection throws(MySQLError) in
            for start in stride(from: 0, to: names.count, by: Self.leaseBatch) {
                let batch = names[start..<min(start + Self.leaseBatch, names.count)]
                var parameters = MySQLParameters(holder)
                for name in batch { parameters.append(name) }
                try connection.run(
                    "UPDATE leases SET expires_at = 0 WHERE holder = ? AND name IN (\(batch.map { _ in "?" }.joined(separator: ", ")))",
                    parameters)
            }
        }
    }

    public func leases(prefix: String) async throws(WarehouseError) -> [Lease] {
        try await run("read the leases") { connection throws(MySQLError) in
            // A comparison of the name's start, not LIKE: a prefix may hold `%` or `_`.
            try connection.query(
                "SELECT name, holder, acquired_at, expires_at FROM leases WHERE LEFT(name, CHAR_LENGTH(?)) = ? ORDER BY name",
                MySQLParameters(prefix, prefix)
            ).all.map { row throws(MySQLError) in
                Lease(
                    name: try row.requiredText(0), holder: try row.requiredText(1), acquiredAt: try row.requiredInt(2),
                    expiresAt: try row.requiredInt(3))
            }
        }
    }

    public func workers() async throws(WarehouseError) -> [WorkerRecord] {
        try await run("read the workers") { connection throws(MySQLError) in
            try connection.query("SELECT id, started_at, heartbeat_at, expires_at FROM workers ORDER BY id").all.map {
                row throws(MySQLError) in
                WorkerRecord(
                    id: try row.requiredText(0), startedAt: try row.requiredInt(1), heartbeatAt: try row.requiredInt(2),
                    expiresAt: try row.requiredInt(3))
            }
        }
    }
}
