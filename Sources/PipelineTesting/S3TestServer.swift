public import DataLake
import Foundation

/// The S3 server integration tests use, found through the environment (`scripts/test` starts moto with signature
/// checking and sets these):
/// `CRYPTOPIPE_TEST_S3_ENDPOINT`, `CRYPTOPIPE_TEST_S3_ACCESS_KEY`, `CRYPTOPIPE_TEST_S3_SECRET_KEY`.
/// `CRYPTOPIPE_TEST_S3=off` skips the tests deliberately; either way a skipped test says why.
public enum S3TestServer {
    static let environment = ProcessInfo.processInfo.environment

    /// The configuration of the test server, or `nil` when tests must be skipped.
    public static let configuration: S3Configuration? = {
        guard !["off", "unavailable"].contains(environment["CRYPTOPIPE_TEST_S3"]?.lowercased()),
            let endpointText = environment["CRYPTOPIPE_TEST_S3_ENDPOINT"], let endpoint = try? S3Endpoint(parsing: endpointText),
            let key = environment["CRYPTOPIPE_TEST_S3_ACCESS_KEY"], let secret = environment["CRYPTOPIPE_TEST_S3_SECRET_KEY"]
        else { return nil }
        return S3Configuration(
            endpoint: endpoint, credentials: S3Credentials(accessKeyID: key, secretAccessKey: secret),
            retry: .init(maxAttempts: 3, baseDelay: .milliseconds(50), maxDelay: .milliseconds(500)))
    }()

    public static var isAvailable: Bool { configuration != nil }

    /// Why S3 tests did not run, shown by the test runner.
    public static var skipReason: String {
        if environment["CRYPTOPIPE_TEST_S3"]?.lowercased() == "unavailable" {
            return "the S3 test server could not be started (scripts/test printed why above)"
        }
        if environment["CRYPTOPIPE_TEST_S3"]?.lowercased() == "off" { return "S3 tests switched off (CRYPTOPIPE_TEST_S3=off)" }
        return "no S3 test server: run scripts/test, or set CRYPTOPIPE_TEST_S3_ENDPOINT, _ACCESS_KEY and _SECRET_KEY"
    }

    /// A prefix for bucket names no other test uses (S3 bucket names: lower case, digits and '-').
    public static func uniqueBucketPrefix() -> String {
        "t" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(12) + "-"
    }
}
