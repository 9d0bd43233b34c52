import AsyncHTTPClient
import Foundation
import PipelineTesting
import Synchronization
import Testing

@testable import DataLake

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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

    /// Whether `request` carries a valid SigV4 signature for what arrived, its `Host` header included, as S3 checks it.
    static func isSigned(_ request: LoopbackHTTPServer.Request, region: String) -> Bool {
        guard let authorization = request.headers["authorization"], let timestamp = request.headers["x-amz-date"],
            let payloadHash = request.headers["x-amz-content-sha256"],
            let signed = authorization.split(separator: " ").first(where: { $0.hasPrefix("SignedHeaders=") })
        else { return false }
        let names = signed.dropFirst("SignedHeaders=".count).trimmingCharacters(in: CharacterSet(charactersIn: ",")).split(separator: ";")
        let expected = SigV4Signer(credentials: credentials, region: region).authorization(
            for: SigV4Signer.Request(
                method: request.method, path: request.path.removingPercentEncoding ?? request.path,
                query: request.queryPairs.map { (name: $0.0, value: $0.1) },
                headers: names.map { (name: String($0), value: request.headers[String($0)] ?? "") }, payloadHash: payloadHash),
            timestamp: timestamp)
        return expected == authorization
    }

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
                httpClient: client, now: { Self.now })
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
            #expect(Self.isSigned(request, region: "eu-west-1"), "\(request.method) \(request.target): \(request.headers)")
            #expect(request.headers["authorization"]?.contains("Credential=AKIDADDRESSING/20240101/eu-west-1/s3/aws4_request") == true)
        }
    }

    /// README: "`--s3-create-buckets true`: a missing bucket is created on the first write". Two first writes at once
    /// (as `lake migrate` makes them): both are told NoSuchBucket, one creates the bucket, and the other's answer arrives
    /// only after that. The server orders it so: the second write's 404 is held until the first writer, having created
    /// the bucket, sends its write again.
    @Test(.timeLimit(.minutes(1)))
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
                httpClient: client, now: { Self.now })
            #expect(!store.configuration.pathStyle)
            // The proxy ends the tunnel instead of speaking TLS, so the request fails; where it was headed is recorded.
            await #expect(throws: ObjectStoreError.self) { try await store.list(bucket: "crypto-raw", prefix: "") }
        }
        #expect(server.requests.map { "\($0.method) \($0.target)" } == ["CONNECT crypto-raw.s3.eu-west-1.amazonaws.com:443"])
    }
}

/// A small HTTP/1.1 server on a free loopback port, on plain sockets: it records exactly what arrived (method, target,
/// headers, body) and answers with `handler`, which may block (a test holding an answer back). It also accepts
/// `CONNECT`, answering 200 and then serving the tunnelled requests, which is how an HTTP client with a proxy reaches
/// it; a tunnel to port 443 is closed at once.
final class LoopbackHTTPServer: Sendable {
    struct Request: Sendable {
        var method: String
        var target: String
        /// Lower-cased names.
        var headers: [String: String]
        var body: [UInt8]

        var path: String { String(target.prefix { $0 != "?" }) }

        /// Query parameters in order, percent-decoded.
        var queryPairs: [(String, String)] {
            guard let mark = target.firstIndex(of: "?") else { return [] }
            return target[target.index(after: mark)...].split(separator: "&").map { pair in
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                func decode(_ text: Substring?) -> String { text.map { String($0).removingPercentEncoding ?? String($0) } ?? "" }
                return (decode(parts.first), decode(parts.count > 1 ? parts[1] : nil))
            }
        }

        var query: [String: String] { Dictionary(queryPairs) { first, _ in first } }
    }

    struct Answer: Sendable {
        var status: Int
        var headers: [(String, String)]
        var body: [UInt8]

        init(_ status: Int, headers: [(String, String)] = [], body: [UInt8] = []) {
            self.status = status
            self.headers = headers
            self.body = body
        }

        init(_ status: Int, headers: [(String, String)] = [], text: String) {
            self.init(status, headers: headers, body: Array(text.utf8))
        }
    }

    private struct State {
        var requests: [Request] = []
        var connections: Set<Int32> = []
        var stopped = false
    }

    let port: Int
    private let listener: Int32
    private let handler: @Sendable (Request) -> Answer
    private let state = Mutex(State())

