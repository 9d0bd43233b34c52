import Crypto
public import DataLake

/// An ``ObjectStore`` in memory, for tests that need a lake without a disk. It passes the same
/// conformance suite as the real stores.
public actor InMemoryObjectStore: ObjectStore {
    private var buckets: [String: [String: [UInt8]]] = [:]
    /// Keys whose `get` fails with an I/O error, as a disk or an S3 proxy might: a fault hook for tests.
    private var unreadableKeys: Set<String> = []
    /// `get` calls per key, so tests can tell whether an object was read.
    private var reads: [String: Int] = [:]

    public init() {}

    /// Makes `get` of these keys fail (replacing any earlier set); an empty set heals them.
    public func setUnreadable(_ keys: Set<String>) { unreadableKeys = keys }

    /// How often `get` was called for `key`.
    public func readCount(_ key: String) -> Int { reads[key] ?? 0 }

    public func put(bucket: String, key: String, bytes: [UInt8]) throws(ObjectStoreError) {
        try Self.validate(key)
        buckets[bucket, default: [:]][key] = bytes
    }

    public func get(bucket: String, key: String) throws(ObjectStoreError) -> [UInt8] {
        try Self.validate(key)
        reads[key, default: 0] += 1
        if unreadableKeys.contains(key) {
            throw .io(operation: "get", location: ObjectLocation(bucket: bucket, key: key), detail: "injected read fault")
        }
        guard let bytes = buckets[bucket]?[key] else { throw .notFound(bucket: bucket, key: key) }
        return bytes
    }

    public func head(bucket: String, key: String) throws(ObjectStoreError) -> ObjectInfo? {
        try Self.validate(key)
        return buckets[bucket]?[key].map { Self.info(key, $0) }
    }

    public func list(bucket: String, prefix: String) -> [ObjectInfo] {
        (buckets[bucket] ?? [:]).filter { $0.key.hasPrefix(prefix) }.map { Self.info($0.key, $0.value) }.sorted { $0.key < $1.key }
    }

    public func list(bucket: String, prefix: String, after: String?, limit: Int) -> ObjectPage {
        let keys = (buckets[bucket] ?? [:]).keys.filter { ObjectPage.key($0, startsWith: prefix) && ObjectPage.sorts($0, after: after) }
            .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        let page = keys.prefix(max(1, limit))
        return ObjectPage(
            objects: page.compactMap { key in buckets[bucket]?[key].map { Self.info(key, $0) } },
            resumeAfter: keys.count > page.count ? page.last : nil)
    }

    /// Size and MD5, as S3 reports them (the bytes are at hand, so the MD5 costs no read).
    static func info(_ key: String, _ bytes: [UInt8]) -> ObjectInfo {
        let digits = Array("0123456789abcdef")
        let md5 = String(Insecure.MD5.hash(data: bytes).flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] })
        return ObjectInfo(key: key, size: bytes.count, contentMD5: md5)
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
