import GRDB
import GRDBSQLite
public import MarketData

/// ``SettingsStore``: `settings`.
extension SQLiteWarehouse {
    public func setting(_ key: String) async throws(WarehouseError) -> String? {
        try await read("read setting \(key)") { db in
            try String.fetchOne(db, sql: "SELECT value FROM settings WHERE key = ?", arguments: [key])
        }
    }

    public func settings(withPrefix prefix: String) async throws(WarehouseError) -> [String: String] {
        try await read("read settings \(prefix)*") { db in
            let rows = try Row.fetchAll(
                db, sql: "SELECT key, value FROM settings WHERE substr(key, 1, length(?)) = ?", arguments: [prefix, prefix])
            return Dictionary(rows.map { ($0[0] as String, $0[1] as String) }, uniquingKeysWith: { $1 })
        }
    }

    public func deleteSetting(_ key: String) async throws(WarehouseError) {
        try await write("delete setting \(key)") { db in try db.execute(sql: "DELETE FROM settings WHERE key = ?", arguments: [key]) }
    }

    public func saveSetting(_ key: String, value: String, at time: Int64) async throws(WarehouseError) {
        try await write("save setting \(key)") { db in
            try db.execute(
                sql: "INSERT OR REPLACE INTO settings (key, value, updated_at) VALUES (?, ?, ?)", arguments: [key, value, time])
        }
    }
}
