import CMariaDB

/// MariaDB's client library, loaded on first use rather than linked: a build without it runs everything but the MySQL
/// warehouse, and asking for that warehouse without the library ends with what to install.
public enum MariaDBClientLibrary {
    /// Loads the library once per process; throws the same one-line explanation on every call when it is missing,
    /// incomplete or of another major version.
    public static func load() throws(MySQLError) {
        var failure: UnsafePointer<CChar>?
        guard cryptopipe_mariadb_load(&failure) == 1 else {
            throw .ours(
                failure.map { String(cString: $0) } ?? "MariaDB's client library could not be loaded",
                operation: "load MariaDB's client library")
        }
    }
}
