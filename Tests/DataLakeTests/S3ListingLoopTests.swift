import Hummingbird
import NIOCore
import PipelineTesting
import Synchronization
import Testing

@testable import DataLake

/// A ListObjectsV2 answer that never ends (a buggy endpoint or proxy) fails the listing instead of looping forever.
struct S3ListingLoopTests {
    /// One truncated page holding `key`, continued by `token`.
    static func truncatedPage(key: String, token: String) -> Response {
        let xml = """
            <?xml version="1.0" encoding="UTF-8"?>
            <ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>crypto-raw</Name>\
            <IsTruncated>true</IsTruncated><Contents><Key>\(key)</Key><Size>1</Size></Contents>\
            <CommonPrefixes><Prefix>2024-01-01/</Prefix></CommonPrefixes><NextContinuationToken>\(token)</NextContinuationToken>\
            </ListBucketResult>
            """
        return Response(status: .ok, headers: [.contentType: "application/xml"], body: .init(byteBuffer: ByteBuffer(string: xml)))
    }

    /// List requests a test server answered.
    final class Calls: Sendable {
        let count = Mutex(0)
    }

    /// A store against a server answering the `n`-th list request (from 1) with `page(n)`, and its count of requests.
    static func withPages(
        _ page: @escaping @Sendable (Int) -> Response, _ body: @Sendable (S3ObjectStore, Calls) async throws -> Void
    ) async throws {
        let calls = Calls()
        try await S3ObjectStoreFaultTests.withServer({ _ in
            let call = calls.count.withLock { count in
                count += 1
                return count
            }
            return page(call)
        }) { endpoint in
            try await body(S3ObjectStore(configuration: try S3ObjectStoreFaultTests.configuration(endpoint, attempts: 1)), calls)
        }
    }

    @Test(.timeLimit(.minutes(5)))
    func aRepeatedContinuationTokenEndsTheListingWithAnError() async throws {
        try await Self.withPages({ call in Self.truncatedPage(key: "2024-01-01/\(call).json", token: "same-token") }) {
            store, calls in
            let listError = try #require(
                await failure { () async throws(ObjectStoreError) in _ = try await store.list(bucket: "crypto-raw", prefix: "2024-01-01/") }
            )
            #expect(listError.description.contains("repeated the continuation token 'same-token'"), "\(listError)")
            // The first page gives the token, the second repeats it: nothing more is asked.
            #expect(calls.count.withLock { $0 } == 2)
            calls.count.withLock { $0 = 0 }
            let foldersError = try #require(
                await failure { () async throws(ObjectStoreError) in _ = try await store.listFolders(bucket: "crypto-raw", prefix: "") })
            #expect(foldersError.description.contains("repeated the continuation token 'same-token'"), "\(foldersError)")
            #expect(calls.count.withLock { $0 } == 2)
        }
    }

    /// A server that ignores `start-after` answers every page with the first one: taking "nothing new" for the end
    /// would end a walk early, leaving the rest of the folder unloaded; it is an error instead.
    @Test(.timeLimit(.minutes(5)))
    func aPagedListingThatDoesNotAdvanceIsAnError() async throws {
        try await Self.withPages({ call in Self.truncatedPage(key: "2024-01-01/A.json", token: "token-\(call)") }) { store, calls in
            let first = try await store.list(bucket: "crypto-raw", prefix: "2024-01-01/", after: nil, limit: 1)
            #expect(first.objects.map(\.key) == ["2024-01-01/A.json"] && first.resumeAfter == "2024-01-01/A.json")
            let error = try #require(
                await failure { () async throws(ObjectStoreError) in
                    _ = try await store.list(bucket: "crypto-raw", prefix: "2024-01-01/", after: first.resumeAfter, limit: 1)
                })
            #expect(error.description.contains("the listing does not advance"), "\(error)")
            // A walk stops at a page that goes back, too.
            let back = ObjectPage(objects: [], resumeAfter: "2024-01-01/A.json")
            #expect(throws: ObjectStoreError.self) {
                try back.next(after: "2024-01-01/B.json", pagesWalked: 1, location: ObjectLocation(bucket: "crypto-raw", key: ""))
            }
            #expect(throws: ObjectStoreError.self) {
                try first.next(
                    after: nil, pagesWalked: ObjectPage.maximumPagesPerWalk, location: ObjectLocation(bucket: "crypto-raw", key: ""))
            }
        }
    }

    /// A page holding `keys`, truncated and continued by `token` when one is given, padded with a comment.
    static func page(keys: [String], token: String?, padding: Int = 0) -> Response {
        let contents = keys.map { "<Contents><Key>\($0)</Key><Size>1</Size></Contents>" }.joined()
        let truncation = token.map { "<IsTruncated>true</IsTruncated><NextContinuationToken>\($0)</NextContinuationToken>" }
        let xml = """
            <?xml version="1.0" encoding="UTF-8"?>
            <ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>crypto-raw</Name>\
            \(truncation ?? "<IsTruncated>false</IsTruncated>")\(contents)<!--\(String(repeating: " ", count: padding))-->\
            </ListBucketResult>
            """
        return Response(status: .ok, headers: [.contentType: "application/xml"], body: .init(byteBuffer: ByteBuffer(string: xml)))
    }

    /// A key a server repeats on a later page is listed once; a key longer than S3's 1,024 bytes, a continuation token
    /// of kilobytes and a page of more than 8 MiB are errors (the last without a retry: it would be as large again).
    @Test(.timeLimit(.minutes(5)))
    func repeatedKeysListOnceAndOversizedAnswersAreRefused() async throws {
        try await Self.withPages({ call in
            call == 1
                ? Self.page(keys: ["2024-01-01/A.json"], token: "t1")
                : Self.page(keys: ["2024-01-01/A.json", "2024-01-01/B.json"], token: nil)
        }) { store, _ in
            let keys = try await store.list(bucket: "crypto-raw", prefix: "2024-01-01/").map(\.key)
            #expect(keys == ["2024-01-01/A.json", "2024-01-01/B.json"])
        }
        let cases: [(page: Response, message: String)] = [
            (Self.page(keys: ["2024-01-01/" + String(repeating: "k", count: 2_000)], token: nil), "S3 keys have at most 1024"),
            (Self.page(keys: ["2024-01-01/A.json"], token: String(repeating: "t", count: 10_000)), "it takes at most 4096"),
            (Self.page(keys: ["2024-01-01/A.json"], token: nil, padding: 9 << 20), "more than 8 MiB"),
        ]
        for (page, message) in cases {
            try await Self.withPages({ _ in page }) { store, calls in
                let error = try #require(
                    await failure { () async throws(ObjectStoreError) in
                        _ = try await store.list(bucket: "crypto-raw", prefix: "2024-01-01/", after: nil, limit: 10)
                    })
                #expect(error.description.contains(message), "\(error)")
                #expect(calls.count.withLock { $0 } == 1)
            }
        }
    }

    @Test(.timeLimit(.minutes(5)))
    func aListingThatNeverEndsStopsAfterTheMaximumPages() async throws {
        try await Self.withPages({ call in Self.truncatedPage(key: "2024-01-01/\(call).json", token: "token-\(call)") }) {
            store, calls in
            let error = try #require(
                await failure { () async throws(ObjectStoreError) in
                    _ = try await store.listing(bucket: "crypto-raw", prefix: "", delimiter: nil, maximumPages: 5)
                })
            #expect(error.description.contains("still truncated after 5 pages"), "\(error)")
            #expect(calls.count.withLock { $0 } == 5)
        }
        #expect(S3ObjectStore.maximumListPages == 100_000)
    }
}
