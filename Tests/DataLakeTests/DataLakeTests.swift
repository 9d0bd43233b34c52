import Foundation
import MarketData
import PipelineTesting
import Testing

@testable import DataLake

struct LocalObjectStoreConformanceTests {
    @Test(arguments: ObjectStoreConformance.checks)
    func localStore(check: ConformanceCheck<ObjectStoreUnderTest>) async throws {
        let folder = try TemporaryDirectory("lake")
        defer { folder.remove() }
        try await check.run(ObjectStoreUnderTest(LocalObjectStore(root: folder.path)))
    }

    @Test(arguments: ObjectStoreConformance.checks)
    func inMemoryStore(check: ConformanceCheck<ObjectStoreUnderTest>) async throws {
        try await check.run(ObjectStoreUnderTest(InMemoryObjectStore()))
    }

    /// Pages of a local folder compare names by their bytes: a name starting with a combining mark is under its
    /// folder's prefix (`String.hasPrefix` says it is not), and a name that is not UTF-8 is no key and is left out
    /// rather than listed under a mangled one.
    @Test func localPagesCompareBytesAndLeaveOutNamesThatAreNotUTF8() async throws {
        let folder = try TemporaryDirectory("lake")
        defer { folder.remove() }
        let store = LocalObjectStore(root: folder.path)
        try await store.put(bucket: "crypto-raw", key: "2024-01-01/A.json", bytes: [1])
        try await store.put(bucket: "crypto-raw", key: "2024-01-01/\u{301}B.json", bytes: [2])
        try await store.put(bucket: "crypto-raw", key: "2024-01-01/\u{FFFD}.json", bytes: [3])
        let invalid = Array((folder.path + "/crypto-raw/2024-01-01/").utf8) + [0xFF, 0x2E, 0x6A, 0, 0]
        let descriptor = invalid.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { open($0.baseAddress!, O_CREAT | O_WRONLY, 0o644) }
        }
        #expect(descriptor >= 0)
        close(descriptor)
        var keys: [String] = []
        var after: String?
        repeat {
            let page = try await store.list(bucket: "crypto-raw", prefix: "2024-01-01/", after: after, limit: 1)
            keys += page.objects.map(\.key)
            after = page.resumeAfter
        } while after != nil
        #expect(keys == ["2024-01-01/A.json", "2024-01-01/\u{301}B.json", "2024-01-01/\u{FFFD}.json"])
    }

    @Test func localWritesLeaveNoTemporaryFilesAndAreNotListed() async throws {
        let folder = try TemporaryDirectory("lake")
        defer { folder.remove() }
        let store = LocalObjectStore(root: folder.path)
        for index in 0..<20 {
            try await store.put(bucket: "crypto-raw", key: "2024-01-01/A_\(index).json", bytes: [UInt8](repeating: 1, count: 10_000))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path + "/crypto-raw/.tmp").isEmpty)
        #expect(try await store.list(bucket: "crypto-raw", prefix: "").count == 20)
    }

    /// Symbolic links are not followed and only regular files are objects: a link to `.` would make a walk endless and
    /// list every object twice, and a pipe named like an object would block its read for good.
    @Test(.timeLimit(.minutes(5)))
    func linksPipesAndDevicesAreNoObjects() async throws {
        let folder = try TemporaryDirectory("lake")
        defer { folder.remove() }
        let store = LocalObjectStore(root: folder.path)
        try await store.put(bucket: "crypto-raw", key: "2024-01-01/A.json", bytes: [1])
        let day = folder.path + "/crypto-raw/2024-01-01"
        #expect(symlink(".", day + "/loop") == 0)
        #expect(symlink(".", day + "/again") == 0)
        #expect(symlink("/dev/zero", day + "/zero.json") == 0)
        #expect(symlink(day, folder.path + "/crypto-raw/2024-01-02") == 0)
        #expect(mkfifo(day + "/pipe.json", 0o644) == 0)
        #expect(try await store.list(bucket: "crypto-raw", prefix: "").map(\.key) == ["2024-01-01/A.json"])
        #expect(try await store.list(bucket: "crypto-raw", prefix: "2024-01-01/").map(\.key) == ["2024-01-01/A.json"])
        var walk = FolderWalk(bucket: "crypto-raw", prefix: "2024-01-01/", pageSize: 1)
        var keys: [String] = []
        while let page = try await walk.next(in: store) { keys += page.objects.map(\.key) }
        #expect(keys == ["2024-01-01/A.json"])
        #expect(try await store.listFolders(bucket: "crypto-raw", prefix: "") == ["2024-01-01/"])
        for key in ["2024-01-01/pipe.json", "2024-01-01/zero.json"] {
            let error = try #require(
                await failure { () async throws(ObjectStoreError) in _ = try await store.get(bucket: "crypto-raw", key: key) })
            #expect(error.description.contains("not a regular file"), "\(error)")
        }
    }
}

