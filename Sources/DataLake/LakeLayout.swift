public import MarketData

/// What a raw object holds.
public enum RawDataType: String, Sendable, Hashable, CaseIterable, Codable {
    case klines
    case depth
}

/// Names of buckets and objects in the data lake, as the original design laid them out:
/// `crypto-raw/{YYYY-MM-DD}/{SYMBOL}_{klines|depth}_{epochms}.json`.
public struct LakeLayout: Sendable, Hashable {
    public var rawBucket: String
    public var archiveBucket: String

    public init(rawBucket: String = "crypto-raw", archiveBucket: String = "crypto-archive") {
        self.rawBucket = rawBucket
        self.archiveBucket = archiveBucket
    }

    /// Malformed raw objects are moved under this prefix of the raw bucket, with the reason beside them.
    public static let rejectedPrefix = "_rejected/"

    public static func objectKey(symbol: Symbol, type: RawDataType, capturedAt: Int64) -> String {
        "\(CivilDate(epochMilliseconds: capturedAt).isoString)/\(symbol.rawValue)_\(type.rawValue)_\(capturedAt).json"
    }

    /// The parts of a raw object key, or `nil` when the key is not one of ours.
    public struct ParsedKey: Sendable, Hashable {
        public var day: CivilDate
        public var symbol: Symbol
        public var type: RawDataType
        public var capturedAt: Int64

        public init(day: CivilDate, symbol: Symbol, type: RawDataType, capturedAt: Int64) {
            self.day = day
            self.symbol = symbol
            self.type = type
            self.capturedAt = capturedAt
        }
    }

    /// The parts of `{YYYY-MM-DD}/{SYMBOL}_{klines|depth}_{epochms}.json`, or `nil`.
    ///
    /// The folder is the capture's UTC day, or the day before or after it: the original system named folders by its
    /// server's local date, so near midnight its objects sit in the neighbouring day; the epoch milliseconds decide.
    public static func parse(key: String) -> ParsedKey? {
        let parts = key.split(separator: "/")
        guard parts.count == 2, let day = CivilDate(isoString: parts[0]), let name = parse(name: parts[1]) else { return nil }
        guard (CivilDate(epochMilliseconds: name.capturedAt).daysSinceEpoch - day.daysSinceEpoch).magnitude <= 1 else { return nil }
        return ParsedKey(day: day, symbol: name.symbol, type: name.type, capturedAt: name.capturedAt)
    }

    /// The parts of a file name `{SYMBOL}_{klines|depth}_{epochms}.json` (also what the original system's
    /// `processed_files` records, after any folders), or `nil`.
    public static func parse(name: some StringProtocol) -> (symbol: Symbol, type: RawDataType, capturedAt: Int64)? {
        guard name.hasSuffix(".json") else { return nil }
        let fields = name.dropLast(5).split(separator: "_")
        guard fields.count == 3, let symbol = try? Symbol(String(fields[0])), let type = RawDataType(rawValue: String(fields[1])),
            let capturedAt = Int64(fields[2]), (0...UTCTime.latest).contains(capturedAt),
            // Canonical digits only ("+5" or "05" would name the same capture as "5" under another key).
            String(capturedAt) == fields[2]
        else { return nil }
        return (symbol, type, capturedAt)
    }

    /// Every name `parse` reads as this capture: in the folder of its UTC day, and of the day before and after.
    public static func objectKeys(symbol: Symbol, type: RawDataType, capturedAt: Int64) -> [String] {
        let ours = objectKey(symbol: symbol, type: type, capturedAt: capturedAt)
        let name = ours.drop { $0 != "/" }
        let day = CivilDate(epochMilliseconds: capturedAt).daysSinceEpoch
        return [ours] + [day - 1, day + 1].map { CivilDate(epochMilliseconds: $0 * 86_400_000).isoString + name }
    }

    /// The original system's local lake: `data_lake/raw/{date}/…` and `data_lake/archive/{date}/…`.
    public static let originalLocal = LakeLayout(rawBucket: "raw", archiveBucket: "archive")
}
