import Crypto
public import DataLake
import Foundation

/// A store under test and the bucket names to use in it: a shared S3 server gets a unique prefix per test so
/// tests running in parallel never see each other's objects.
public struct ObjectStoreUnderTest: Sendable {
    public let store: any ObjectStore
    public let bucketPrefix: String

    public init(_ store: any ObjectStore, bucketPrefix: String = "") {
        self.store = store
        self.bucketPrefix = bucketPrefix
    }

    public func bucket(_ name: String) -> String { bucketPrefix + name }
}

/// What every ``ObjectStore`` must do, whatever it stores into.
public enum ObjectStoreConformance {
    /// Every key under `prefix`, a page of `limit` at a time (a ``FolderWalk``, which checks that the listing
    /// advances), and the size of each page.
    static func walk(
        _ store: any ObjectStore, bucket: String, prefix: String, limit: Int
    ) async throws -> (keys: [String], pageSizes: [Int]) {
        var keys: [String] = []
        var sizes: [Int] = []
        var walk = FolderWalk(bucket: bucket, prefix: prefix, pageSize: limit)
        while let page = try await walk.next(in: store) {
            try require(
                page.objects.allSatisfy { ObjectPage.sorts($0.key, after: walk.pageStart) },
                "a page starting after \(walk.pageStart ?? "nothing") holds \(page.objects.map(\.key))")
            try require(walk.isFinished == (page.resumeAfter == nil), "finished: \(walk.isFinished), page \(page)")
            keys += page.objects.map(\.key)
            sizes.append(page.objects.count)
        }
        try require(try await walk.next(in: store) == nil, "a finished walk went on")
        return (keys, sizes)
    }