    init(_ handler: @escaping @Sendable (Request) -> Answer) throws {
        self.handler = handler
        let (listener, port) = try Self.openListener()
        self.listener = listener
        self.port = port
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    /// What arrived so far, in order.
    var requests: [Request] { state.withLock { $0.requests } }

    /// Stops accepting and closes every connection.
    func stop() {
        state.withLock { state in
            guard !state.stopped else { return }
            state.stopped = true
            shutdown(listener, Int32(SHUT_RDWR))
            for connection in state.connections { shutdown(connection, Int32(SHUT_RDWR)) }
        }
    }

    #if canImport(Glibc)
    static let streamSocket = Int32(SOCK_STREAM.rawValue)
    #else
    static let streamSocket = SOCK_STREAM
    #endif

    static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }

    private static func openListener() throws -> (Int32, Int) {
        let socket = socket(AF_INET, streamSocket, 0)
        guard socket >= 0 else { throw ConformanceFailure("cannot open a socket") }
        var address = loopback(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ready = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(socket, pointer, length) == 0 && listen(socket, 64) == 0 && getsockname(socket, pointer, &length) == 0
            }
        }
        guard ready else {
            close(socket)
            throw ConformanceFailure("cannot listen on loopback")
        }
        return (socket, Int(UInt16(bigEndian: address.sin_port)))
    }

    private func acceptLoop() {
        while true {
            let connection = accept(listener, nil, nil)
            if connection < 0 {
                if errno == EINTR { continue }
                break
            }
            let taken = state.withLock { state -> Bool in
                guard !state.stopped else { return false }
                state.connections.insert(connection)
                return true
            }
            guard taken else {
                close(connection)
                break
            }
            Thread.detachNewThread { [self] in serve(connection) }
        }
        close(listener)
    }

    private func serve(_ connection: Int32) {
        defer {
            state.withLock { _ = $0.connections.remove(connection) }
            close(connection)
        }
        var buffer: [UInt8] = []
        while let request = Self.readRequest(connection, &buffer) {
            state.withLock { $0.requests.append(request) }
            if request.method == "CONNECT" {
                guard Self.sendAll(connection, Array("HTTP/1.1 200 Connection established\r\n\r\n".utf8)) else { return }
                if request.target.hasSuffix(":443") { return }
                continue
            }
            let answer = handler(request)
            var head = "HTTP/1.1 \(answer.status) \(answer.status < 400 ? "OK" : "Error")\r\n"
            for (name, value) in answer.headers { head += "\(name): \(value)\r\n" }
            if !answer.headers.contains(where: { $0.0.lowercased() == "content-length" }) {
                head += "Content-Length: \(answer.body.count)\r\n"
            }
            head += "\r\n"
            guard Self.sendAll(connection, Array(head.utf8) + (request.method == "HEAD" ? [] : answer.body)) else { return }
            if request.headers["connection"]?.lowercased() == "close" { return }
        }
    }

    private static func sendAll(_ connection: Int32, _ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let result = bytes.withUnsafeBytes { send(connection, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
            if result < 0, errno == EINTR { continue }
            guard result > 0 else { return false }
            sent += result
        }
        return true
    }

    /// Reads more into `buffer`; false at the end of the stream.
    private static func receive(_ connection: Int32, into buffer: inout [UInt8]) -> Bool {
        var chunk = [UInt8](repeating: 0, count: 16_384)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { return false }
            buffer += chunk[0..<count]
            return true
        }
    }

    private static func readRequest(_ connection: Int32, _ buffer: inout [UInt8]) -> Request? {
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        var end: Int?
        while true {
            if buffer.count >= 4 {
                end = (0...(buffer.count - 4)).first { buffer[$0..<$0 + 4].elementsEqual(separator) }
            }
            if end != nil { break }
            guard receive(connection, into: &buffer) else { return nil }
        }
        guard let end else { return nil }
        let head = String(decoding: buffer[0..<end], as: UTF8.self).split(separator: "\r\n", omittingEmptySubsequences: false)
        buffer.removeFirst(end + 4)
        let requestLine = head.first?.split(separator: " ") ?? []
        guard requestLine.count >= 2 else { return nil }
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            headers[name] = headers[name].map { "\($0),\(value)" } ?? value
        }
        let length = headers["content-length"].flatMap { Int($0) } ?? 0
        while buffer.count < length {
            guard receive(connection, into: &buffer) else { return nil }
        }
        let body = Array(buffer.prefix(length))
        buffer.removeFirst(length)
        return Request(method: String(requestLine[0]), target: String(requestLine[1]), headers: headers, body: body)
    }
}
