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
    /// One page of ``list(bucket:prefix:)``: up to `limit` objects whose key starts with `prefix` and comes after
    /// `after` (in the order of their UTF-8 bytes, S3's), ascending. A caller walking a folder of any size holds one
    /// page at a time (S3's ListObjectsV2 `start-after`).
    func list(bucket: String, prefix: String, after: String?, limit: Int) async throws(ObjectStoreError) -> ObjectPage
    /// The "folders" one level below `prefix` (which is empty or ends in `/`), each ending in `/`, ascending;
    /// S3's common prefixes with delimiter `/`. Lets callers list one day at a time.
    func listFolders(bucket: String, prefix: String) async throws(ObjectStoreError) -> [String]
    /// Copies an object, possibly between buckets, without downloading it where the backend can.
    func copy(from source: ObjectLocation, to destination: ObjectLocation) async throws(ObjectStoreError)
    /// Deletes an object; deleting a missing object is not an error.
    func delete(bucket: String, key: String) async throws(ObjectStoreError)
    /// Deletes many objects of one bucket (S3: DeleteObjects, 1000 a request); missing ones are not an error.
    func delete(bucket: String, keys: [String]) async throws(ObjectStoreError)
}

extension ObjectStore {
    public func delete(bucket: String, keys: [String]) async throws(ObjectStoreError) {
        for key in keys { try await delete(bucket: bucket, key: key) }
    }

    /// Copies, verifies the copy's size, then deletes the source: an interruption leaves the object
    /// in one or both places, never in neither.
    public func move(from source: ObjectLocation, to destination: ObjectLocation) async throws(ObjectStoreError) {
        try await copyVerified(from: source, to: destination)
        try await delete(bucket: source.bucket, key: source.key)
    }

    /// Copies, then checks that the copy exists with the source's size and, where both are known, its MD5.
    /// `original` describes the source when the caller already listed it, saving a HEAD request.
    public func copyVerified(
        from source: ObjectLocation, to destination: ObjectLocation, expecting original: ObjectInfo? = nil
    ) async throws(ObjectStoreError) {
        try await copy(from: source, to: destination)
        let expected: ObjectInfo?
        if let original { expected = original } else { expected = try await head(bucket: source.bucket, key: source.key) }
        guard let expected, let copied = try await head(bucket: destination.bucket, key: destination.key), expected.size == copied.size,
            expected.contentMD5 == nil || copied.contentMD5 == nil || expected.contentMD5 == copied.contentMD5
        else {
            throw ObjectStoreError.io(operation: "verify copy", location: destination, detail: "copy missing or of other content")
        }
    }
}

/// A walk over the objects under a prefix, a page of names at a time, so a folder of any size is never listed whole.
/// Each page is checked to move the listing forward (``ObjectPage/next(after:pagesWalked:location:)``), so a store
/// that lists the same names again, or never stops, ends the walk with an error.
public struct FolderWalk: Sendable {
    public let bucket: String
    public let prefix: String
    public let pageSize: Int
    /// Where the page last returned started: its objects sort after this key (`nil` for the first page).
    public private(set) var pageStart: String?
    /// Whether the page last returned was the last one.
    public private(set) var isFinished = false
    private var resumeAfter: String?
    private var pagesWalked = 0

    public init(bucket: String, prefix: String, pageSize: Int) {
        self.bucket = bucket
        self.prefix = prefix
        self.pageSize = pageSize
    }

    /// The next page of the listing, `nil` once the last one was returned.
    public mutating func next(in store: some ObjectStore) async throws(ObjectStoreError) -> ObjectPage? {
        guard !isFinished else { return nil }
        let page = try await store.list(bucket: bucket, prefix: prefix, after: resumeAfter, limit: pageSize)
        pagesWalked += 1
        pageStart = resumeAfter
        resumeAfter = try page.next(after: pageStart, pagesWalked: pagesWalked, location: ObjectLocation(bucket: bucket, key: prefix))
        isFinished = resumeAfter == nil
        return page
    }
}

/// A page of a listing, and where the next one starts.
public struct ObjectPage: Sendable, Hashable {
    /// At most the page's limit, ascending by the UTF-8 bytes of their keys.
    public var objects: [ObjectInfo]
    /// The `after` of the next page; `nil` when this page ends the listing. It may be past the last object of this page
    /// (one listed, then gone before its size was read), so a short page need not be the last.
    public var resumeAfter: String?

    public init(objects: [ObjectInfo], resumeAfter: String?) {
        self.objects = objects
        self.resumeAfter = resumeAfter
    }

    /// Pages one walk over a folder may take: 10⁸ objects at the transformer's 20,000 a page (as many as one S3
    /// listing may hold), so a store that never stops listing new keys ends the walk with an error.
    public static let maximumPagesPerWalk = 5_000

    /// Where the page after this one starts (`nil` at the end), checked against `after`, where this one started: a
    /// listing that goes back, or goes on past ``maximumPagesPerWalk`` pages, is an error, not an endless walk.
    public func next(after: String?, pagesWalked: Int, location: ObjectLocation) throws(ObjectStoreError) -> String? {
        guard let resumeAfter else { return nil }
        guard Self.sorts(resumeAfter, after: after) else {
            throw .io(
                operation: "list", location: location,
                detail: "the listing went back from '\((after ?? "").prefix(200))' to '\(resumeAfter.prefix(200))'; it does not advance")
        }
        guard pagesWalked < Self.maximumPagesPerWalk else {
            throw .io(operation: "list", location: location, detail: "the listing goes on after \(pagesWalked) pages; giving up")
        }
        return resumeAfter
    }

