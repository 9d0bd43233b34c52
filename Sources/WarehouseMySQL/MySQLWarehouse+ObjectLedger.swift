public import MarketData
public import Warehouse

/// ``ObjectLedger``: `processed_files` and `rejected_files`.
extension MySQLWarehouse {
    static func recordProcessed(_ connection: MySQLConnection, _ object: ProcessedObject, rows: Int, unchanged: Int) throws(MySQLError) {
        let parameters = MySQLParameters(object.key, object.bucket, object.processedAt, rows, unchanged)
        try connection.run(
            """
            INSERT INTO processed_files (object_key, bucket, processed_at, `rows`, rows_unchanged) VALUES (?, ?, ?, ?, ?)
            ON DUPLICATE KEY UPDATE processed_at = VALUES(processed_at), `rows` = VALUES(`rows`),
                rows_unchanged = VALUES(rows_unchanged)
            """, parameters)
    }

    public func processedObjectKeys(withPrefix prefix: String) async throws(WarehouseError) -> Set<String> {
        try await run("list processed objects") { connection throws(MySQLError) in
            let rows: MySQLRows
            if prefix.isEmpty {
                rows = try connection.query("SELECT object_key FROM processed_files")
            } else {
                // A range scan on the primary key: every key starting with the prefix sorts between these bounds.
                let parameters = MySQLParameters(prefix, prefix + "\u{10FFFF}")
                rows = try connection.query("SELECT object_key FROM processed_files WHERE object_key >= ? AND object_key < ?", parameters)
            }
            return Set(rows.all.compactMap { $0.string(0) })
        }
    }

    public func processedObjectKeys(among keys: [String]) async throws(WarehouseError) -> Set<String> {
        guard !keys.isEmpty else { return [] }
        return try await run("look up processed objects") { connection throws(MySQLError) in
            var found = Set<String>()
            for start in stride(from: 0, to: keys.count, by: 500) {
                let chunk = keys[start..<min(start + 500, keys.count)]
                var parameters = MySQLParameters(capacity: chunk.count)
                for key in chunk { parameters.append(key) }
                let rows = try connection.query(
                    "SELECT object_key FROM processed_files WHERE object_key IN (\(Array(repeating: "?", count: chunk.count).joined(separator: ", ")))",
                    parameters)
                found.formUnion(rows.all.compactMap { $0.string(0) })
            }
            return found
        }
    }

    public func recordRejected(objectKey: String, movedTo: String, reason: String, at time: Int64) async throws(WarehouseError) {
        try await write("record rejected object \(objectKey)") { connection throws(MySQLError) in
            let parameters = MySQLParameters(objectKey, movedTo, time, reason)
            try connection.run(
                """
                INSERT INTO rejected_files (object_key, moved_to, rejected_at, reason) VALUES (?, ?, ?, ?)
                ON DUPLICATE KEY UPDATE moved_to = VALUES(moved_to), rejected_at = VALUES(rejected_at), reason = VALUES(reason)
                """, parameters)
        }
    }

    public func markArchived(keys: [String], bucket: String) async throws(WarehouseError) {
        guard !keys.isEmpty else { return }
        try await write("mark \(keys.count) files archived") { connection throws(MySQLError) in
            for key in keys {
                let parameters = MySQLParameters(bucket, key)
                try connection.run("UPDATE processed_files SET bucket = ?, archived = 1 WHERE object_key = ?", parameters)
            }
        }
    }

    public func forgetArchivedFiles(before keyBound: String) async throws(WarehouseError) -> Int {
        try await write("forget archived files before \(keyBound)") { connection throws(MySQLError) in
            let parameters = MySQLParameters(keyBound)
            return try connection.run("DELETE FROM processed_files WHERE archived = 1 AND object_key < ?", parameters)
        }
    }

    public func ledgerSummary() async throws(WarehouseError) -> LedgerSummary {
        try await run("summarise the file ledgers") { connection throws(MySQLError) in
            let rejected = Int(try connection.query("SELECT count(*) FROM rejected_files").first?.int64(0) ?? 0)
            guard
                let row = try connection.query(
                    """
                    SELECT count(*), coalesce(sum(`rows`), 0), coalesce(sum(rows_unchanged), 0), coalesce(sum(archived), 0),
                        max(processed_at)
                    FROM processed_files
                    """
                ).first
            else { return LedgerSummary(rejectedFiles: rejected) }
            return LedgerSummary(
                processedFiles: Int(try row.requiredInt(0)), processedRows: Int(try row.requiredInt(1)),
                duplicatesSkipped: Int(try row.requiredInt(2)), archivedFiles: Int(try row.requiredInt(3)), rejectedFiles: rejected,
                lastProcessedAt: row.int64(4))
        }
    }
}
