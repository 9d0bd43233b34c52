import DataLake
import Foundation
import MarketData
import Testing

/// The signer against the worked examples of the S3 documentation ("Signature Calculations for the Authorization
/// Header: Transferring Payload in a Single Chunk", AWS keys `AKIAIOSFODNN7EXAMPLE`, 2013-05-24), and, when a copy is
/// given, against every case of the AWS SigV4 test suite.
struct SigV4SignerTests {
    static let credentials = S3Credentials(accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    static let signer = SigV4Signer(credentials: credentials, region: "us-east-1")
    /// 2013-05-24T00:00:00Z.
    static let exampleTime: Int64 = 1_369_353_600_000
    static let emptyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    static func signature(_ request: SigV4Signer.Request) -> String {
        let headers = signer.sign(request, at: exampleTime)
        let authorization = headers.first { $0.name == "authorization" }?.value ?? ""
        return String(authorization.split(separator: "=").last ?? "")
    }

    @Test func getObjectWithRange() {
        let request = SigV4Signer.Request(
            method: "GET", path: "/test.txt", headers: [("Host", "examplebucket.s3.amazonaws.com"), ("Range", "bytes=0-9")],
            payloadHash: Self.emptyHash)
        var signed = request
        signed.headers += [("x-amz-date", "20130524T000000Z"), ("x-amz-content-sha256", Self.emptyHash)]
        #expect(
            Self.signer.canonicalRequest(signed).text
                == """
                GET
                /test.txt

                host:examplebucket.s3.amazonaws.com
                range:bytes=0-9
                x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
                x-amz-date:20130524T000000Z

                host;range;x-amz-content-sha256;x-amz-date
                e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
                """)
        let headers = Self.signer.sign(request, at: Self.exampleTime)
        #expect(
            headers.first { $0.name == "authorization" }?.value
                == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
                + "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
                + "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
        #expect(headers.first { $0.name == "x-amz-date" }?.value == "20130524T000000Z")
    }

    @Test func putObjectSignsTheRealPayloadHashAndEncodesTheKey() {
        let body = Array("Welcome to Amazon S3.".utf8)
        let hash = SigV4Signer.hexSHA256(body)
        #expect(hash == "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072")
        let request = SigV4Signer.Request(
            method: "PUT", path: "/test$file.text",
            headers: [
                ("Host", "examplebucket.s3.amazonaws.com"), ("Date", "Fri, 24 May 2013 00:00:00 GMT"),
                ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            ], payloadHash: hash)
        #expect(request.encodedTarget() == "/test%24file.text")
        #expect(Self.signature(request) == "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd")
    }

    @Test func getBucketLifecycleWithAnEmptyQueryValue() {
        let request = SigV4Signer.Request(
            method: "GET", path: "/", query: [("lifecycle", "")], headers: [("Host", "examplebucket.s3.amazonaws.com")],
            payloadHash: Self.emptyHash)
        #expect(Self.signature(request) == "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543")
    }

    @Test func listObjectsSortsTheQuery() {
        let request = SigV4Signer.Request(
            method: "GET", path: "/", query: [("prefix", "J"), ("max-keys", "2")], headers: [("Host", "examplebucket.s3.amazonaws.com")],
            payloadHash: Self.emptyHash)
        #expect(request.encodedTarget() == "/?max-keys=2&prefix=J")
        #expect(Self.signature(request) == "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7")
    }

    @Test func encodingFollowsRFC3986AndS3KeepsThePathAsIs() {
        #expect(SigV4Signer.percentEncode("a b+c/d~e_f.g-h*") == "a%20b%2Bc%2Fd~e_f.g-h%2A")
        #expect(SigV4Signer.percentEncode("2024-01-01/BTCUSDT_klines_1.json", keepSlash: true) == "2024-01-01/BTCUSDT_klines_1.json")
        #expect(SigV4Signer.percentEncode("ሴ") == "%E1%88%B4")
        let s3 = SigV4Signer.Request(method: "GET", path: "/a//b/./c", headers: [("host", "h")], payloadHash: Self.emptyHash)
        #expect(s3.encodedTarget() == "/a//b/./c")
        #expect(S3Credentials(accessKeyID: "AK", secretAccessKey: "topsecret").description.contains("topsecret") == false)
    }

