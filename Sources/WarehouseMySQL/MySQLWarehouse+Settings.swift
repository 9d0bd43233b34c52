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

    public func settings(withPrefix prefix: String) async throws(WarehouseError) -> [String: String] {
        try await run("read settings \(prefix)*") { connection throws(MySQLError) in
            var settings: [String: String] = [:]
            for row in try connection.query(
                "SELECT `key`, value FROM settings WHERE LEFT(`key`, CHAR_LENGTH(?)) = ?", MySQLParameters(prefix, prefix)
            ).all {
                settings[try row.requiredText(0)] = try row.requiredText(1)
            }
            return settings
        }
    }

    public func deleteSetting(_ key: String) async throws(WarehouseError) {
        try await write("delete setting \(key)") { connection throws(MySQLError) in
            try connection.run("DELETE FROM settings WHERE `key` = ?", MySQLParameters(key))
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
