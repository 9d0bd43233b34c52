import GRDB

/// ``LeaseStore``: `cluster_workers` and `leases`. Its writes leave the data version alone (as in MySQL): a worker renews
/// every few seconds, and no cached response is computed from these tables.
extension SQLiteWarehouse {
    public func heartbeat(_ worker: WorkerRecord, forgetBefore: Int64) async throws(WarehouseError) {
        try await write("record the heartbeat of worker \(worker.id)", changesData: false) { db in
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO cluster_workers (worker_id, host, process_id, started_at, heartbeat_at, lease_ms)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """,
                arguments: [worker.id, worker.host, worker.processID, worker.startedAt, worker.heartbeatAt, worker.leaseMilliseconds])
            try db.execute(sql: "DELETE FROM cluster_workers WHERE heartbeat_at < ?", arguments: [forgetBefore])
        }
    }

    public func removeWorker(id: String) async throws(WarehouseError) {
        try await write("remove worker \(id)", changesData: false) { db in
            try db.execute(sql: "DELETE FROM cluster_workers WHERE worker_id = ?", arguments: [id])
        }
    }

    public func workers() async throws(WarehouseError) -> [WorkerRecord] {
        try await read("read the workers") { db in
            try Row.fetchAll(
                db, sql: "SELECT worker_id, host, process_id, started_at, heartbeat_at, lease_ms FROM cluster_workers ORDER BY worker_id"
            ).map { row in
                WorkerRecord(
                    id: row[0], host: row[1], processID: row[2], startedAt: row[3], heartbeatAt: row[4], leaseMilliseconds: row[5])
            }
        }
    }

    public func leases() async throws(WarehouseError) -> [Lease] {
        try await read("read the leases") { db in
            try Row.fetchAll(db, sql: "SELECT name, holder, acquired_at, expires_at FROM leases ORDER BY name").map { row in
                Lease(name: row[0], holder: row[1], acquiredAt: row[2], expiresAt: row[3])
            }
        }
    }

    public func acquireLeases(
        _ names: [String], holder: String, at now: Int64, milliseconds: Int64
    ) async throws(WarehouseError) -> Set<String> {
        guard !names.isEmpty else { return [] }
        let expires = LeaseRules.expiry(now, milliseconds)
        return try await write("take \(names.count) leases for \(holder)", changesData: false) { db in
            var taken = Set<String>()
            for name in names {
                let row = try Row.fetchOne(db, sql: "SELECT holder, acquired_at, expires_at FROM leases WHERE name = ?", arguments: [name])
                guard let row else {
                    try db.execute(
                        sql: "INSERT INTO leases (name, holder, acquired_at, expires_at) VALUES (?, ?, ?, ?)",
                        arguments: [name, holder, now, expires])
                    taken.insert(name)
                    continue
                }
                let current = Lease(name: name, holder: row[0], acquiredAt: row[1], expiresAt: row[2])
                guard let next = LeaseRules.take(current, by: holder, at: now, until: expires) else { continue }
                try db.execute(
                    sql: "UPDATE leases SET holder = ?, acquired_at = ?, expires_at = ? WHERE name = ?",
                    arguments: [next.holder, next.acquiredAt, next.expiresAt, name])
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
        return try await write("renew \(names.count) leases of \(holder)", changesData: false) { db in
            var held = Set<String>()
            for name in names {
                try db.execute(
                    sql: "UPDATE leases SET expires_at = ? WHERE name = ? AND holder = ?",
                    arguments: [expires, name, holder])
                if db.changesCount > 0 { held.insert(name) }
            }
            return held
        }
    }

    public func releaseLeases(_ names: [String]?, holder: String) async throws(WarehouseError) {
        try await write("release the leases of \(holder)", changesData: false) { db in
            if let names {
                for name in names {
                    try db.execute(
                        sql: "UPDATE leases SET holder = '', expires_at = 0 WHERE name = ? AND holder = ?", arguments: [name, holder])
                }
            } else {
                try db.execute(sql: "UPDATE leases SET holder = '', expires_at = 0 WHERE holder = ?", arguments: [holder])
            }
        }
    }
}
