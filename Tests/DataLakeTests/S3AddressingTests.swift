import AsyncHTTPClient
import Foundation
import MarketData
import PipelineTesting
import Synchronization
import Testing

@testable import DataLake

/// Where S3 requests go and how they are signed: path-style (`host/bucket/key`, MinIO and moto) or virtual-hosted
/// (`bucket.host/key`, AWS's default). The store talks through a proxy that records each request, so a virtual host
/// such as `crypto-raw.s3.example.test` needs no DNS: the proxy is told where to connect and sees the `Host` header.
struct S3AddressingTests {
    static let credentials = S3Credentials(accessKeyID: "AKIDADDRESSING", secretAccessKey: "addressing-secret")
    /// 2024-01-01T00:00:00Z, so every signature is reproducible.
    static let now: Int64 = 1_704_067_200_000

    /// A one-bucket S3: the bucket exists once created; objects are put, read, headed and listed.
    static func miniS3(bucket: String) -> @Sendable (LoopbackHTTPServer.Request) -> LoopbackHTTPServer.Answer {
        let state = Mutex<(created: Bool, objects: [String: [UInt8]])>((false, [:]))
        return { request in
            // Path-style names the bucket first in the path; virtual-hosted names it in the host.
            var key = String((request.path.removingPercentEncoding ?? request.path).dropFirst())
            if key == bucket || key.hasPrefix(bucket + "/") { key = String(key.dropFirst(bucket.count).drop { $0 == "/" }) }
            return state.withLock { state in
                switch (request.method, key.isEmpty) {
                case ("PUT", true):
                    state.created = true
                    return .init(200)
                case (_, _) where !state.created:
                    return .init(
                        404, headers: [("Content-Type", "application/xml")],
                        text: "<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message></Error>")
                case ("PUT", false):
                    state.objects[key] = request.body
                    return .init(200, headers: [("ETag", "\"\(md5(request.body))\"")])
                case ("GET", true):
                    let contents = state.objects.sorted { $0.key < $1.key }.map { key, bytes in
                        "<Contents><Key>\(key)</Key><Size>\(bytes.count)</Size><ETag>\"\(md5(bytes))\"</ETag></Contents>"
                    }
                    return .init(
                        200, headers: [("Content-Type", "application/xml")],
                        text:
                            "<?xml version=\"1.0\"?><ListBucketResult><IsTruncated>false</IsTruncated>\(contents.joined())</ListBucketResult>"
                    )
                case ("GET", false), ("HEAD", false):
                    guard let bytes = state.objects[key] else {
                        return .init(404, text: "<Error><Code>NoSuchKey</Code><Message>no such key</Message></Error>")
                    }
                    if request.method == "HEAD" {
                        return .init(200, headers: [("Content-Length", "\(bytes.count)"), ("ETag", "\"\(md5(bytes))\"")])
                    }
                    return .init(200, headers: [("ETag", "\"\(md5(bytes))\"")], body: bytes)
                default:
                    return .init(405, text: "<Error><Code>MethodNotAllowed</Code><Message>\(request.method)</Message></Error>")
                }
            }
        }
    }

    static func md5(_ bytes: [UInt8]) -> String { LakeMigration.md5(bytes) }

    /// Runs `body` with an HTTP client whose every connection goes through `proxy`.
    static func withProxiedClient(_ proxy: LoopbackHTTPServer, _ body: (HTTPClient) async throws -> Void) async throws {
        var configuration = HTTPClient.Configuration()
        configuration.proxy = .server(host: "127.0.0.1", port: proxy.port)
        configuration.redirectConfiguration = .disallow
        configuration.connectionPool.retryConnectionEstablishment = false
        let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
        let outcome: Result<Void, any Error>
        do { outcome = .success(try await body(client)) } catch { outcome = .failure(error) }
        try await client.shutdown()
        try outcome.get()
    }

