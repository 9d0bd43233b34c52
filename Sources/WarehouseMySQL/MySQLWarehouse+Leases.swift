public import Warehouse

/// ``LeaseStore``: `cluster_workers` and `leases`.
///
/// Written in transactions of their own that leave `warehouse_version` alone: a heartbeat every few seconds is no new
/// data, and bumping the version would empty the API's caches as often. Each compare-and-set reads the row with
/// `FOR UPDATE` and decides with ``LeaseRules``; on a Galera cluster that lock is local to the node, and a competing
/// write through another node is caught by certification at commit (error 1213), which the pool reruns.
extension MySQLWarehouse {
    func leaseTransaction<T: Sendable>(
        _ operation: String, _ body: @escaping @Sendable (MySQLConnection) throws(MySQLError) -> T
    ) async throws(WarehouseError) -> T {
        try await run(operation) { connection throws(MySQLError) in try connection.transaction(body) }
    }

    public func heartbeat(_ worker: WorkerRecord, forgetBefore: Int64) async throws(WarehouseError) {
        try await leaseTransaction("record the heartbeat of worker \(worker.id)") { connection throws(MySQLError) in
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
        try await leaseTransaction("remove worker \(id)") { connection throws(MySQLError) in
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
            var leases: [Lease] = []
            for row in try connection.query("SELECT name, holder, acquired_at, expires_at FROM leases ORDER BY name").all {
                leases.append(
                    Lease(
                        name: try row.requiredText(0), holder: try row.requiredText(1), acquiredAt: try row.requiredInt(2),
                        expiresAt: try row.requiredInt(3)))
            }
            return leases
        }
    }

    public func acquireLeases(
        _ names: [String], holder: String, at now: Int64, milliseconds: Int64
    ) async throws(WarehouseError) -> Set<String> {
        guard !names.isEmpty else { return [] }
        let expires = LeaseRules.expiry(now, milliseconds)
        return try await leaseTransaction("take \(names.count) leases for \(holder)") { connection throws(MySQLError) in
            var taken = Set<String>()
            for name in names {
                // Inserting a missing row first makes every later step the same compare-and-set on an existing row.
                try connection.run(
                    "INSERT IGNORE INTO leases (name, holder, acquired_at, expires_at) VALUES (?, '', 0, 0)", MySQLParameters(name))
                guard
                    let row = try connection.query(
                        "SELECT holder, acquired_at, expires_at FROM leases WHERE name = ? FOR UPDATE", MySQLParameters(name)
                    ).first
                else { continue }
                let current = Lease(
                    name: name, holder: try row.requiredText(0), acquiredAt: try row.requiredInt(1), expiresAt: try row.requiredInt(2))
                guard let next = LeaseRules.take(current, by: holder, at: now, until: expires) else { continue }
                try connection.run(
                    "UPDATE leases SET holder = ?, acquired_at = ?, expires_at = ? WHERE name = ?",
                    MySQLParameters(next.holder, next.acquiredAt, next.expiresAt, name))
                taken.insert(name)
            }
            return taken
        }
    }

    public func renewLeases(
        _ names: [String], holder: String, at now: Int64, milliseconds: Int64
    ) async throws(WarehouseError) -> Set<String> {
        guard !names.isEmpty else { return [] }
        let expires = LeaseRules.expiry(now, milliseconds)
        return try await leaseTransaction("renew \(names.count) leases of \(holder)") { connection throws(MySQLError) in
            var held = Set<String>()
            for name in names {
                guard
                    let row = try connection.query("SELECT holder FROM leases WHERE name = ? FOR UPDATE", MySQLParameters(name)).first,
                    try row.requiredText(0) == holder
                else { continue }
                try connection.run(
                    "UPDATE leases SET expires_at = GREATEST(expires_at, ?) WHERE name = ?", MySQLParameters(expires, name))
                held.insert(name)
            }
            return held
        }
    }

    public func releaseLeases(_ names: [String]?, holder: String) async throws(WarehouseError) {
        try await leaseTransaction("release the leases of \(holder)") { connection throws(MySQLError) in
            if let names {
                for name in names {
                    try connection.run(
                        "UPDATE leases SET holder = '', expires_at = 0 WHERE name = ? AND holder = ?", MySQLParameters(name, holder))
                }
            } else {
                try connection.run("UPDATE leases SET holder = '', expires_at = 0 WHERE holder = ?", MySQLParameters(holder))
            }
        }
    }
}
