import ArgumentParser
import DataLake
import WebApp

/// Options for S3-compatible lakes (`--lake s3://bucket`, `lake migrate`); credentials only from the environment,
/// so they never show in `ps` or shell history.
struct S3Options: ParsableArguments {
    @Option(
        name: .long,
        help: """
            S3 endpoint, e.g. http://127.0.0.1:9000 (env CRYPTOPIPE_S3_ENDPOINT, AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL; \
            default AWS S3 of the region).
            """)
    var s3Endpoint: String?

    @Option(name: .long, help: "S3 signing region (env CRYPTOPIPE_S3_REGION, default us-east-1).")
    var s3Region: String?

    @Option(name: .long, help: "Bucket old raw objects are archived to (env CRYPTOPIPE_S3_ARCHIVE_BUCKET, default crypto-archive).")
    var s3ArchiveBucket: String?

    @Option(
        name: .long,
        help: "Path-style URLs (host/bucket/key), true or false (env CRYPTOPIPE_S3_PATH_STYLE, default true when an endpoint is given).")
    var s3PathStyle: String?

    @Option(name: .long, help: "Create missing buckets, true or false (env CRYPTOPIPE_S3_CREATE_BUCKETS, default true).")
    var s3CreateBuckets: String?

    /// Resolved S3 settings; credentials may be absent until an S3 store is actually needed.
    struct Resolved {
        var endpoint: S3Endpoint?
        var endpointSource: String
        var region: String
        var archiveBucket: String
        var pathStyle: Bool?
        var createBuckets: Bool
        var credentials: S3Credentials?
        var credentialsSource: String

        /// The store's configuration, or a one-line error saying which variables to set.
        func configuration(requestTimeoutSeconds: Int) throws(CLIError) -> S3Configuration {
            guard let credentials else {
                throw .usage(
                    "an S3 lake needs credentials: set CRYPTOPIPE_S3_ACCESS_KEY and CRYPTOPIPE_S3_SECRET_KEY "
                        + "(or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)")
            }
            return S3Configuration(
                endpoint: endpoint, region: region, credentials: credentials, pathStyle: pathStyle, createBuckets: createBuckets,
                requestTimeout: .seconds(max(30, requestTimeoutSeconds)))
        }

        func entries() -> [ConfigurationEntry] {
            let configuration = S3Configuration(
                endpoint: endpoint, region: region, credentials: S3Credentials(accessKeyID: "", secretAccessKey: ""), pathStyle: pathStyle)
            return [
                ConfigurationEntry(name: "s3_endpoint", value: configuration.effectiveEndpoint.description, source: endpointSource),
                ConfigurationEntry(name: "s3_region", value: region, source: "resolved"),
                ConfigurationEntry(name: "s3_archive_bucket", value: archiveBucket, source: "resolved"),
                ConfigurationEntry(name: "s3_path_style", value: String(configuration.pathStyle), source: "resolved"),
                ConfigurationEntry(name: "s3_create_buckets", value: String(createBuckets), source: "resolved"),
                ConfigurationEntry(
                    name: "s3_credentials", value: credentials == nil ? "not set" : "[redacted]", source: credentialsSource),
            ]
        }
    }

    func resolve(_ settings: Settings) throws(CLIError) -> Resolved {
        let env = settings.environment
        func nonEmpty(_ name: String) -> String? { env[name].flatMap { $0.isEmpty ? nil : $0 } }
        var endpoint: S3Endpoint?
        var endpointSource = "default"
        let endpointText: (String, String)? =
            s3Endpoint.map { ($0, "flag") } ?? nonEmpty("CRYPTOPIPE_S3_ENDPOINT").map { ($0, "CRYPTOPIPE_S3_ENDPOINT") }
            ?? nonEmpty("AWS_ENDPOINT_URL_S3").map { ($0, "AWS_ENDPOINT_URL_S3") }
            ?? nonEmpty("AWS_ENDPOINT_URL").map { ($0, "AWS_ENDPOINT_URL") }
        if let (text, source) = endpointText {
            do {
                endpoint = try S3Endpoint(parsing: text)
            } catch {
                throw .usage("\(error.description) (from \(source == "flag" ? "--s3-endpoint" : source))")
            }
            endpointSource = source == "flag" ? "flag" : "environment"
        }
        let region = settings.text(s3Region, env: "CRYPTOPIPE_S3_REGION", default: "us-east-1")
        guard !region.isEmpty, region.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" }) else {
            throw .usage("S3 region '\(region)' is not valid: expected a name such as us-east-1")
        }
        let archiveBucket = settings.text(s3ArchiveBucket, env: "CRYPTOPIPE_S3_ARCHIVE_BUCKET", default: "crypto-archive")
        try Self.validateBucket(archiveBucket, what: "S3 archive bucket")
        let expected = "true or false"
        let pathStyle: Bool? = try settings.value(
            s3PathStyle, option: "--s3-path-style", env: "CRYPTOPIPE_S3_PATH_STYLE", default: nil, expected: expected, parse: Self.bool)
        let createBuckets = try settings.value(
            s3CreateBuckets, option: "--s3-create-buckets", env: "CRYPTOPIPE_S3_CREATE_BUCKETS", default: true, expected: expected,
            parse: Self.bool)
        var credentials: S3Credentials?
        var credentialsSource = "not set"
        if let key = nonEmpty("CRYPTOPIPE_S3_ACCESS_KEY"), let secret = nonEmpty("CRYPTOPIPE_S3_SECRET_KEY") {
            credentials = S3Credentials(accessKeyID: key, secretAccessKey: secret)
            credentialsSource = "CRYPTOPIPE_S3_ACCESS_KEY"
        } else if let key = nonEmpty("AWS_ACCESS_KEY_ID"), let secret = nonEmpty("AWS_SECRET_ACCESS_KEY") {
            credentials = S3Credentials(accessKeyID: key, secretAccessKey: secret, sessionToken: nonEmpty("AWS_SESSION_TOKEN"))
            credentialsSource = "AWS_ACCESS_KEY_ID"
        } else if nonEmpty("CRYPTOPIPE_S3_ACCESS_KEY") != nil || nonEmpty("CRYPTOPIPE_S3_SECRET_KEY") != nil {
            throw .usage("set both CRYPTOPIPE_S3_ACCESS_KEY and CRYPTOPIPE_S3_SECRET_KEY, or neither")
        }
        return Resolved(
            endpoint: endpoint, endpointSource: endpointSource, region: region, archiveBucket: archiveBucket, pathStyle: pathStyle,
            createBuckets: createBuckets, credentials: credentials, credentialsSource: credentialsSource)
    }

    static func bool(_ text: String) -> Bool? {
        switch text.lowercased() {
        case "1", "true", "yes", "on": true
        case "0", "false", "no", "off": false
        default: nil
        }
    }

    /// S3's bucket naming rules: 3–63 characters of lower-case letters, digits, `-` and `.`, starting and ending
    /// with a letter or digit.
    static func validateBucket(_ name: String, what: String) throws(CLIError) {
        let allowed = name.allSatisfy { ($0.isASCII && ($0.isLowercase || $0.isNumber)) || $0 == "-" || $0 == "." }
        guard (3...63).contains(name.count), allowed, let first = name.first, let last = name.last, first.isLetter || first.isNumber,
            last.isLetter || last.isNumber
        else {
            throw .usage("\(what) '\(name)' is not a valid bucket name: 3-63 lower-case letters, digits, '-' or '.'")
        }
    }
}
