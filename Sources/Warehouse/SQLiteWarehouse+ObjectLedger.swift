import GRDB
import GRDBSQLite
public import MarketData

/// ``ObjectLedger``: `processed_files` and `rejected_files`.
extension SQLiteWarehouse {
    static func recordProcessed(_ db: Database, _ object: ProcessedObject, rows: Int, unchanged: Int) throws {
        try db.cachedStatement(
            sql: """
                INSERT INTO processed_files (object_key, bucket, processed_at, rows, rows_unchanged) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (object_key) DO UPDATE SET processed_at = excluded.processed_at, rows = excluded.rows,
                    rows_unchanged = excluded.rows_unchanged
                """
        ).execute(arguments: [object.key, object.bucket, object.processedAt, rows, unchanged])
    }

    public func processedObjectKeys(withPrefix prefix: String) async throws(WarehouseError) -> Set<String> {
        try await read("list processed objects") { db in
            let keys: [String]
            if prefix.isEmpty {
                keys = try String.fetchAll(db, sql: "SELECT object_key FROM processed_files")
            } else {
                // A range scan on the primary key: every key starting with the prefix sorts between these bounds.
                keys = try String.fetchAll(
                    db, sql: "SELECT object_key FROM processed_files WHERE object_key >= ? AND object_key < ?",
                    arguments: [prefix, prefix + "\u{10FFFF}"])
            }
            return Set(keys)
        }
    }

    public func processedObjectKeys(among keys: [String]) async throws(WarehouseError) -> Set<String> {
        guard !keys.isEmpty else { return [] }
        return try await read("look up processed objects") { db in
            var found = Set<String>()
            // Within SQLite's smallest bound on parameters per statement.
            for start in stride(from: 0, to: keys.count, by: 500) {
                let chunk = keys[start..<min(start + 500, keys.count)]
                found.formUnion(
                    try String.fetchAll(
                        db,
                        sql: "SELECT object_key FROM processed_files WHERE object_key IN (\(databaseQuestionMarks(count: chunk.count)))",
                        arguments: StatementArguments(Array(chunk))))
            }
            return found
        }
    }

    public func recordRejected(objectKey: String, movedTo: String, reason: String, at time: Int64) async throws(WarehouseError) {
        try await write("record rejected object \(objectKey)") { db in
            try db.execute(
                sql: """
                    INSERT INTO rejected_files (object_key, moved_to, rejected_at, reason) VALUES (?, ?, ?, ?)
                    ON CONFLICT (object_key) DO UPDATE SET moved_to = excluded.moved_to, rejected_at = excluded.rejected_at,
                        reason = excluded.reason
                    """,
                arguments: [objectKey, movedTo, time, reason])
        }
    }

    public func markArchived(keys: [String], bucket: String) async throws(WarehouseError) {
        guard !keys.isEmpty else { return }
        try await write("mark \(keys.count) files archived") { db in
            let statement = try db.makeStatement(sql: "UPDATE processed_files SET bucket = ?, archived = 1 WHERE object_key = ?")
            for key in keys { try statement.execute(arguments: [bucket, key]) }
        }
    }

    public func forgetArchivedFiles(before keyBound: String) async throws(WarehouseError) -> Int {
        try await write("forget archived files before \(keyBound)") { db in
            try db.execute(sql: "DELETE FROM processed_files WHERE archived = 1 AND object_key < ?", arguments: [keyBound])
            return db.changesCount
        }
    }

    public func ledgerSummary() async throws(WarehouseError) -> LedgerSummary {
        try await read("summarise the file ledgers") { db in
            let row = try Row.fetchOne(
                db,
                sql: """
                    SELECT count(*), coalesce(sum(rows), 0), coalesce(sum(rows_unchanged), 0), coalesce(sum(archived), 0),
                        max(processed_at)
                    FROM processed_files
                    """)
            let rejected = try Int.fetchOne(db, sql: "SELECT count(*) FROM rejected_files") ?? 0
            guard let row else { return LedgerSummary(rejectedFiles: rejected) }
            return LedgerSummary(
                processedFiles: row[0], processedRows: row[1], duplicatesSkipped: row[2], archivedFiles: row[3], rejectedFiles: rejected,
                lastProcessedAt: row[4])
        }
    }
}
