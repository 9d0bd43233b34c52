public import DataLake
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A small HTTP/1.1 server on a free loopback port, on plain sockets: it records exactly what arrived (method, target,
/// headers, body) and answers with `handler`, which may block (a test holding an answer back). It also accepts
/// `CONNECT`, answering 200 and then serving the tunnelled requests, which is how an HTTP client with a proxy reaches
/// it; a tunnel to port 443 is closed at once.
public final class LoopbackHTTPServer: Sendable {
    public struct Request: Sendable {
        public var method: String
        public var target: String
        /// Lower-cased names.
        public var headers: [String: String]
        public var body: [UInt8]

        public var path: String { String(target.prefix { $0 != "?" }) }

        /// Query parameters in order, percent-decoded.
        public var queryPairs: [(String, String)] {
            guard let mark = target.firstIndex(of: "?") else { return [] }
            return target[target.index(after: mark)...].split(separator: "&").map { pair in
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                func decode(_ text: Substring?) -> String { text.map { String($0).removingPercentEncoding ?? String($0) } ?? "" }
                return (decode(parts.first), decode(parts.count > 1 ? parts[1] : nil))
            }
        }

        public var query: [String: String] { Dictionary(queryPairs) { first, _ in first } }

        /// Whether this carries a valid SigV4 signature by `credentials` for what arrived (its `Host` header included),
        /// checked as S3 checks it, so a test sees what was really sent rather than what the client meant to sign.
        public func isSigned(by credentials: S3Credentials, region: String = "us-east-1") -> Bool {
            guard let authorization = headers["authorization"], let timestamp = headers["x-amz-date"],
                let payloadHash = headers["x-amz-content-sha256"],
                let signed = authorization.split(separator: " ").first(where: { $0.hasPrefix("SignedHeaders=") })
            else { return false }
            let names = signed.dropFirst("SignedHeaders=".count).trimmingCharacters(in: CharacterSet(charactersIn: ",")).split(
                separator: ";")
            let expected = SigV4Signer(credentials: credentials, region: region).authorization(
                for: SigV4Signer.Request(
                    method: method, path: path.removingPercentEncoding ?? path, query: queryPairs.map { (name: $0.0, value: $0.1) },
                    headers: names.map { (name: String($0), value: headers[String($0)] ?? "") }, payloadHash: payloadHash),
                timestamp: timestamp)
            return expected == authorization
        }
    }

    public struct Answer: Sendable {
        public var status: Int
        public var headers: [(String, String)]
        public var body: [UInt8]

        public init(_ status: Int, headers: [(String, String)] = [], body: [UInt8] = []) {
            self.status = status
            self.headers = headers
            self.body = body
        }

        public init(_ status: Int, headers: [(String, String)] = [], text: String) {
            self.init(status, headers: headers, body: Array(text.utf8))
        }
    }

    /// What ``get(port:path:)`` received.
    public struct Reply: Sendable {
        public var status: Int
        public var body: String
    }

    private struct State {
        var requests: [Request] = []
        var connections: Set<Int32> = []
        var stopped = false
    }

    public let port: Int
    private let listener: Int32
    private let handler: @Sendable (Request) -> Answer
    private let state = Mutex(State())

    public init(_ handler: @escaping @Sendable (Request) -> Answer) throws {
        self.handler = handler
        let (listener, port) = try Self.openListener()
        self.listener = listener
        self.port = port
        // Threads, not tasks: the handler may block, and the cooperative pool is small.
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    /// What arrived so far, in order.
    public var requests: [Request] { state.withLock { $0.requests } }

    /// Stops accepting and closes every connection.
    public func stop() {
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

    /// A plain GET to a loopback port (`Connection: close`), run off the cooperative pool as it blocks.
    public static func get(port: Int, path: String) async throws -> Reply {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try getBlocking(port: port, path: path) })
            }
        }
    }

    private static func getBlocking(port: Int, path: String) throws -> Reply {
        let connection = socket(AF_INET, streamSocket, 0)
        guard connection >= 0 else { throw ConformanceFailure("cannot open a socket") }
        defer { close(connection) }
        var address = loopback(port: port)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(connection, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw ConformanceFailure("cannot connect to 127.0.0.1:\(port)") }
        guard sendAll(connection, Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n\r\n".utf8)) else {
            throw ConformanceFailure("cannot send to 127.0.0.1:\(port)")
        }
        var bytes: [UInt8] = []
        while receive(connection, into: &bytes) {}
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        guard bytes.count >= 4, let split = (0...(bytes.count - 4)).first(where: { bytes[$0..<$0 + 4].elementsEqual(separator) }) else {
            throw ConformanceFailure("no HTTP answer: \(String(decoding: bytes, as: UTF8.self))")
        }
        let head = String(decoding: bytes[0..<split], as: UTF8.self)
        let status = head.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        var body = Array(bytes[(split + 4)...])
        if head.lowercased().contains("transfer-encoding: chunked") { body = dechunk(body) }
        return Reply(status: status, body: String(decoding: body, as: UTF8.self))
    }

    /// The body of a chunked answer.
    private static func dechunk(_ bytes: [UInt8]) -> [UInt8] {
        var body: [UInt8] = []
        var position = 0
        while let lineEnd = (position..<max(position, bytes.count - 1)).first(where: { bytes[$0] == 13 && bytes[$0 + 1] == 10 }),
            let size = Int(String(decoding: bytes[position..<lineEnd], as: UTF8.self), radix: 16), size > 0,
            lineEnd + 2 + size <= bytes.count
        {
            body += bytes[(lineEnd + 2)..<(lineEnd + 2 + size)]
            position = lineEnd + 2 + size + 2
        }
        return body
    }
}
