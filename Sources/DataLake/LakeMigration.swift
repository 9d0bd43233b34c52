import Crypto

/// Copies a whole lake — raw and archive buckets, rejected objects included — from one store to another (local → S3,
/// as the original design's migration script did, or S3 → local), verifying every copy.
///
/// Idempotent and resumable: an object already at the destination with the same size and MD5 is skipped, so a rerun
/// after an interruption copies only what is missing or different. Each copy is checked after the write (S3 checks
/// the upload's `Content-MD5` too); an object that fails is reported and the others go on.
public struct LakeMigration: Sendable {
    let source: any ObjectStore
    let sourceLayout: LakeLayout
    let destination: any ObjectStore
    let destinationLayout: LakeLayout
    let concurrency: Int

    public init(
        from source: any ObjectStore, layout sourceLayout: LakeLayout, to destination: any ObjectStore,
        layout destinationLayout: LakeLayout, concurrency: Int = 8
    ) {
        self.source = source
        self.sourceLayout = sourceLayout
        self.destination = destination
        self.destinationLayout = destinationLayout
        self.concurrency = max(1, concurrency)
    }

    public struct Failure: Sendable, Hashable {
        public var location: ObjectLocation
        public var reason: String
    }

    public struct Report: Sendable, Hashable {
        public var copied = 0
        public var copiedBytes = 0
        /// Already at the destination, identical.
        public var skipped = 0
        public var failures: [Failure] = []

        public init() {}
    }

    enum Outcome: Sendable {
        case copied(bytes: Int)
        case skipped
        case failed(Failure)
    }

    /// Copies every object; listing failures end the run, single-object failures are collected in the report.
    public func run() async throws(ObjectStoreError) -> Report {
        var report = Report()
        let pairs = [(sourceLayout.rawBucket, destinationLayout.rawBucket), (sourceLayout.archiveBucket, destinationLayout.archiveBucket)]
        for (from, to) in pairs {
            let objects = try await source.list(bucket: from, prefix: "")
            let existing = Dictionary(try await destination.list(bucket: to, prefix: "").map { ($0.key, $0) }) { first, _ in first }
            let outcomes = await withTaskGroup(of: Outcome.self, returning: [Outcome].self) { group in
                var results: [Outcome] = []
                var next = 0
                func startNext() {
                    guard next < objects.count else { return }
                    let object = objects[next]
                    next += 1
                    group.addTask { await copy(object, from: from, to: to, existing: existing[object.key]) }
                }
                for _ in 0..<concurrency { startNext() }
                while let outcome = await group.next() {
                    results.append(outcome)
                    startNext()
                }
                return results
            }
            for outcome in outcomes {
                switch outcome {
                case .copied(let bytes):
                    report.copied += 1
                    report.copiedBytes += bytes
                case .skipped: report.skipped += 1
                case .failed(let failure): report.failures.append(failure)
                }
            }
        }
        report.failures.sort { $0.location.description < $1.location.description }
        return report
    }

    func copy(_ object: ObjectInfo, from: String, to: String, existing: ObjectInfo?) async -> Outcome {
        let target = ObjectLocation(bucket: to, key: object.key)
        do {
            var sourceBytes: [UInt8]?
            func sourceMD5() async throws(ObjectStoreError) -> String {
                if let known = object.contentMD5 { return known }
                let bytes = try await source.get(bucket: from, key: object.key)
                sourceBytes = bytes
                return Self.md5(bytes)
            }
            if let existing, existing.size == object.size {
                let destinationMD5: String
                if let known = existing.contentMD5 {
                    destinationMD5 = known
                } else {
                    destinationMD5 = Self.md5(try await destination.get(bucket: to, key: object.key))
                }
                if try await sourceMD5() == destinationMD5 { return .skipped }
            }
            let bytes: [UInt8]
            if let sourceBytes {
                bytes = sourceBytes
            } else {
                bytes = try await source.get(bucket: from, key: object.key)
            }
            let expected = Self.md5(bytes)
            if let known = object.contentMD5, known != expected {
                return .failed(
                    Failure(location: ObjectLocation(bucket: from, key: object.key), reason: "source changed while copying (MD5 differs)"))
            }
            try await destination.put(bucket: to, key: object.key, bytes: bytes)
            // Verify what landed: the store's MD5 when it has one, the bytes read back when not.
            guard let written = try await destination.head(bucket: to, key: object.key), written.size == bytes.count else {
                return .failed(Failure(location: target, reason: "copy missing or of another size after writing"))
            }
            let writtenMD5: String
            if let known = written.contentMD5 {
                writtenMD5 = known
            } else {
                writtenMD5 = Self.md5(try await destination.get(bucket: to, key: object.key))
            }
            guard writtenMD5 == expected else { return .failed(Failure(location: target, reason: "checksum mismatch after writing")) }
            return .copied(bytes: bytes.count)
        } catch {
            return .failed(Failure(location: target, reason: error.description))
        }
    }

    static func md5(_ bytes: [UInt8]) -> String { SigV4Signer.hex(Insecure.MD5.hash(data: bytes)) }
}