    @Test(arguments: [false, true])
    func requestsNameTheBucketInTheHostOrThePathAndAreSignedForWhatIsSent(pathStyle: Bool) async throws {
        let server = try LoopbackHTTPServer(Self.miniS3(bucket: "crypto-raw"))
        defer { server.stop() }
        let endpoint = "s3.example.test:9000"
        let key = "2024-01-01/BTCUSDT_klines_1704067200000.json"
        let bytes = Array(#"{"data":[]}"#.utf8)
        try await Self.withProxiedClient(server) { client in
            let store = S3ObjectStore(
                configuration: S3Configuration(
                    endpoint: try S3Endpoint(parsing: "http://\(endpoint)"), region: "eu-west-1", credentials: Self.credentials,
                    pathStyle: pathStyle, retry: .init(maxAttempts: 1)),
                httpClient: client, clock: PipelineClock { Self.now })
            // The bucket does not exist yet: the first put creates it, then the object goes in.
            try await store.put(bucket: "crypto-raw", key: key, bytes: bytes)
            #expect(try await store.get(bucket: "crypto-raw", key: key) == bytes)
            #expect(try await store.list(bucket: "crypto-raw", prefix: "2024-01-01/").map(\.key) == [key])
        }

        let host = pathStyle ? endpoint : "crypto-raw.\(endpoint)"
        let requests = server.requests
        let tunnels = requests.filter { $0.method == "CONNECT" }
        let sent = requests.filter { $0.method != "CONNECT" }
        #expect(!tunnels.isEmpty && tunnels.allSatisfy { $0.target == host }, "\(tunnels.map(\.target))")
        let objectPath = pathStyle ? "/crypto-raw/\(key)" : "/\(key)"
        let bucketPath = pathStyle ? "/crypto-raw" : "/"
        #expect(
            sent.map { "\($0.method) \($0.path)" } == [
                "PUT \(objectPath)", "PUT \(bucketPath)", "PUT \(objectPath)", "GET \(objectPath)", "GET \(bucketPath)",
            ], "\(sent.map(\.target))")
        for request in sent {
            #expect(request.headers["host"] == host)
            #expect(request.isSigned(by: Self.credentials, region: "eu-west-1"), "\(request.method) \(request.target): \(request.headers)")
            #expect(request.headers["authorization"]?.contains("Credential=AKIDADDRESSING/20240101/eu-west-1/s3/aws4_request") == true)
        }
    }

    /// README: "`--s3-create-buckets true`: a missing bucket is created on the first write". Two first writes at once
    /// (as `lake migrate` makes them): both are told NoSuchBucket, one creates the bucket, and the other's answer arrives
    /// only after that. The server orders it so: the second write's 404 is held until the first writer, having created
    /// the bucket, sends its write again.
    @Test(.timeLimit(.minutes(5)))
    func aWriteRacingTheBucketsCreationStillLands() async throws {
        let s3 = Self.miniS3(bucket: "crypto-raw")
        let arrived = DispatchSemaphore(value: 0)
        let created = DispatchSemaphore(value: 0)
        let writes = Mutex(0)
        let server = try LoopbackHTTPServer { request in
            let isBucket = request.path == "/crypto-raw"
            let write =
                request.method == "PUT" && !isBucket
                ? writes.withLock { count in
                    count += 1
                    return count
                } : 0
            switch write {
            case 1:
                _ = arrived.wait(timeout: .now() + 20)  // the first is answered once the second is in
                return s3(request)
            case 2:
                arrived.signal()
                let answer = s3(request)  // NoSuchBucket, sent only once the first writer created the bucket
                _ = created.wait(timeout: .now() + 20)
                return answer
            case 3:
                created.signal()  // the first writer's retry: it has created the bucket and knows it
                return s3(request)
            default:
                return s3(request)
            }
        }
        defer { server.stop() }
        let store = S3ObjectStore(
            configuration: S3Configuration(
                endpoint: try S3Endpoint(parsing: "http://127.0.0.1:\(server.port)"), credentials: Self.credentials,
                retry: .init(maxAttempts: 1)))
        async let first: Void = store.put(bucket: "crypto-raw", key: "2024-01-01/A.json", bytes: [1])
        async let second: Void = store.put(bucket: "crypto-raw", key: "2024-01-01/B.json", bytes: [2])
        try await first
        try await second
        #expect(server.requests.filter { $0.method == "PUT" && $0.path == "/crypto-raw" }.count == 1)
    }

    @Test func withoutAnEndpointRequestsGoToTheBucketsOwnHostAtAWSOverHTTPS() async throws {
        let server = try LoopbackHTTPServer { _ in .init(500) }
        defer { server.stop() }
        try await Self.withProxiedClient(server) { client in
            let store = S3ObjectStore(
                configuration: S3Configuration(region: "eu-west-1", credentials: Self.credentials, retry: .init(maxAttempts: 1)),
                httpClient: client, clock: PipelineClock { Self.now })
            #expect(!store.configuration.pathStyle)
            // The proxy ends the tunnel instead of speaking TLS, so the request fails; where it was headed is recorded.
            await #expect(throws: ObjectStoreError.self) { try await store.list(bucket: "crypto-raw", prefix: "") }
        }
        #expect(server.requests.map { "\($0.method) \($0.target)" } == ["CONNECT crypto-raw.s3.eu-west-1.amazonaws.com:443"])
    }
}
