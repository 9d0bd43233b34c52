/// One named check of a conformance suite, run against a freshly made backend.
///
/// Suites are written once here and run by every backend's tests as parameterised tests, so a new
/// backend is correct exactly when it passes the same list.
public struct ConformanceCheck<Backend: Sendable>: Sendable, CustomStringConvertible {
    public let name: String
    let body: @Sendable (Backend) async throws -> Void

    public init(_ name: String, _ body: @escaping @Sendable (Backend) async throws -> Void) {
        self.name = name
        self.body = body
    }

    public func run(_ backend: Backend) async throws { try await body(backend) }

    public var description: String { name }
}

/// A conformance expectation that did not hold.
public struct ConformanceFailure: Error, CustomStringConvertible {
    public let description: String

    public init(_ description: String, file: String = #fileID, line: Int = #line) {
        self.description = "\(description) (\(file):\(line))"
    }
}

/// Throws a ``ConformanceFailure`` unless `condition` holds.
public func require(_ condition: Bool, _ message: @autoclosure () -> String, file: String = #fileID, line: Int = #line) throws {
    if !condition { throw ConformanceFailure(message(), file: file, line: line) }
}

/// The error a throwing body ended with (typed throws), or `nil`: for expectations on an error's text without a do/catch
/// in the test (which typed throws make awkward).
public func failure<E: Error>(_ body: () async throws(E) -> Void) async -> E? {
    do {
        try await body()
        return nil
    } catch {
        return error
    }
}