    /// Whether `key` starts with the bytes of `prefix` (`String.hasPrefix` compares characters: `"a/\u{301}"` does not
    /// start with `"a/"` there, though its bytes do).
    public static func key(_ key: String, startsWith prefix: String) -> Bool {
        key.utf8.starts(with: prefix.utf8)
    }

    /// Whether `key` sorts after `bound` by its UTF-8 bytes (S3's order; `String`'s `<` orders by Unicode scalars
    /// after normalisation, which differs for keys outside ASCII).
    public static func sorts(_ key: String, after bound: String?) -> Bool {
        guard let bound else { return true }
        return bound.utf8.lexicographicallyPrecedes(key.utf8)
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
    /// Hex MD5 of the content when the backend knows it without reading the object (S3's ETag of a single-part
    /// upload); `nil` otherwise.
    public var contentMD5: String?

    public init(key: String, size: Int, contentMD5: String? = nil) {
        self.key = key
        self.size = size
        self.contentMD5 = contentMD5
    }
}

/// Rules every backend applies to keys, so a lake can move between backends unchanged.
public enum ObjectKeyRules {
    /// Keys are relative paths without `.`/`..` segments or NUL, at most 1024 bytes (S3's limit).
    public static func validate(_ key: String) throws(ObjectStoreError) {
        guard !key.isEmpty, key.utf8.count <= 1024, key.utf8.first != UInt8(ascii: "/"), hasNoDotSegmentOrNUL(key) else {
            throw .invalidKey(key, reason: "must be a relative path without '.' or '..' segments, at most 1024 bytes")
        }
    }

    /// Byte by byte (every read of the lake checks its key): no segment between `/`s is `.` or `..`, and no byte is NUL.
    static func hasNoDotSegmentOrNUL(_ key: String) -> Bool {
        var segmentLength = 0
        var dotsOnly = true
        for byte in key.utf8 {
            switch byte {
            case 0: return false
            case UInt8(ascii: "/"):
                if dotsOnly, (1...2).contains(segmentLength) { return false }
                (segmentLength, dotsOnly) = (0, true)
            default:
                segmentLength += 1
                if byte != UInt8(ascii: ".") { dotsOnly = false }
            }
        }
        return !(dotsOnly && (1...2).contains(segmentLength))
    }
}

/// A lake operation that failed: what kind of failure (``code``), and its context.
///
/// A struct over a private set of kinds (the pattern of Hummingbird's `HTTPError` and postgres-nio's `PSQLError`), so
/// a new kind does not break callers that switch over the old ones.
public struct ObjectStoreError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case notFound = "not found"
            case invalidKey = "invalid key"
            case io = "storage failure"
            case service = "refused by the storage service"
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The object does not exist.
        public static let notFound = Code(.notFound)
        /// The key is not one the lake accepts.
        public static let invalidKey = Code(.invalidKey)
        /// The store could not be reached or the local file system failed.
        public static let io = Code(.io)
        /// The storage service refused the request (S3's error code in ``ObjectStoreError/serviceCode``).
        public static let service = Code(.service)

        public var description: String { base.rawValue }
    }

    public let code: Code
    /// What was being done (`get`, `list` …), when known.
    public let operation: String?
    public let location: ObjectLocation
    /// The reason (an invalid key), the file system's message (I/O) or the service's message.
    public let detail: String
    /// S3's error code (`SignatureDoesNotMatch`, `AccessDenied`, `NoSuchBucket` …), for ``Code/service``.
    public let serviceCode: String?
    /// The HTTP status of a ``Code/service`` failure.
    public let httpStatus: Int?

    private init(
        _ code: Code, operation: String?, location: ObjectLocation, detail: String, serviceCode: String? = nil, httpStatus: Int? = nil
    ) {
        self.code = code
        self.operation = operation
        self.location = location
        self.detail = detail
        self.serviceCode = serviceCode
        self.httpStatus = httpStatus
    }

    public static func notFound(bucket: String, key: String) -> ObjectStoreError {
        ObjectStoreError(.notFound, operation: nil, location: ObjectLocation(bucket: bucket, key: key), detail: "")
    }

    public static func invalidKey(_ key: String, reason: String) -> ObjectStoreError {
        ObjectStoreError(.invalidKey, operation: nil, location: ObjectLocation(bucket: "", key: key), detail: reason)
    }

    public static func io(operation: String, location: ObjectLocation, detail: String) -> ObjectStoreError {
        ObjectStoreError(.io, operation: operation, location: location, detail: detail)
    }

    public static func service(operation: String, location: ObjectLocation, status: Int, code: String, message: String) -> ObjectStoreError
    {
        ObjectStoreError(.service, operation: operation, location: location, detail: message, serviceCode: code, httpStatus: status)
    }

    public var description: String {
        let operation = operation ?? ""
        switch code {
        case .notFound: return "object \(location.bucket)/\(location.key) does not exist"
        case .invalidKey: return "invalid object key '\(location.key)': \(detail)"
        case .service:
            let status = httpStatus.map(String.init) ?? "?"
            let code = serviceCode ?? ""
            return "cannot \(operation) \(location): S3 \(code) (HTTP \(status))\(detail.isEmpty ? "" : ": \(detail)")\(Self.hint(code))"
        default: return "cannot \(operation) \(location): \(detail)"
        }
    }

    static func hint(_ code: String) -> String {
        switch code {
        case "SignatureDoesNotMatch", "InvalidAccessKeyId":
            " (check the S3 access key and secret key)"
        case "AccessDenied":
            " (the credentials lack permission for this bucket)"
        case "NoSuchBucket":
            " (create the bucket, or allow the store to create it)"
        default: ""
        }
    }
}
