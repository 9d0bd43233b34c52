public import Warehouse

/// ``LeaseStore``: `cluster_workers` and `leases`.
///
/// Every statement stands alone (autocommit) and touches one row: a transaction never holds one lease row while it
/// waits for another, so no chain of lock waits forms between this process's connections, which on Galera is what an
/// applier's abort of a local transaction can hang on. The statements leave `warehouse_version` alone: a heartbeat
/// every few seconds is no new data, and bumping the version would empty the API's caches as often. A take is a
/// conditional `UPDATE` decided by the row as the node has it, followed by a read of the row: a competing write
/// through another node is caught by certification at commit (error 1213, rerun by Galera or the pool), and the read
/// after it shows the winner.
extension MySQLWarehouse {
    public func heartbeat(_ worker: WorkerRecord, forgetBefore: Int64) async throws(WarehouseError) {
        try await run("record the heartbeat of worker \(worker.id)") { connection throws(MySQLError) in
            try connection.run(
                """
                INSERT INTO cluster_workers (worker_id, host, process_id, started_at, heartbeat_at, lease_ms) VALUES (?, ?, ?, ?, ?, ?)
                ON DUPLICATE KEY UPDATE host = VALUES(host), process_id = VALUES(process_id), started_at = VALUES(started_at),
                    heartbeat_at = VALUES(heartbeat_at), lease_ms = VALUES(lease_ms)
                """,
                MySQLParameters(worker.id, worker.host, worker.processID, worker.startedAt, worker.heartbeatAt, worker.leaseMilliseconds))
            try connection.run("DELETE FROM cluster_workers WHERE heartbeat_at < ?", MySQLParameters(forgetBefore))
        }
    }

    public func removeWorker(id: String) async throws(WarehouseError) {
        try await run("remove worker \(id)") { connection throws(MySQLError) in
            try connection.run("DELETE FROM cluster_workers WHERE worker_id = ?", MySQLParameters(id))
        }
    }

    public func workers() async throws(WarehouseError) -> [WorkerRecord] {
        try await run("read the workers") { connection throws(MySQLError) in
            var workers: [WorkerRecord] = []
            for row in try connection.query(
                "SELECT worker_id, host, process_id, started_at, heartbeat_at, lease_ms FROM cluster_workers ORDER BY worker_id"
            ).all {
                workers.append(
                    WorkerRecord(
                        id: try row.requiredText(0), host: try row.requiredText(1), processID: try row.requiredInt(2),
                        startedAt: try row.requiredInt(3), heartbeatAt: try row.requiredInt(4), leaseMilliseconds: try row.requiredInt(5)))
            }
            return workers
        }
    }

    public func leases() async throws(WarehouseError) -> [Lease] {
        try await run("read the leases") { connection throws(MySQLError) in
            try Self.leases(connection, "SELECT name, holder, acquired_at, expires_at FROM leases ORDER BY name")
        }
    }

    static func leases(
        _ connection: MySQLConnection, _ sql: String, _ parameters: MySQLParameters = MySQLParameters()
    ) throws(MySQLError)
        -> [Lease]
    {
        var leases: [Lease] = []
        for row in try connection.query(sql, parameters).all {
            leases.append(
                Lease(
                    name: try row.requiredText(0), holder: try row.requiredText(1), acquiredAt: try row.requiredInt(2),
                    expiresAt: try row.requiredInt(3)))
        }
        return leases
    }

    /// ``LeaseRules/take(_:by:at:until:)`` as one `UPDATE` (assignments run left to right, so `acquired_at` is decided
    /// before `holder` changes).
    static let takeLeaseSQL = """
        UPDATE leases SET acquired_at = IF(holder = ?, acquired_at, ?), holder = ?, expires_at = ?
        WHERE name = ? AND (holder = ? OR holder = '' OR expires_at < ?)
        """

    public func acquireLeases(
        _ names: [String], holder: String, at now: Int64, milliseconds: Int64
    ) async throws(WarehouseError) -> Set<String> {
        guard !names.isEmpty else { return [] }
        let expires = LeaseRules.expiry(now, milliseconds)
        return try await run("take \(names.count) leases for \(holder)") { connection throws(MySQLError) in
            var taken = Set<String>()
            for name in names {
                // A missing row first, so every take is the same conditional update of an existing row.
                try connection.run(
                    "INSERT IGNORE INTO leases (name, holder, acquired_at, expires_at) VALUES (?, '', 0, 0)", MySQLParameters(name))
                try connection.run(Self.takeLeaseSQL, MySQLParameters(holder, now, holder, expires, name, holder, now))
                let row = try connection.query("SELECT holder FROM leases WHERE name = ?", MySQLParameters(name)).first
                if try row?.requiredText(0) == holder { taken.insert(name) }
            }
            return taken
        }
    }

    public func renewLeases(
        _ names: [String], holder: String, at now: Int64, milliseconds: Int64
    ) async throws(WarehouseError) -> Set<String> {
        guard !names.isEmpty else { return [] }
        let expires = LeaseRules.expiry(now, milliseconds)
        return try await run("renew \(names.count) leases of \(holder)") { connection throws(MySQLError) in
            // A few hundred names a statement: one commit renews a worker's whole share. The rows are this worker's, so
            // no other connection of it waits on them.
            let unique = Array(Set(names)).sorted()
            for start in stride(from: 0, to: unique.count, by: 500) {
                let chunk = unique[start..<min(start + 500, unique.count)]
                var parameters = MySQLParameters(expires, holder)
                for name in chunk { parameters.append(name) }
                let marks = Array(repeating: "?", count: chunk.count).joined(separator: ", ")
                try connection.run("UPDATE leases SET expires_at = ? WHERE holder = ? AND name IN (\(marks))", parameters)
            }
            let held = try Self.leases(
                connection, "SELECT name, holder, acquired_at, expires_at FROM leases WHERE holder = ?", MySQLParameters(holder))
            return Set(held.map(\.name)).intersection(names)
        }
    }

    public func releaseLeases(_ names: [String]?, holder: String) async throws(WarehouseError) {
        try await run("release the leases of \(holder)") { connection throws(MySQLError) in
            var released = names ?? []
            if names == nil {
                released = try Self.leases(
                    connection, "SELECT name, holder, acquired_at, expires_at FROM leases WHERE holder = ?", MySQLParameters(holder)
                ).map(\.name)
            }
            for name in released {
                try connection.run(
                    "UPDATE leases SET holder = '', expires_at = 0 WHERE name = ? AND holder = ?", MySQLParameters(name, holder))
            }
        }
    }
}
