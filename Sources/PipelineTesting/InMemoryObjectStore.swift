public import DataLake

/// An ``ObjectStore`` in memory, for tests that need a lake without a disk. It passes the same
/// conformance suite as the real stores.
public actor InMemoryObjectStore: ObjectStore {
    private var buckets: [String: [String: [UInt8]]] = [:]

    public init() {}

    public func put(bucket: String, key: String, bytes: [UInt8]) throws(ObjectStoreError) {
        try Self.validate(key)
        buckets[bucket, default: [:]][key] = bytes
    }

    public func get(bucket: String, key: String) throws(ObjectStoreError) -> [UInt8] {
        try Self.validate(key)
        guard let bytes = buckets[bucket]?[key] else { throw .notFound(bucket: bucket, key: key) }
        return bytes
    }

    public func head(bucket: String, key: String) throws(ObjectStoreError) -> ObjectInfo? {
        try Self.validate(key)
        return buckets[bucket]?[key].map { ObjectInfo(key: key, size: $0.count) }
    }

    public func list(bucket: String, prefix: String) -> [ObjectInfo] {
        (buckets[bucket] ?? [:]).filter { $0.key.hasPrefix(prefix) }.map { ObjectInfo(key: $0.key, size: $0.value.count) }
            .sorted { $0.key < $1.key }
    }

    public func listFolders(bucket: String, prefix: String) -> [String] {
        var folders = Set<String>()
        for key in (buckets[bucket] ?? [:]).keys where key.hasPrefix(prefix) {
            let rest = key.dropFirst(prefix.count)
            if let slash = rest.firstIndex(of: "/") { folders.insert(prefix + rest[..<slash] + "/") }
        }
        return folders.sorted()
    }

    public func copy(from source: ObjectLocation, to destination: ObjectLocation) throws(ObjectStoreError) {
        let bytes = try get(bucket: source.bucket, key: source.key)
        try put(bucket: destination.bucket, key: destination.key, bytes: bytes)
    }

    public func delete(bucket: String, key: String) throws(ObjectStoreError) {
        try Self.validate(key)
        buckets[bucket]?[key] = nil
    }

    static func validate(_ key: String) throws(ObjectStoreError) {
        try ObjectKeyRules.validate(key)
    }
}
