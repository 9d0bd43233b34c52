public import MarketData
public import Warehouse

/// ``SettingsStore``: `settings`.
extension MySQLWarehouse {
    public func setting(_ key: String) async throws(WarehouseError) -> String? {
        try await run("read setting \(key)") { connection throws(MySQLError) in
            let parameters = MySQLParameters(key)
            return try connection.query("SELECT value FROM settings WHERE `key` = ?", parameters).first?.string(0)
        }
    }

    public func saveSetting(_ key: String, value: String, at time: Int64) async throws(WarehouseError) {
        try await write("save setting \(key)") { connection throws(MySQLError) in
            let parameters = MySQLParameters(key, value, time)
            try connection.run(
                """
                INSERT INTO settings (`key`, value, updated_at) VALUES (?, ?, ?)
                ON DUPLICATE KEY UPDATE value = VALUES(value), updated_at = VALUES(updated_at)
                """, parameters)
        }
    }
}
