import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import PipelineTesting
import ServiceLifecycle
import Synchronization
import Testing

@testable import DataLake

/// The S3 store against a real S3 server (moto with signature checking, started by `scripts/test`).
@Suite(.enabled(if: S3TestServer.isAvailable, Comment(rawValue: S3TestServer.skipReason)))
struct S3ObjectStoreTests {
    static func store(_ configuration: S3Configuration? = S3TestServer.configuration) throws -> S3ObjectStore {
        S3ObjectStore(configuration: try #require(configuration))
    }

    @Test(arguments: ObjectStoreConformance.checks)
    func conformance(check: ConformanceCheck<ObjectStoreUnderTest>) async throws {
        try await check.run(ObjectStoreUnderTest(try Self.store(), bucketPrefix: S3TestServer.uniqueBucketPrefix()))
    }

    @Test func aWrongSecretFailsWithSignatureDoesNotMatchOnOneLine() async throws {
        var configuration = try #require(S3TestServer.configuration)
        configuration.credentials.secretAccessKey = "not-the-secret-at-all"
        let store = try Self.store(configuration)
        let error = try #require(
            await failure { () async throws(ObjectStoreError) in
                try await store.put(bucket: S3TestServer.uniqueBucketPrefix() + "raw", key: "2024-01-01/A.json", bytes: [1])
            })
        #expect(error.serviceCode == "SignatureDoesNotMatch")
        #expect(error.description.contains("SignatureDoesNotMatch (HTTP 403)"))
        #expect(!error.description.contains("\n") && !error.description.contains("not-the-secret-at-all"))
    }

    @Test func anUnknownAccessKeyIsRefused() async throws {
        var configuration = try #require(S3TestServer.configuration)
        configuration.credentials = S3Credentials(accessKeyID: "AKIANOTAREALKEY00000", secretAccessKey: "x")
        let store = try Self.store(configuration)
        let error = try #require(
            await failure { () async throws(ObjectStoreError) in
                _ = try await store.list(bucket: S3TestServer.uniqueBucketPrefix() + "raw", prefix: "")
            })
        #expect(["InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied"].contains(error.serviceCode ?? ""), "\(error)")
    }

    @Test func withoutBucketCreationAMissingBucketIsAClearError() async throws {
        var configuration = try #require(S3TestServer.configuration)
        configuration.createBuckets = false
        let store = try Self.store(configuration)
        let bucket = S3TestServer.uniqueBucketPrefix() + "raw"
        let error = try #require(
            await failure { () async throws(ObjectStoreError) in
                try await store.put(bucket: bucket, key: "2024-01-01/A.json", bytes: [1])
            })
        #expect(error.serviceCode == "NoSuchBucket")
        #expect(error.description.contains("create the bucket"))
        // Reading a missing bucket is simply empty, as for a missing folder.
        #expect(try await store.list(bucket: bucket, prefix: "").isEmpty)
    }

    @Test func anObjectDeletedBehindOurBackIsNotFound() async throws {
        let store = try Self.store()
        let bucket = S3TestServer.uniqueBucketPrefix() + "raw"
        try await store.put(bucket: bucket, key: "2024-01-01/A.json", bytes: [1, 2])
        try await store.delete(bucket: bucket, key: "2024-01-01/A.json")
        await #expect(throws: ObjectStoreError.notFound(bucket: bucket, key: "2024-01-01/A.json")) {
            try await store.get(bucket: bucket, key: "2024-01-01/A.json")
        }
        await #expect(throws: ObjectStoreError.notFound(bucket: bucket, key: "2024-01-01/A.json")) {
            try await store.copy(from: .init(bucket: bucket, key: "2024-01-01/A.json"), to: .init(bucket: bucket, key: "2024-01-01/B.json"))
        }
    }
}

