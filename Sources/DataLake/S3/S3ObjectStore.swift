public import AsyncHTTPClient
import Crypto
import Foundation
public import Logging
public import MarketData
import NIOCore
import Synchronization

/// An ``ObjectStore`` on S3-compatible storage, speaking the S3 REST API with Signature V4 over AsyncHTTPClient.
///
/// Every request is signed with the real SHA-256 of its body, uploads carry `Content-MD5` so the server refuses a
/// corrupted body, and failures keep S3's error code (``ObjectStoreError/service(operation:location:status:code:message:)``).
/// All requests are idempotent (PUT of the same bytes, GET, HEAD, LIST, COPY, DELETE), so 5xx, `SlowDown` and
/// connection failures are retried with jittered backoff.
public struct S3ObjectStore: ObjectStore {
    public let configuration: S3Configuration
    let signer: SigV4Signer
    let httpClient: HTTPClient
    let logger: Logger
    /// Signatures carry the time: the S3 server refuses requests whose time is off by more than 15 minutes.
    let clock: PipelineClock
    /// Buckets this store created or saw, so a missing bucket is created once, not looked up per write.
    private let knownBuckets = KnownBuckets()

    /// The client every S3 store uses unless given another: a failed connection fails the attempt at once (the store's
    /// retry policy then backs off) instead of being retried until the request's deadline, and redirects are not
    /// followed (a signed request cannot be replayed elsewhere; S3's `PermanentRedirect` is reported instead). Up to
    /// ``connectionsPerHost`` connections, so the transformer's reads ahead are all in flight (AsyncHTTPClient's default
    /// of 8 would queue the rest behind them). A static is never deinitialised, so it needs no shutdown.
    public static let sharedHTTPClient: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = connectionsPerHost
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout.connect = .seconds(5)
        configuration.redirectConfiguration = .disallow
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    public init(
        configuration: S3Configuration, httpClient: HTTPClient = S3ObjectStore.sharedHTTPClient,
        logger: Logger = Logger(label: "cryptopipe.s3"),
        clock: PipelineClock = .system
    ) {
        self.configuration = configuration
        self.signer = SigV4Signer(credentials: configuration.credentials, region: configuration.region)
        self.httpClient = httpClient
        self.logger = logger
        self.clock = clock
    }

    /// HTTP/1.1 connections to one S3 endpoint: one per read the transformer keeps ahead (64).
    public static let connectionsPerHost = 64

    /// Largest object body read into memory; raw responses are far smaller.
    static let maximumBodyBytes = 512 * 1024 * 1024
    /// Largest listing page read: 1,000 keys of S3's longest (1,024 bytes) with their XML fit in well under this, so a
    /// page that claims to hold millions is refused before it is held.
    static let maximumListBodyBytes = 8 * 1024 * 1024
    /// S3's longest key, in UTF-8 bytes.
    static let maximumKeyBytes = 1_024
    /// Longest continuation token taken (S3's are a few hundred bytes): each is remembered for the rest of the listing.
    static let maximumTokenBytes = 4_096
    /// DeleteObjects takes at most this many keys a request.
    static let deleteBatchSize = 1_000

    // MARK: - ObjectStore

    public func put(bucket: String, key: String, bytes: [UInt8]) async throws(ObjectStoreError) {
        try ObjectKeyRules.validate(key)
        let location = ObjectLocation(bucket: bucket, key: key)
        let md5 = Data(Insecure.MD5.hash(data: bytes)).base64EncodedString()
        let headers = [("content-md5", md5), ("content-type", key.hasSuffix(".json") ? "application/json" : "application/octet-stream")]
        try await withBucket(bucket, operation: "put", location: location) { () async throws(ObjectStoreError) in
            let response = try await send("put", location, method: .PUT, bucket: bucket, key: key, headers: headers, body: bytes)
            guard response.isSuccess else { throw response.error(operation: "put", location: location) }
        }
    }

    public func get(bucket: String, key: String) async throws(ObjectStoreError) -> [UInt8] {
        try ObjectKeyRules.validate(key)
        let location = ObjectLocation(bucket: bucket, key: key)
        let response = try await send("get", location, method: .GET, bucket: bucket, key: key)
        if response.status == 404 { throw .notFound(bucket: bucket, key: key) }
        guard response.isSuccess else { throw response.error(operation: "get", location: location) }
        return response.body
    }

