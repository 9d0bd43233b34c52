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

    @Test(.timeLimit(.minutes(1)))
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
    @Test(.timeLimit(.minutes(1)))
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

    @Test(.timeLimit(.minutes(1)))
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