    /// Every case of the AWS SigV4 test suite (github.com/awslabs, also bundled with botocore's tests): the canonical
    /// request, the string to sign and the authorization header must match byte for byte. Runs when
    /// `AWS_SIGV4_TEST_SUITE` names a copy of the suite's folder.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["AWS_SIGV4_TEST_SUITE"] != nil, "set AWS_SIGV4_TEST_SUITE to run the AWS suite"))
    func awsTestSuite() throws {
        let root = try #require(ProcessInfo.processInfo.environment["AWS_SIGV4_TEST_SUITE"])
        let signer = SigV4Signer(
            credentials: S3Credentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
            region: "us-east-1", service: "service")
        var checked = 0
        let enumerator = FileManager.default.enumerator(atPath: root)
        while let path = enumerator?.nextObject() as? String {
            guard path.hasSuffix(".req") else { continue }
            let name = String(path.dropLast(4))
            // The token case signed after the signature is not how S3 works; its "before" twin is covered.
            if name.hasSuffix("post-sts-header-after") { continue }
            let text = try String(contentsOfFile: "\(root)/\(path)", encoding: .utf8)
            var request = try #require(Self.parseSuiteRequest(text), "\(name)")
            let creq = try String(contentsOfFile: "\(root)/\(name).creq", encoding: .utf8)
            var signer = signer
            // The session-token case expects the signer to add the token it was given, as `sign` does.
            let tokenPrefix = "x-amz-security-token:"
            if let token = creq.split(separator: "\n").first(where: { $0.hasPrefix(tokenPrefix) })?.dropFirst(tokenPrefix.count),
                !request.headers.contains(where: { $0.name.lowercased() == "x-amz-security-token" })
            {
                signer.credentials.sessionToken = String(token)
                let date = try #require(request.headers.first { $0.name.lowercased() == "x-amz-date" }?.value)
                let iso =
                    "\(date.prefix(4))-\(date.dropFirst(4).prefix(2))-\(date.dropFirst(6).prefix(2))T\(date.dropFirst(9).prefix(2)):"
                    + "\(date.dropFirst(11).prefix(2)):\(date.dropFirst(13).prefix(2))Z"
                let added = signer.sign(request, at: try #require(UTCTime.parse(iso)))
                request.headers += added.filter { $0.name == "x-amz-security-token" }
            }
            let sts = try String(contentsOfFile: "\(root)/\(name).sts", encoding: .utf8)
            let authz = try String(contentsOfFile: "\(root)/\(name).authz", encoding: .utf8)
            let canonical = signer.canonicalRequest(request).text
            #expect(canonical == creq, "\(name) canonical request")
            let timestamp = request.headers.first { $0.name.lowercased() == "x-amz-date" }?.value ?? ""
            #expect(signer.stringToSign(canonicalRequest: canonical, timestamp: timestamp) == sts, "\(name) string to sign")
            #expect(signer.authorization(for: request, timestamp: timestamp) == authz, "\(name) authorization")
            checked += 1
        }
        #expect(checked >= 25, "only \(checked) cases found under \(root)")
    }

    /// Parses a suite `.req` file: request line, headers (continuation lines folded), blank line, body.
    static func parseSuiteRequest(_ text: String) -> SigV4Signer.Request? {
        let lines = text.components(separatedBy: "\n")
        guard let requestLine = lines.first, requestLine.hasSuffix(" HTTP/1.1") else { return nil }
        let parts = requestLine.dropLast(" HTTP/1.1".count)
        guard let space = parts.firstIndex(of: " ") else { return nil }
        let method = String(parts[..<space])
        let target = String(parts[parts.index(after: space)...])
        var headers: [(name: String, value: String)] = []
        var index = 1
        while index < lines.count, !lines[index].isEmpty {
            let line = lines[index]
            if line.first == " " || line.first == "\t", !headers.isEmpty {
                headers[headers.count - 1].value += " " + line.trimmingCharacters(in: .whitespaces)
            } else if let colon = line.firstIndex(of: ":") {
                headers.append((String(line[..<colon]), String(line[line.index(after: colon)...])))
            }
            index += 1
        }
        let body = index + 1 < lines.count ? lines[(index + 1)...].joined(separator: "\n") : ""
        let pathPart = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        var query: [(name: String, value: String)] = []
        if pathPart.count == 2 {
            for pair in pathPart[1].split(separator: "&") {
                let nameValue = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let decode = { (text: Substring) in text.removingPercentEncoding ?? String(text) }
                query.append((decode(nameValue[0]), nameValue.count > 1 ? decode(nameValue[1]) : ""))
            }
        }
        return SigV4Signer.Request(
            method: method, path: String(pathPart[0]), query: query, headers: headers, payloadHash: SigV4Signer.hexSHA256(Array(body.utf8)))
    }
}