    public func head(bucket: String, key: String) async throws(ObjectStoreError) -> ObjectInfo? {
        try ObjectKeyRules.validate(key)
        let location = ObjectLocation(bucket: bucket, key: key)
        let response = try await send("head", location, method: .HEAD, bucket: bucket, key: key)
        if response.status == 404 { return nil }
        guard response.isSuccess else { throw response.error(operation: "head", location: location) }
        guard let length = response.headers.first(name: "content-length").flatMap(Int.init) else {
            throw .io(operation: "head", location: location, detail: "S3 answered without Content-Length")
        }
        return ObjectInfo(key: key, size: length, contentMD5: Self.md5(fromETag: response.headers.first(name: "etag")))
    }

    public func list(bucket: String, prefix: String) async throws(ObjectStoreError) -> [ObjectInfo] {
        try await listing(bucket: bucket, prefix: prefix, delimiter: nil).objects
    }

    public func list(bucket: String, prefix: String, after: String?, limit: Int) async throws(ObjectStoreError) -> ObjectPage {
        let limit = max(1, limit)
        let listing = try await listing(bucket: bucket, prefix: prefix, delimiter: nil, after: after, limit: limit)
        // What the server sent is checked, not trusted: only keys under the prefix and after `after`, so a server
        // repeating keys cannot keep a caller paging forever, and no more than `limit` of them.
        var objects = listing.objects.filter { ObjectPage.key($0.key, startsWith: prefix) && ObjectPage.sorts($0.key, after: after) }
        objects.sort { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        let truncated = listing.isTruncated || objects.count > limit
        if objects.count > limit { objects.removeSubrange(limit...) }
        // A server that says there is more but sent nothing new (one ignoring `start-after`, say) would end the walk
        // early if its silence were taken for the end: that is an error, not an empty last page.
        guard !truncated || !objects.isEmpty else {
            throw .io(
                operation: "list", location: ObjectLocation(bucket: bucket, key: prefix),
                detail:
                    "S3 said the listing goes on after '\((after ?? "").prefix(200))' but sent no key after it; the listing does not advance"
            )
        }
        return ObjectPage(objects: objects, resumeAfter: truncated ? objects.last?.key : nil)
    }

    public func listFolders(bucket: String, prefix: String) async throws(ObjectStoreError) -> [String] {
        try await listing(bucket: bucket, prefix: prefix, delimiter: "/").folders
    }

    public func copy(from source: ObjectLocation, to destination: ObjectLocation) async throws(ObjectStoreError) {
        try ObjectKeyRules.validate(source.key)
        try ObjectKeyRules.validate(destination.key)
        let copySource = "/\(source.bucket)/\(SigV4Signer.percentEncode(source.key, keepSlash: true))"
        try await withBucket(destination.bucket, operation: "copy into", location: destination) { () async throws(ObjectStoreError) in
            let response = try await send(
                "copy into", destination, method: .PUT, bucket: destination.bucket, key: destination.key,
                headers: [("x-amz-copy-source", copySource)])
            if response.status == 404, response.errorCode == "NoSuchKey" { throw .notFound(bucket: source.bucket, key: source.key) }
            guard response.isSuccess else { throw response.error(operation: "copy into", location: destination) }
            // CopyObject may answer 200 and still fail: the error is then the body.
            if let root = try? S3XMLElement.parse(response.body), root.name == "Error" {
                throw .service(
                    operation: "copy into", location: destination, status: response.status, code: root.value("Code") ?? "Error",
                    message: root.value("Message") ?? "")
            }
        }
    }

    public func delete(bucket: String, key: String) async throws(ObjectStoreError) {
        try ObjectKeyRules.validate(key)
        let location = ObjectLocation(bucket: bucket, key: key)
        let response = try await send("delete", location, method: .DELETE, bucket: bucket, key: key)
        if response.status == 404 { return }  // no such bucket: nothing to delete
        guard response.isSuccess else { throw response.error(operation: "delete", location: location) }
    }

    public func delete(bucket: String, keys: [String]) async throws(ObjectStoreError) {
        for key in keys { try ObjectKeyRules.validate(key) }
        var start = 0
        while start < keys.count {
            let batch = keys[start..<min(keys.count, start + Self.deleteBatchSize)]
            start += batch.count
            let location = ObjectLocation(bucket: bucket, key: batch.first ?? "")
            var xml = "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet>"
            for key in batch { xml += "<Object><Key>\(S3XMLElement.escape(key))</Key></Object>" }
            xml += "</Delete>"
            let body = Array(xml.utf8)
            let md5 = Data(Insecure.MD5.hash(data: body)).base64EncodedString()
            let response = try await send(
                "delete objects in", location, method: .POST, bucket: bucket, key: nil, query: [("delete", "")],
                headers: [("content-md5", md5), ("content-type", "application/xml")], body: body)
            if response.status == 404 { return }
            guard response.isSuccess else { throw response.error(operation: "delete objects in", location: location) }
            let result = try parse(response.body, operation: "delete objects in", location: location)
            if let failure = result.children("Error").first {
                let failed = ObjectLocation(bucket: bucket, key: failure.value("Key") ?? "")
                throw .service(
                    operation: "delete", location: failed, status: response.status, code: failure.value("Code") ?? "Error",
                    message: failure.value("Message") ?? "")
            }
        }
    }

    // MARK: - Buckets

    /// Creates `bucket`; an existing bucket of ours is fine.
    public func createBucket(_ bucket: String) async throws(ObjectStoreError) {
        let location = ObjectLocation(bucket: bucket, key: "")
        var body: [UInt8] = []
        if configuration.region != "us-east-1" {
            body = Array(
                ("<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><LocationConstraint>"
                    + "\(S3XMLElement.escape(configuration.region))</LocationConstraint></CreateBucketConfiguration>").utf8)
        }
        let response = try await send("create bucket", location, method: .PUT, bucket: bucket, key: nil, body: body)
        guard response.isSuccess || response.errorCode == "BucketAlreadyOwnedByYou" else {
            throw response.error(operation: "create bucket", location: location)
        }
        knownBuckets.insert(bucket)
        logger.info("created bucket", metadata: ["s3.bucket": "\(bucket)"])
    }

    /// Runs `body`; when it fails because the bucket is missing and creation is allowed, creates the bucket and
    /// runs it once more.
    func withBucket(
        _ bucket: String, operation: String, location: ObjectLocation, _ body: () async throws(ObjectStoreError) -> Void
    ) async throws(ObjectStoreError) {
        do {
            try await body()
        } catch  where error.serviceCode == "NoSuchBucket" && configuration.createBuckets {
            // A concurrent write may have created the bucket after this one was refused: then only retry.
            if !knownBuckets.contains(bucket) { try await createBucket(bucket) }
            try await body()
        }
    }

    // MARK: - Listing

    struct Listing {
        var objects: [ObjectInfo] = []
        var folders: [String] = []
        /// Whether the server had more when the listing stopped at its `limit`.
        var isTruncated = false
    }

    /// Pages one listing may take. At 1,000 keys a page that is 10⁸ objects under one prefix, far more than a day
    /// folder or the lake's folder list holds; a server still saying "truncated" after that is not making progress.
    static let maximumListPages = 100_000

    /// ListObjectsV2, following continuation tokens to the end, or until `limit` objects are listed; a missing bucket
    /// lists as empty. `after` starts the listing after that key (`start-after`).
    ///
    /// An endpoint or proxy that answers "truncated" with a token it already gave (or never stops) would otherwise
    /// keep the caller listing forever: a repeated token, or more than `maximumPages` pages, is an error.
    func listing(
        bucket: String, prefix: String, delimiter: String?, after: String? = nil, limit: Int = .max,
        maximumPages: Int = maximumListPages
    ) async throws(ObjectStoreError) -> Listing {
        let location = ObjectLocation(bucket: bucket, key: prefix)
        var result = Listing()
        var token: String?
        var seenTokens: Set<String> = []
        var pages = 0
        repeat {
            var query = [("list-type", "2"), ("prefix", prefix), ("max-keys", "\(min(1000, max(1, limit - result.objects.count)))")]
            if let delimiter { query.append(("delimiter", delimiter)) }
            if let token { query.append(("continuation-token", token)) } else if let after { query.append(("start-after", after)) }
            let response = try await send(
                "list", location, method: .GET, bucket: bucket, key: nil, query: query, maximumBodyBytes: Self.maximumListBodyBytes)
            if response.status == 404, response.errorCode == "NoSuchBucket" { return Listing() }
            guard response.isSuccess else { throw response.error(operation: "list", location: location) }
            let page = try parse(response.body, operation: "list", location: location)
            pages += 1
            let contents = page.children("Contents")
            let commonPrefixes = page.children("CommonPrefixes")
            // S3 sends at most `max-keys` (1,000) keys and folders together a page.
            guard contents.count + commonPrefixes.count <= 1_000 else {
                throw .io(
                    operation: "list", location: location,
                    detail: "S3 listed \(contents.count) objects and \(commonPrefixes.count) folders in a page of at most 1000")
            }
            for object in contents {
                guard let key = object.value("Key"), let size = object.value("Size").flatMap(Int.init) else {
                    throw .io(operation: "list", location: location, detail: "S3 listed an object without Key or Size")
                }
                guard key.utf8.count <= Self.maximumKeyBytes else {
                    throw .io(
                        operation: "list", location: location,
                        detail: "S3 listed a key of \(key.utf8.count) bytes ('\(key.prefix(64))…'); S3 keys have at most 1024")
                }
                result.objects.append(ObjectInfo(key: key, size: size, contentMD5: Self.md5(fromETag: object.value("ETag"))))
            }
            result.folders += commonPrefixes.compactMap { $0.value("Prefix") }
            token = nil
            if page.value("IsTruncated") == "true" {
                guard let next = page.value("NextContinuationToken"), !next.isEmpty else {
                    throw .io(
                        operation: "list", location: location, detail: "S3 said the listing is truncated but gave no continuation token")
                }
                guard next.utf8.count <= Self.maximumTokenBytes else {
                    throw .io(
                        operation: "list", location: location,
                        detail: "S3 gave a continuation token of \(next.utf8.count) bytes; it takes at most \(Self.maximumTokenBytes)")
                }
                guard seenTokens.insert(next).inserted else {
                    throw .io(
                        operation: "list", location: location,
                        detail: "S3 repeated the continuation token '\(next.prefix(64))' after \(pages) pages; the listing does not advance"
                    )
                }
                guard pages < maximumPages else {
                    throw .io(
                        operation: "list", location: location, detail: "S3 listing still truncated after \(pages) pages; giving up")
                }
                token = next
                if result.objects.count >= limit {
                    result.isTruncated = true
                    break
                }
            }
        } while token != nil
        // In S3's order, by UTF-8 bytes (String's `<` and `==` take canonically equivalent keys for one). A key a server
        // repeats across pages is listed once, so it is not loaded twice.
        result.objects.sort { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        var unique: [ObjectInfo] = []
        unique.reserveCapacity(result.objects.count)
        for object in result.objects where !(unique.last.map { $0.key.utf8.elementsEqual(object.key.utf8) } ?? false) {
            unique.append(object)
        }
        result.objects = unique
        result.folders.sort()
        return result
    }

    func parse(_ body: [UInt8], operation: String, location: ObjectLocation) throws(ObjectStoreError) -> S3XMLElement {
        do {
            return try S3XMLElement.parse(body)
        } catch {
            throw .io(operation: operation, location: location, detail: error.description)
        }
    }

    /// The hex MD5 in a single-part upload's ETag (`"9b2c…"`); multipart and encrypted ETags are not MD5s.
    static func md5(fromETag etag: String?) -> String? {
        guard let etag else { return nil }
        let bare = etag.replacingOccurrences(of: "\"", with: "").lowercased()
        guard bare.count == 32, bare.allSatisfy({ $0.isHexDigit }) else { return nil }
        return bare
    }
}

/// The set of buckets known to exist, shared by copies of a store.
final class KnownBuckets: Sendable {
    private let names = Mutex<Set<String>>([])

    func insert(_ name: String) { _ = names.withLock { $0.insert(name) } }
    func contains(_ name: String) -> Bool { names.withLock { $0.contains(name) } }
}
