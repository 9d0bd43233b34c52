public import DataLake

/// What every ``ObjectStore`` must do, whatever it stores into.
public enum ObjectStoreConformance {
    public static let checks: [ConformanceCheck<any ObjectStore>] = [
        ConformanceCheck("put then get returns the same bytes") { store in
            let bytes: [UInt8] = Array("{\"data\":[1,2,3]}".utf8) + [0, 255, 10]
            try await store.put(bucket: "crypto-raw", key: "2024-01-01/BTCUSDT_klines_1704067200000.json", bytes: bytes)
            let read = try await store.get(bucket: "crypto-raw", key: "2024-01-01/BTCUSDT_klines_1704067200000.json")
            try require(read == bytes, "read back \(read.count) bytes, wrote \(bytes.count)")
        },
        ConformanceCheck("put replaces an existing object whole") { store in
            try await store.put(bucket: "b", key: "k.json", bytes: Array(repeating: 1, count: 1000))
            try await store.put(bucket: "b", key: "k.json", bytes: [2, 2])
            try require(try await store.get(bucket: "b", key: "k.json") == [2, 2], "old content survived")
        },
        ConformanceCheck("get of a missing object throws notFound") { store in
            do {
                _ = try await store.get(bucket: "b", key: "2024-01-01/missing.json")
                throw ConformanceFailure("no error")
            } catch ObjectStoreError.notFound(let bucket, let key) {
                try require(bucket == "b" && key == "2024-01-01/missing.json", "wrong location in error")
            }
        },
        ConformanceCheck("head reports size, or nil when missing") { store in
            try await store.put(bucket: "b", key: "d/x.json", bytes: [1, 2, 3, 4, 5])
            try require(try await store.head(bucket: "b", key: "d/x.json") == ObjectInfo(key: "d/x.json", size: 5), "wrong head")
            try require(try await store.head(bucket: "b", key: "d/y.json") == nil, "head of missing object not nil")
        },
        ConformanceCheck("list filters by prefix across folders, sorted, per bucket") { store in
            for key in ["2024-01-02/B.json", "2024-01-01/A.json", "2024-01-01/C.json", "2024-01-10/D.json"] {
                try await store.put(bucket: "raw", key: key, bytes: [1])
            }
            try await store.put(bucket: "other", key: "2024-01-01/Z.json", bytes: [1])
            let all = try await store.list(bucket: "raw", prefix: "").map(\.key)
            try require(all == ["2024-01-01/A.json", "2024-01-01/C.json", "2024-01-02/B.json", "2024-01-10/D.json"], "list all: \(all)")
            let day = try await store.list(bucket: "raw", prefix: "2024-01-01/").map(\.key)
            try require(day == ["2024-01-01/A.json", "2024-01-01/C.json"], "list day: \(day)")
            let partial = try await store.list(bucket: "raw", prefix: "2024-01-1").map(\.key)
            try require(partial == ["2024-01-10/D.json"], "list partial prefix: \(partial)")
            let empty = try await store.list(bucket: "missing-bucket", prefix: "").map(\.key)
            try require(empty.isEmpty, "missing bucket listed \(empty)")
        },
        ConformanceCheck("listFolders gives the folders one level down") { store in
            for key in ["2024-01-02/B.json", "2024-01-01/A.json", "2024-01-01/C.json", "_rejected/2024-01-01/X.json", "top.json"] {
                try await store.put(bucket: "raw", key: key, bytes: [1])
            }
            let top = try await store.listFolders(bucket: "raw", prefix: "")
            try require(top == ["2024-01-01/", "2024-01-02/", "_rejected/"], "top-level folders: \(top)")
            let nested = try await store.listFolders(bucket: "raw", prefix: "_rejected/")
            try require(nested == ["_rejected/2024-01-01/"], "nested folders: \(nested)")
            try require(try await store.listFolders(bucket: "raw", prefix: "2024-01-01/").isEmpty, "a folder of files has no folders")
            try require(try await store.listFolders(bucket: "none", prefix: "").isEmpty, "missing bucket")
        },
        ConformanceCheck("copy and move between buckets") { store in
            try await store.put(bucket: "crypto-raw", key: "2024-01-01/A.json", bytes: [7, 8])
            try await store.copy(
                from: .init(bucket: "crypto-raw", key: "2024-01-01/A.json"), to: .init(bucket: "crypto-archive", key: "2024-01-01/A.json"))
            try require(try await store.get(bucket: "crypto-archive", key: "2024-01-01/A.json") == [7, 8], "copy content")
            try require(try await store.head(bucket: "crypto-raw", key: "2024-01-01/A.json") != nil, "copy removed the source")
            try await store.move(
                from: .init(bucket: "crypto-raw", key: "2024-01-01/A.json"),
                to: .init(bucket: "crypto-raw", key: "_rejected/2024-01-01/A.json"))
            try require(try await store.head(bucket: "crypto-raw", key: "2024-01-01/A.json") == nil, "move left the source")
            try require(try await store.get(bucket: "crypto-raw", key: "_rejected/2024-01-01/A.json") == [7, 8], "move content")
        },
        ConformanceCheck("delete removes, and deleting a missing object is fine") { store in
            try await store.put(bucket: "b", key: "d/x.json", bytes: [1])
            try await store.delete(bucket: "b", key: "d/x.json")
            try require(try await store.head(bucket: "b", key: "d/x.json") == nil, "object still there")
            try await store.delete(bucket: "b", key: "d/x.json")
        },
        ConformanceCheck("keys escaping the bucket are refused") { store in
            for key in ["../escape.json", "/abs.json", "a/../../b.json", ""] {
                do {
                    try await store.put(bucket: "b", key: key, bytes: [1])
                    throw ConformanceFailure("accepted key '\(key)'")
                } catch ObjectStoreError.invalidKey {
                    continue
                }
            }
        },
    ]
}