struct LakeLayoutTests {
    @Test func objectNamesFollowTheOriginalDesign() throws {
        let symbol = try Symbol("BTCUSDT")
        let key = LakeLayout.objectKey(symbol: symbol, type: .klines, capturedAt: 1_704_153_599_999)
        #expect(key == "2024-01-01/BTCUSDT_klines_1704153599999.json")
        #expect(
            LakeLayout.parse(key: key)
                == .init(day: CivilDate(year: 2024, month: 1, day: 1), symbol: symbol, type: .klines, capturedAt: 1_704_153_599_999))
        #expect(LakeLayout().rawBucket == "crypto-raw" && LakeLayout().archiveBucket == "crypto-archive")
        // The neighbouring day is the folder of a writer in another time zone (the original system used local dates);
        // two days away is not.
        #expect(LakeLayout.parse(key: "2024-01-02/BTCUSDT_klines_1704153599999.json")?.capturedAt == 1_704_153_599_999)
        for bad in [
            "2024-01-03/BTCUSDT_klines_1704153599999.json", "2023-12-30/BTCUSDT_klines_1704153599999.json", "BTCUSDT_klines_1.json",
            "2024-01-01/BTCUSDT_trades_1704153599999.json",
            "2024-01-01/btc_klines_1704153599999.json", "2024-01-01/BTCUSDT_klines_x.json",
            "_rejected/2024-01-01/BTCUSDT_klines_1704153599999.json",
        ] {
            #expect(LakeLayout.parse(key: bad) == nil, "\(bad)")
        }
    }

    /// The byte-by-byte reading of the usual shape agrees with the general one on every key it accepts: keys of ours,
    /// and the same keys with a byte changed, dropped or doubled.
    @Test func theFastReadingOfKeysAgreesWithTheGeneralOne() throws {
        var random = SeededGenerator(seed: 11)
        let alphabet = Array("0123456789-_/.jsonABCZklinesdepth+ é".utf8)
        var accepted = 0
        for round in 0..<20_000 {
            let capturedAt = Int64.random(in: 0...UTCTime.latest, using: &random)
            let symbol = try Symbol(["BTCUSDT", "ETHUSDT", "A1B2C", String(repeating: "Z", count: 20)][round % 4])
            var bytes = Array(LakeLayout.objectKey(symbol: symbol, type: round % 3 == 0 ? .depth : .klines, capturedAt: capturedAt).utf8)
            let position = Int.random(in: 0..<bytes.count, using: &random)
            switch round % 4 {
            case 0: break
            case 1: bytes[position] = alphabet.randomElement(using: &random)!
            case 2: bytes.remove(at: position)
            default: bytes.insert(bytes[position], at: position)
            }
            let key = String(decoding: bytes, as: UTF8.self)
            if let fast = LakeLayout.parseUsualShape(key) {
                accepted += 1
                #expect(LakeLayout.parseAnyShape(key) == fast, "\(key)")
            }
        }
        #expect(accepted > 5_000)
    }

    /// The byte-by-byte key check against its definition: no `.` or `..` segment, no NUL.
    @Test func keyRulesRefuseDotSegmentsAndNULWherePlaced() {
        var random = SeededGenerator(seed: 5)
        let pieces = ["/", ".", "..", "a", "\0", "é", "b."]
        for _ in 0..<20_000 {
            let key = (0..<Int.random(in: 1...6, using: &random)).map { _ in pieces.randomElement(using: &random)! }.joined()
            let segments = key.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true)
            let expected = !key.utf8.contains(0) && !segments.contains { $0.elementsEqual(".".utf8) || $0.elementsEqual("..".utf8) }
            #expect(ObjectKeyRules.hasNoDotSegmentOrNUL(key) == expected, "\(key.debugDescription)")
        }
    }

    @Test func envelopesKeepTheResponseByteForByte() throws {
        let data = Array(
            #"[ [1499040000000,"0.01634790","0.80000000","0.01575800","0.01577100","148976.11427815",1499644799999,"2434.19055334",308,"1756.87402397","28.46694368","0"] ]"#
                .utf8)
        let bytes = RawEnvelope.encode(
            symbol: try Symbol("BTCUSDT"), capturedAt: 1_704_067_200_123, type: .klines, interval: .oneMinute, data: data)
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(
            text.hasPrefix(#"{"symbol":"BTCUSDT","captured_at":"2024-01-01T00:00:00.123Z","type":"klines","interval":"1m","data":[ [1499"#))
        let envelope = try bytes.withUnsafeBufferPointer { try RawEnvelope.decode($0) }
        #expect(Array(bytes[envelope.dataRange]) == data)
        #expect(envelope.capturedAt == 1_704_067_200_123 && envelope.interval == .oneMinute && envelope.type == .klines)
        // The original design's files written by other tools may order keys differently.
        let reordered = Array(
            #"{"data":{"lastUpdateId":1,"bids":[],"asks":[]},"type":"depth","captured_at":"2024-01-01T00:00:00Z","symbol":"ETHUSDT"}"#.utf8)
        let depth = try reordered.withUnsafeBufferPointer { try RawEnvelope.decode($0) }
        #expect(depth.type == .depth && depth.symbol.rawValue == "ETHUSDT" && depth.interval == nil)
    }

    @Test(arguments: [
        "", "{}", #"{"symbol":"BTCUSDT","captured_at":"yesterday","type":"klines","interval":"1m","data":[]}"#,
        #"{"symbol":"BTCUSDT","captured_at":"2024-01-01T00:00:00Z","type":"klines","data":[]}"#,
        #"{"symbol":"BTCUSDT","captured_at":"2024-01-01T00:00:00Z","type":"trades","data":[]}"#,
        #"{"symbol":"BTCUSDT","captured_at":"2024-01-01T00:00:00Z","type":"depth","data":[}"#,
    ])
    func malformedEnvelopesAreRejected(text: String) {
        #expect(throws: RawEnvelopeError.self) { try Array(text.utf8).withUnsafeBufferPointer { try RawEnvelope.decode($0) } }
    }
}
