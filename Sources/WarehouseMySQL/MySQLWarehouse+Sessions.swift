public import Warehouse

/// Sessions are read and written outside ``write(_:_:)``: they are not market data, so signing in or using a page
/// must not bump the data version and empty every response cache.
extension MySQLWarehouse: SessionStore {
    public func createSession(_ session: StoredSession) async throws(WarehouseError) {
        try await run("create a session") { connection throws(MySQLError) in
            let parameters = MySQLParameters(session.idHash, session.formToken, session.createdAt, session.lastSeenAt)
            _ = try connection.run(
                "INSERT INTO web_sessions (id_hash, form_token, created_at, last_seen_at) VALUES (?, ?, ?, ?)", parameters)
        }
    }

    public func session(idHash: String) async throws(WarehouseError) -> StoredSession? {
        try await run("read a session") { connection throws(MySQLError) -> StoredSession? in
            let parameters = MySQLParameters(idHash)
            guard
                let row = try connection.query(
                    "SELECT form_token, created_at, last_seen_at FROM web_sessions WHERE id_hash = ?", parameters
                ).first
            else { return nil }
            return StoredSession(
                idHash: idHash, formToken: try row.requiredText(0), createdAt: try row.requiredInt(1),
                lastSeenAt: try row.requiredInt(2))
        }
    }

    public func touchSession(idHash: String, at time: Int64) async throws(WarehouseError) {
        try await run("touch a session") { connection throws(MySQLError) in
            let parameters = MySQLParameters(time, idHash)
            _ = try connection.run("UPDATE web_sessions SET last_seen_at = GREATEST(last_seen_at, ?) WHERE id_hash = ?", parameters)
        }
    }

    public func deleteSession(idHash: String) async throws(WarehouseError) {
        try await run("delete a session") { connection throws(MySQLError) in
            _ = try connection.run("DELETE FROM web_sessions WHERE id_hash = ?", MySQLParameters(idHash))
        }
    }

    public func deleteExpiredSessions(idleBefore: Int64, createdBefore: Int64) async throws(WarehouseError) -> Int {
        try await run("delete expired sessions") { connection throws(MySQLError) in
            let parameters = MySQLParameters(idleBefore, createdBefore)
            return try connection.run("DELETE FROM web_sessions WHERE last_seen_at < ? OR created_at < ?", parameters)
        }
    }
}