    public static let checks: [ConformanceCheck<ObjectStoreUnderTest>] = [
        ConformanceCheck("put then get returns the same bytes") { subject in
            let store = subject.store
            let bytes: [UInt8] = Array("{\"data\":[1,2,3]}".utf8) + [0, 255, 10]
            try await store.put(bucket: subject.bucket("crypto-raw"), key: "2024-01-01/BTCUSDT_klines_1704067200000.json", bytes: bytes)
            let read = try await store.get(bucket: subject.bucket("crypto-raw"), key: "2024-01-01/BTCUSDT_klines_1704067200000.json")
            try require(read == bytes, "read back \(read.count) bytes, wrote \(bytes.count)")
        },
        ConformanceCheck("put replaces an existing object whole") { subject in
            let store = subject.store
            try await store.put(bucket: subject.bucket("b"), key: "k.json", bytes: Array(repeating: 1, count: 1000))
            try await store.put(bucket: subject.bucket("b"), key: "k.json", bytes: [2, 2])
            try require(try await store.get(bucket: subject.bucket("b"), key: "k.json") == [2, 2], "old content survived")
        },
        ConformanceCheck("get of a missing object throws notFound") { subject in
            let store = subject.store
            do {
                _ = try await store.get(bucket: subject.bucket("b"), key: "2024-01-01/missing.json")
                throw ConformanceFailure("no error")
            } catch let error as ObjectStoreError where error.code == .notFound {
                try require(
                    error.location == ObjectLocation(bucket: subject.bucket("b"), key: "2024-01-01/missing.json"), "wrong location in error"
                )
            }
        },
        ConformanceCheck("head reports size, or nil when missing") { subject in
            let store = subject.store
            try await store.put(bucket: subject.bucket("b"), key: "d/x.json", bytes: [1, 2, 3, 4, 5])
            let info = try await store.head(bucket: subject.bucket("b"), key: "d/x.json")
            try require(info?.key == "d/x.json" && info?.size == 5, "wrong head \(String(describing: info))")
            try require(try await store.head(bucket: subject.bucket("b"), key: "d/y.json") == nil, "head of missing object not nil")
        },
        ConformanceCheck("list filters by prefix across folders, sorted, per bucket") { subject in
            let store = subject.store
            for key in ["2024-01-02/B.json", "2024-01-01/A.json", "2024-01-01/C.json", "2024-01-10/D.json"] {
                try await store.put(bucket: subject.bucket("raw"), key: key, bytes: [1])
            }
            try await store.put(bucket: subject.bucket("other"), key: "2024-01-01/Z.json", bytes: [1])
            let all = try await store.list(bucket: subject.bucket("raw"), prefix: "").map(\.key)
            try require(all == ["2024-01-01/A.json", "2024-01-01/C.json", "2024-01-02/B.json", "2024-01-10/D.json"], "list all: \(all)")
            let day = try await store.list(bucket: subject.bucket("raw"), prefix: "2024-01-01/").map(\.key)
            try require(day == ["2024-01-01/A.json", "2024-01-01/C.json"], "list day: \(day)")
            let partial = try await store.list(bucket: subject.bucket("raw"), prefix: "2024-01-1").map(\.key)
            try require(partial == ["2024-01-10/D.json"], "list partial prefix: \(partial)")
            let empty = try await store.list(bucket: subject.bucket("missing-bucket"), prefix: "").map(\.key)
            try require(empty.isEmpty, "missing bucket listed \(empty)")
        },
        ConformanceCheck("listFolders gives the folders one level down") { subject in
            let store = subject.store
            for key in ["2024-01-02/B.json", "2024-01-01/A.json", "2024-01-01/C.json", "_rejected/2024-01-01/X.json", "top.json"] {
                try await store.put(bucket: subject.bucket("raw"), key: key, bytes: [1])
            }
            let top = try await store.listFolders(bucket: subject.bucket("raw"), prefix: "")
            try require(top == ["2024-01-01/", "2024-01-02/", "_rejected/"], "top-level folders: \(top)")
            let nested = try await store.listFolders(bucket: subject.bucket("raw"), prefix: "_rejected/")
            try require(nested == ["_rejected/2024-01-01/"], "nested folders: \(nested)")
            try require(
                try await store.listFolders(bucket: subject.bucket("raw"), prefix: "2024-01-01/").isEmpty,
                "a folder of files has no folders")
            try require(try await store.listFolders(bucket: subject.bucket("none"), prefix: "").isEmpty, "missing bucket")
        },
        ConformanceCheck("copy and move between buckets") { subject in
            let store = subject.store
            try await store.put(bucket: subject.bucket("crypto-raw"), key: "2024-01-01/A.json", bytes: [7, 8])
            try await store.copy(
                from: .init(bucket: subject.bucket("crypto-raw"), key: "2024-01-01/A.json"),
                to: .init(bucket: subject.bucket("crypto-archive"), key: "2024-01-01/A.json"))
            try require(try await store.get(bucket: subject.bucket("crypto-archive"), key: "2024-01-01/A.json") == [7, 8], "copy content")
            try require(
                try await store.head(bucket: subject.bucket("crypto-raw"), key: "2024-01-01/A.json") != nil, "copy removed the source")
            try await store.move(
                from: .init(bucket: subject.bucket("crypto-raw"), key: "2024-01-01/A.json"),
                to: .init(bucket: subject.bucket("crypto-raw"), key: "_rejected/2024-01-01/A.json"))
            try require(try await store.head(bucket: subject.bucket("crypto-raw"), key: "2024-01-01/A.json") == nil, "move left the source")
            try require(
                try await store.get(bucket: subject.bucket("crypto-raw"), key: "_rejected/2024-01-01/A.json") == [7, 8], "move content")
        },
        ConformanceCheck("head and list report the content's MD5, also after a replace and a copy") { subject in
            // Every store knows it without reading the object: S3 as the ETag of a single-part upload, the local store from
            // what it recorded when writing, the in-memory store from the bytes it holds. A store that reported none
            // would make the lake migration and verified moves read every object back.
            let store = subject.store
            func md5(_ bytes: [UInt8]) -> String { Insecure.MD5.hash(data: bytes).map { String(format: "%02x", $0) }.joined() }
            let first = Array("{\"k\":1}".utf8)
            try await store.put(bucket: subject.bucket("b"), key: "d/m.json", bytes: first)
            let info = try await store.head(bucket: subject.bucket("b"), key: "d/m.json")
            try require(info?.contentMD5 == md5(first), "head MD5 \(String(describing: info?.contentMD5)), expected \(md5(first))")
            let listed = try await store.list(bucket: subject.bucket("b"), prefix: "d/")
            try require(listed.map(\.contentMD5) == [md5(first)], "listed MD5 \(listed.map(\.contentMD5))")
            // Replaced with content of the same size: the MD5 follows the content, not the size.
            let second = Array("{\"k\":2}".utf8)
            try await store.put(bucket: subject.bucket("b"), key: "d/m.json", bytes: second)
            let replaced = try await store.head(bucket: subject.bucket("b"), key: "d/m.json")
            try require(replaced?.contentMD5 == md5(second), "MD5 after replacing \(String(describing: replaced?.contentMD5))")
            try await store.copy(
                from: .init(bucket: subject.bucket("b"), key: "d/m.json"), to: .init(bucket: subject.bucket("c"), key: "d/m.json"))
            let copied = try await store.head(bucket: subject.bucket("c"), key: "d/m.json")
            try require(copied?.contentMD5 == md5(second), "MD5 of the copy \(String(describing: copied?.contentMD5))")
            try require(
                try await store.list(bucket: subject.bucket("c"), prefix: "").map(\.contentMD5) == [md5(second)], "listed MD5 of the copy")
        },
        ConformanceCheck("listing follows pages past 1000 objects") { subject in
            let store = subject.store
            let keys = (0..<1_003).map { "2024-01-01/K_\(1_000_000 + $0).json" }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for slice in stride(from: 0, to: keys.count, by: 100) {
                    let batch = keys[slice..<min(keys.count, slice + 100)]
                    group.addTask { for key in batch { try await store.put(bucket: subject.bucket("raw"), key: key, bytes: [1]) } }
                }
                try await group.waitForAll()
            }
            try await store.put(bucket: subject.bucket("raw"), key: "2024-01-02/L.json", bytes: [1])
            let listed = try await store.list(bucket: subject.bucket("raw"), prefix: "2024-01-01/").map(\.key)
            try require(listed == keys, "listed \(listed.count) of \(keys.count)")
            // Pages of a limit beyond a server page (1,000 on S3) follow continuation tokens within the page.
            for limit in [400, 1_002] {
                let paged = try await Self.walk(store, bucket: subject.bucket("raw"), prefix: "2024-01-01/", limit: limit)
                try require(paged.keys == keys, "pages of \(limit) listed \(paged.keys.count) of \(keys.count)")
                let sizes = stride(from: 0, to: keys.count, by: limit).map { min(limit, keys.count - $0) }
                try require(paged.pageSizes == sizes, "pages of \(limit) were \(paged.pageSizes)")
            }
            let folders = try await store.listFolders(bucket: subject.bucket("raw"), prefix: "")
            try require(folders == ["2024-01-01/", "2024-01-02/"], "folders \(folders)")
            try await store.delete(bucket: subject.bucket("raw"), keys: keys + ["2024-01-02/missing.json"])
            try require(try await store.list(bucket: subject.bucket("raw"), prefix: "2024-01-01/").isEmpty, "batch delete left objects")
            try require(
                try await store.head(bucket: subject.bucket("raw"), key: "2024-01-02/L.json") != nil, "batch delete removed too much")
        },
        ConformanceCheck("a listing walked page by page gives each object once, in order, with its size") { subject in
            let store = subject.store
            let keys = [
                "2024-01-01/A.json", "2024-01-01/B.json", "2024-01-01/C.json", "2024-01-01/D.json", "2024-01-01/E.json",
                "2024-01-01/nested/F.json", "2024-01-01/nested/deeper/G.json", "2024-01-01/Z.json",
            ]
            for (index, key) in keys.enumerated() {
                try await store.put(bucket: subject.bucket("raw"), key: key, bytes: Array(repeating: 1, count: index + 1))
            }
            try await store.put(bucket: subject.bucket("raw"), key: "2024-01-02/A.json", bytes: [1])
            try await store.put(bucket: subject.bucket("raw"), key: "2024-01-0.json", bytes: [1])
            let expected = keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            for limit in [1, 3, 8, 100] {
                let paged = try await Self.walk(store, bucket: subject.bucket("raw"), prefix: "2024-01-01/", limit: limit)
                try require(paged.keys == expected, "pages of \(limit): \(paged.keys)")
                try require(paged.pageSizes.dropLast().allSatisfy { $0 == limit }, "pages of \(limit) were \(paged.pageSizes)")
            }
            let page = try await store.list(bucket: subject.bucket("raw"), prefix: "2024-01-01/", after: "2024-01-01/BB", limit: 2)
            try require(page.objects.map(\.key) == ["2024-01-01/C.json", "2024-01-01/D.json"], "after a key between two: \(page.objects)")
            try require(page.objects.map(\.size) == [3, 4], "sizes \(page.objects.map(\.size))")
            try require(page.resumeAfter == "2024-01-01/D.json", "resume after \(String(describing: page.resumeAfter))")
            let nested = try await store.list(bucket: subject.bucket("raw"), prefix: "2024-01-01/", after: "2024-01-01/nested/", limit: 10)
            try require(
                nested.objects.map(\.key) == ["2024-01-01/nested/F.json", "2024-01-01/nested/deeper/G.json"] && nested.resumeAfter == nil,
                "after a folder's name: \(nested)")
            let last = try await store.list(bucket: subject.bucket("raw"), prefix: "2024-01-01/", after: "2024-01-01/nested/e", limit: 10)
            try require(last.objects.isEmpty && last.resumeAfter == nil, "after the last key: \(last)")
            let missing = try await store.list(bucket: subject.bucket("none"), prefix: "2024-01-01/", after: nil, limit: 10)
            try require(missing.objects.isEmpty && missing.resumeAfter == nil, "missing bucket: \(missing)")
        },
        ConformanceCheck("delete removes, and deleting a missing object is fine") { subject in
            let store = subject.store
            try await store.put(bucket: subject.bucket("b"), key: "d/x.json", bytes: [1])
            try await store.delete(bucket: subject.bucket("b"), key: "d/x.json")
            try require(try await store.head(bucket: subject.bucket("b"), key: "d/x.json") == nil, "object still there")
            try await store.delete(bucket: subject.bucket("b"), key: "d/x.json")
        },
        ConformanceCheck("keys escaping the bucket are refused") { subject in
            let store = subject.store
            for key in ["../escape.json", "/abs.json", "a/../../b.json", ""] {
                do {
                    try await store.put(bucket: subject.bucket("b"), key: key, bytes: [1])
                    throw ConformanceFailure("accepted key '\(key)'")
                } catch let error as ObjectStoreError where error.code == .invalidKey {
                    continue
                }
            }
        },
    ]
}
