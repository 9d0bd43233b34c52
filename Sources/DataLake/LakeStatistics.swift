/// Objects and bytes per bucket and per day folder, from one listing of each bucket.
public struct LakeStatistics: Sendable, Hashable {
    public struct Day: Sendable, Hashable {
        /// The first key segment: a day (`2024-01-01`) or another folder such as `_rejected`.
        public var folder: String
        public var objects: Int
        public var bytes: Int
    }

    public struct Bucket: Sendable, Hashable {
        public var name: String
        public var objects: Int
        public var bytes: Int
        /// Folders ascending.
        public var days: [Day]
    }

    public var buckets: [Bucket]

    /// Lists the raw and archive buckets of `layout`.
    public static func collect(lake: any ObjectStore, layout: LakeLayout) async throws(ObjectStoreError) -> LakeStatistics {
        var buckets: [Bucket] = []
        for name in [layout.rawBucket, layout.archiveBucket] {
            var perFolder: [String: Day] = [:]
            var total = Bucket(name: name, objects: 0, bytes: 0, days: [])
            for object in try await lake.list(bucket: name, prefix: "") {
                let folder = object.key.split(separator: "/", maxSplits: 1).first.map(String.init) ?? ""
                perFolder[folder, default: Day(folder: folder, objects: 0, bytes: 0)].objects += 1
                perFolder[folder, default: Day(folder: folder, objects: 0, bytes: 0)].bytes += object.size
                total.objects += 1
                total.bytes += object.size
            }
            total.days = perFolder.values.sorted { $0.folder < $1.folder }
            buckets.append(total)
        }
        return LakeStatistics(buckets: buckets)
    }
}