/// The S3 store against a scripted server: retries, error bodies, an endpoint that is down.
struct S3ObjectStoreFaultTests {
    static let credentials = S3Credentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "secret")

    static func configuration(_ endpoint: String, attempts: Int = 4) throws -> S3Configuration {
        S3Configuration(
            endpoint: try S3Endpoint(parsing: endpoint), credentials: credentials,
            retry: .init(maxAttempts: attempts, baseDelay: .milliseconds(5), maxDelay: .milliseconds(20)), requestTimeout: .seconds(30))
    }

    /// Serves `respond` on a free loopback port while `body` runs.
    static func withServer(
        _ respond: @escaping @Sendable (Request) async -> Response, _ body: @Sendable (String) async throws -> Void
    ) async throws {
        let router = Router()
        router.on("**", method: .put) { request, _ in await respond(request) }
        router.on("**", method: .get) { request, _ in await respond(request) }
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in
                continuation.yield(channel.localAddress?.port ?? 0)
                continuation.finish()
            }, logger: Logger(label: "fake-s3"))
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: Logger(label: "fake-s3")))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            let outcome: Result<Void, any Error>
            do { outcome = .success(try await body("http://127.0.0.1:\(port)")) } catch { outcome = .failure(error) }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            try outcome.get()
        }
    }

    static func errorResponse(_ status: HTTPResponse.Status, code: String, message: String) -> Response {
        Response(
            status: status, headers: [.contentType: "application/xml"],
            body: .init(
                byteBuffer: ByteBuffer(string: "<?xml version=\"1.0\"?><Error><Code>\(code)</Code><Message>\(message)</Message></Error>")))
    }

    @Test func aSlowDownStormIsRetriedUntilItPasses() async throws {
        let calls = Mutex(0)
        let sawSignature = Mutex(true)
        try await Self.withServer({ request in
            let call = calls.withLock { count in
                count += 1
                return count
            }
            let signed = request.headers[.authorization]?.hasPrefix("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/") ?? false
            sawSignature.withLock { $0 = $0 && signed && request.headers[HTTPField.Name("x-amz-content-sha256")!] != nil }
            if call <= 3 { return Self.errorResponse(.serviceUnavailable, code: "SlowDown", message: "Please reduce your request rate.") }
            return Response(status: .ok, headers: [HTTPField.Name("ETag")!: "\"x\""])
        }) { endpoint in
            let store = S3ObjectStore(configuration: try Self.configuration(endpoint))
            try await store.put(bucket: "crypto-raw", key: "2024-01-01/A.json", bytes: [1])
        }
        #expect(calls.withLock { $0 } == 4)
        #expect(sawSignature.withLock { $0 })
    }

    @Test func aStormLongerThanTheRetriesSurfacesS3sCode() async throws {
        try await Self.withServer({ _ in
            Self.errorResponse(.serviceUnavailable, code: "SlowDown", message: "Please reduce your request rate.")
        }) {
            endpoint in
            let store = S3ObjectStore(configuration: try Self.configuration(endpoint, attempts: 2))
            let error = try #require(
                await failure { () async throws(ObjectStoreError) in _ = try await store.get(bucket: "crypto-raw", key: "2024-01-01/A.json")
                })
            #expect(error.serviceCode == "SlowDown")
            #expect(
                error.description == "cannot get crypto-raw/2024-01-01/A.json: S3 SlowDown (HTTP 503): Please reduce your request rate.")
        }
    }

    @Test func aCopyAnsweredWithAnErrorBodyIsAnError() async throws {
        try await Self.withServer({ request in
            if request.method == .put {
                // CopyObject can fail after the 200 status is sent; the error is then in the body.
                return Response(
                    status: .ok,
                    body: .init(byteBuffer: ByteBuffer(string: "<Error><Code>AccessDenied</Code><Message>no</Message></Error>")))
            }
            return Response(status: .ok)
        }) { endpoint in
            let store = S3ObjectStore(configuration: try Self.configuration(endpoint, attempts: 1))
            let error = try #require(
                await failure { () async throws(ObjectStoreError) in
                    try await store.copy(from: .init(bucket: "a", key: "x.json"), to: .init(bucket: "b", key: "x.json"))
                })
            #expect(error.serviceCode == "AccessDenied")
        }
    }

    @Test func anEndpointThatIsDownIsAClearError() async throws {
        // A port held bound but not listening: connections are refused, and no other process can start listening there.
        let down = try ReservedPort()
        defer { down.release() }
        let store = S3ObjectStore(configuration: try Self.configuration("http://127.0.0.1:\(down.port)", attempts: 2))
        let error = try #require(
            await failure { () async throws(ObjectStoreError) in _ = try await store.list(bucket: "crypto-raw", prefix: "") })
        #expect(error.description.contains("S3 endpoint http://127.0.0.1:\(down.port) unreachable after 2 attempts"), "\(error)")
    }

    @Test func endpointsParseAndRejectWhatS3CannotUse() throws {
        #expect(try S3Endpoint(parsing: "http://127.0.0.1:9000/").hostHeader == "127.0.0.1:9000")
        #expect(try S3Endpoint(parsing: "https://s3.example.com:443").hostHeader == "s3.example.com")
        #expect(try S3Endpoint(parsing: "http://[::1]:9000").hostHeader == "[::1]:9000")
        for bad in ["ftp://x", "http://", "http://h/path", "http://user:pw@h", "http://h:99999"] {
            #expect(throws: S3ConfigurationError.self) { try S3Endpoint(parsing: bad) }
        }
        let aws = S3Configuration(region: "eu-west-1", credentials: Self.credentials)
        #expect(aws.effectiveEndpoint.description == "https://s3.eu-west-1.amazonaws.com" && !aws.pathStyle)
        #expect(!aws.description.contains("secret"))
    }
}

/// Listing documents and malformed XML (more XML cases, from fuzzing, in S3XMLTests.swift).
struct S3ListingXMLTests {
    @Test func listingsWithEntitiesAndNamespacesParse() throws {
        let xml = """
            <?xml version="1.0" encoding="UTF-8"?>
            <ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>crypto-raw</Name><IsTruncated>true</IsTruncated>
            <Contents><Key>2024-01-01/A&amp;B.json</Key><Size>12</Size><ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag></Contents>
            <Contents><Key>2024-01-01/&#x41;.json</Key><Size>0</Size><Owner/></Contents>
            <CommonPrefixes><Prefix>2024-01-02/</Prefix></CommonPrefixes><NextContinuationToken>tok/en==</NextContinuationToken>
            </ListBucketResult>
            """
        let root = try S3XMLElement.parse(Array(xml.utf8))
        #expect(root.name == "ListBucketResult" && root.value("IsTruncated") == "true")
        #expect(root.children("Contents").compactMap { $0.value("Key") } == ["2024-01-01/A&B.json", "2024-01-01/A.json"])
        #expect(S3ObjectStore.md5(fromETag: root.children("Contents")[0].value("ETag")) == "9b2cf535f27731c974343645a3985328")
        #expect(S3ObjectStore.md5(fromETag: "\"d41d8cd98f00b204e9800998ecf8427e-2\"") == nil)
        #expect(root.child("CommonPrefixes")?.value("Prefix") == "2024-01-02/")
        #expect(root.value("NextContinuationToken") == "tok/en==")
        #expect(S3XMLElement.escape("a&<b>\"'") == "a&amp;&lt;b&gt;&quot;&#39;")
    }

    @Test(arguments: ["", "<a>", "<a></b>", "<a>&bogus;</a>", "<a><![CDATA[x]]></a>", "text"])
    func malformedDocumentsAreErrors(xml: String) {
        #expect(throws: S3XMLError.self) { try S3XMLElement.parse(Array(xml.utf8)) }
    }
}
