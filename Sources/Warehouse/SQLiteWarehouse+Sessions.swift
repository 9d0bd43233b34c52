import GRDB

/// Session writes leave the data version alone (as in MySQL): they are not market data, so signing in or using a page
/// must not empty every response cache.
extension SQLiteWarehouse: SessionStore {
    public func createSession(_ session: StoredSession) async throws(WarehouseError) {
        try await write("create a session", changesData: false) { db in
            try db.execute(
                sql: "INSERT INTO web_sessions (id_hash, form_token, created_at, last_seen_at) VALUES (?, ?, ?, ?)",
                arguments: [session.idHash, session.formToken, session.createdAt, session.lastSeenAt])
        }
    }

    public func session(idHash: String) async throws(WarehouseError) -> StoredSession? {
        try await read("read a session") { db in
            try Row.fetchOne(
                db, sql: "SELECT form_token, created_at, last_seen_at FROM web_sessions WHERE id_hash = ?", arguments: [idHash]
            ).map { row in
                StoredSession(idHash: idHash, formToken: row[0], createdAt: row[1], lastSeenAt: row[2])
            }
        }
    }

    public func touchSession(idHash: String, at time: Int64) async throws(WarehouseError) {
        try await write("touch a session", changesData: false) { db in
            try db.execute(
                sql: "UPDATE web_sessions SET last_seen_at = max(last_seen_at, ?) WHERE id_hash = ?", arguments: [time, idHash])
        }
    }

    public func deleteSession(idHash: String) async throws(WarehouseError) {
        try await write("delete a session", changesData: false) { db in
            try db.execute(sql: "DELETE FROM web_sessions WHERE id_hash = ?", arguments: [idHash])
        }
    }

    public func deleteExpiredSessions(idleBefore: Int64, createdBefore: Int64) async throws(WarehouseError) -> Int {
        try await write("delete expired sessions", changesData: false) { db in
            try db.execute(
                sql: "DELETE FROM web_sessions WHERE last_seen_at < ? OR created_at < ?", arguments: [idleBefore, createdBefore])
            return db.changesCount
        }
    }
}
