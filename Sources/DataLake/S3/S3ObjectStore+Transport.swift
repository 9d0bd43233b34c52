import AsyncHTTPClient
import Logging
import MarketData
import NIOCore
import NIOHTTP1

/// An S3 answer, read whole; an error answer's code and message are read from its XML body once.
struct S3Response: Sendable {
    let status: Int
    let headers: HTTPHeaders
    let body: [UInt8]
    /// S3's error code (`NoSuchKey`, `SlowDown`…); HEAD answers have no body, so the status stands in. `nil` on success.
    let errorCode: String?
    let errorMessage: String

    init(status: Int, headers: HTTPHeaders, body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
        guard !(200..<300).contains(status) else {
            errorCode = nil
            errorMessage = ""
            return
        }
        // A body that is not S3's XML (a proxy's HTML page) leaves the status as the only clue.
        let root = (try? S3XMLElement.parse(body)).flatMap { $0.name == "Error" ? $0 : nil }
        errorCode = root?.value("Code") ?? [403: "AccessDenied", 404: "NotFound"][status]
        errorMessage = root?.value("Message") ?? (body.isEmpty ? "" : "unexpected answer")
    }

    var isSuccess: Bool { (200..<300).contains(status) }

    func error(operation: String, location: ObjectLocation) -> ObjectStoreError {
        .service(operation: operation, location: location, status: status, code: errorCode ?? "HTTP\(status)", message: errorMessage)
    }

    /// Worth another attempt: the server was busy or failed, the request itself was fine.
    var isRetryable: Bool {
        status >= 500 || ["SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable"].contains(errorCode ?? "")
    }
}

extension S3ObjectStore {
    /// Signs and sends one request, retrying what is worth retrying; returns the final answer, success or not.
    func send(
        _ operation: String, _ location: ObjectLocation, method: HTTPMethod, bucket: String, key: String?,
        query: [(String, String)] = [], headers extraHeaders: [(String, String)] = [], body: [UInt8] = [],
        maximumBodyBytes: Int = maximumBodyBytes
    ) async throws(ObjectStoreError) -> S3Response {
        let endpoint = configuration.effectiveEndpoint
        let host = configuration.pathStyle ? endpoint.hostHeader : "\(bucket).\(endpoint.hostHeader)"
        let path: String
        if configuration.pathStyle {
            path = key.map { "/\(bucket)/\($0)" } ?? "/\(bucket)"
        } else {
            path = "/" + (key ?? "")
        }
        let payloadHash = SigV4Signer.hexSHA256(body)
        var generator = SystemRandomNumberGenerator()
        var attempt = 1
        while true {
            var signable = SigV4Signer.Request(
                method: method.rawValue, path: path, query: query.map { (name: $0.0, value: $0.1) },
                headers: [("host", host)] + extraHeaders.map { (name: $0.0, value: $0.1) }, payloadHash: payloadHash)
            signable.headers += signer.sign(signable, at: clock.now())
            var request = HTTPClientRequest(url: "\(endpoint.secure ? "https" : "http")://\(host)\(signable.encodedTarget())")
            request.method = method
            for (name, value) in signable.headers { request.headers.add(name: name, value: value) }
            if !body.isEmpty || method == .PUT || method == .POST {
                request.body = .bytes(ByteBuffer(bytes: body))
            }
            let outcome: Result<S3Response, any Error>
            do {
                let response = try await httpClient.execute(request, timeout: Self.timeAmount(configuration.requestTimeout))
                let buffer = try await response.body.collect(upTo: maximumBodyBytes)
                outcome = .success(
                    S3Response(status: Int(response.status.code), headers: response.headers, body: Array(buffer.readableBytesView)))
            } catch is NIOTooManyBytesError {
                // The same answer again would be as large: no retry.
                throw .io(
                    operation: operation, location: location,
                    detail: "S3 endpoint \(endpoint) answered with more than \(maximumBodyBytes / 1_048_576) MiB; refused")
            } catch {
                outcome = .failure(error)
            }
            let retryable: Bool
            switch outcome {
            case .success(let response): retryable = response.isRetryable
            case .failure: retryable = true
            }
            if !retryable || attempt >= configuration.retry.maxAttempts || Task.isCancelled {
                switch outcome {
                case .success(let response): return response
                case .failure(let error):
                    throw .io(
                        operation: operation, location: location,
                        detail:
                            "S3 endpoint \(endpoint) unreachable after \(attempt) attempt\(attempt == 1 ? "" : "s"): \(Self.describe(error))"
                    )
                }
            }
            let delay = configuration.retry.delay(beforeRetry: attempt, using: &generator)
            logger.notice(
                "retrying S3 request",
                metadata: [
                    "s3.operation": "\(operation)", "s3.location": "\(location)", "s3.attempt": "\(attempt)",
                    "s3.failure": "\(Self.summary(outcome))",
                ])
            do {
                try await Task.sleep(for: delay)
            } catch {
                throw .io(operation: operation, location: location, detail: "cancelled")
            }
            attempt += 1
        }
    }

    static func summary(_ outcome: Result<S3Response, any Error>) -> String {
        switch outcome {
        case .success(let response): "HTTP \(response.status) \(response.errorCode ?? "")"
        case .failure(let error): describe(error)
        }
    }

    /// A short reason for a transport failure (AsyncHTTPClient's errors describe themselves tersely).
    static func describe(_ error: any Error) -> String {
        let text = String(describing: error)
        if text.contains("connectTimeout") { return "connection timed out" }
        if text.contains("deadlineExceeded") || text.contains("readTimeout") { return "request timed out" }
        if text.contains("connectionRefused") || text.contains("Connection refused") { return "connection refused" }
        return text
    }

    static func timeAmount(_ duration: Duration) -> TimeAmount {
        .nanoseconds(duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
    }
}
