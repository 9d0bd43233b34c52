/// A bucketed object store: the data lake's storage backend (a local folder or S3-compatible storage).
///
/// Backends only move bytes; object naming and validation live in ``LakeLayout`` so every backend
/// agrees on them. Keys use `/` as the folder separator.
public protocol ObjectStore: Sendable {
    /// Stores `bytes` under `key`, atomically: readers see the old object or the whole new one.
    func put(bucket: String, key: String, bytes: [UInt8]) async throws(ObjectStoreError)
    /// The object's bytes; ``ObjectStoreError/notFound(bucket:key:)`` when missing.
    func get(bucket: String, key: String) async throws(ObjectStoreError) -> [UInt8]
    /// Size of the object, or `nil` when it does not exist.
    func head(bucket: String, key: String) async throws(ObjectStoreError) -> ObjectInfo?
    /// Objects whose key starts with `prefix`, ascending by key.
    func list(bucket: String, prefix: String) async throws(ObjectStoreError) -> [ObjectInfo]
    /// The "folders" one level below `prefix` (which is empty or ends in `/`), each ending in `/`, ascending;
    /// S3's common prefixes with delimiter `/`. Lets callers list one day at a time.
    func listFolders(bucket: String, prefix: String) async throws(ObjectStoreError) -> [String]
    /// Copies an object, possibly between buckets, without downloading it where the backend can.
    func copy(from source: ObjectLocation, to destination: ObjectLocation) async throws(ObjectStoreError)
    /// Deletes an object; deleting a missing object is not an error.
    func delete(bucket: String, key: String) async throws(ObjectStoreError)
}

extension ObjectStore {
    /// Copies, verifies the copy's size, then deletes the source: an interruption leaves the object
    /// in one or both places, never in neither.
    public func move(from source: ObjectLocation, to destination: ObjectLocation) async throws(ObjectStoreError) {
        try await copy(from: source, to: destination)
        guard let original = try await head(bucket: source.bucket, key: source.key),
            let copied = try await head(bucket: destination.bucket, key: destination.key), original.size == copied.size
        else {
            throw ObjectStoreError.io(operation: "verify copy", location: destination, detail: "copy missing or of another size")
        }
        try await delete(bucket: source.bucket, key: source.key)
    }
}

public struct ObjectLocation: Sendable, Hashable, CustomStringConvertible {
    public var bucket: String
    public var key: String

    public init(bucket: String, key: String) {
        self.bucket = bucket
        self.key = key
    }

    public var description: String { "\(bucket)/\(key)" }
}

public struct ObjectInfo: Sendable, Hashable {
    public var key: String
    public var size: Int

    public init(key: String, size: Int) {
        self.key = key
        self.size = size
    }
}

public enum ObjectStoreError: Error, Sendable, Hashable, CustomStringConvertible {
    case notFound(bucket: String, key: String)
    case invalidKey(String, reason: String)
    case io(operation: String, location: ObjectLocation, detail: String)

    public var description: String {
        switch self {
        case .notFound(let bucket, let key): "object \(bucket)/\(key) does not exist"
        case .invalidKey(let key, let reason): "invalid object key '\(key)': \(reason)"
        case .io(let operation, let location, let detail): "cannot \(operation) \(location): \(detail)"
        }
    }
}
