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
        parseUsualShape(key) ?? parseAnyShape(key)
    }

    static func parseAnyShape(_ key: String) -> ParsedKey? {
        let parts = key.split(separator: "/")
        guard parts.count == 2, let day = CivilDate(isoString: parts[0]), let name = parse(name: parts[1]) else { return nil }
        guard (CivilDate(epochMilliseconds: name.capturedAt).daysSinceEpoch - day.daysSinceEpoch).magnitude <= 1 else { return nil }
        return ParsedKey(day: day, symbol: name.symbol, type: name.type, capturedAt: name.capturedAt)
    }

    /// The key in the shape we write it, read byte by byte (a transform reads every name of the lake, twice): a
    /// `YYYY-MM-DD/` folder, one name of exactly three `_`-separated fields, canonical digits. Whatever it accepts the
    /// general reading accepts the same way; anything else (`nil`) is left to that.
    static func parseUsualShape(_ key: String) -> ParsedKey? {
        var key = key
        return key.withUTF8 { bytes -> ParsedKey? in
            let slash = UInt8(ascii: "/")
            let underscore = UInt8(ascii: "_")
            let count = bytes.count
            guard count > 16, bytes[10] == slash, bytes[count - 5] == UInt8(ascii: "."), bytes[count - 4] == UInt8(ascii: "j"),
                bytes[count - 3] == UInt8(ascii: "s"), bytes[count - 2] == UInt8(ascii: "o"), bytes[count - 1] == UInt8(ascii: "n"),
                let day = usualDay(UnsafeBufferPointer(rebasing: bytes[..<10]))
            else { return nil }
            let name = 11..<count - 5
            var separators: [Int] = []
            for index in name where bytes[index] == underscore || bytes[index] == slash {
                guard bytes[index] == underscore, separators.count < 2 else { return nil }
                separators.append(index)
            }
            guard separators.count == 2 else { return nil }
            let typeBytes = UnsafeBufferPointer(rebasing: bytes[separators[0] + 1..<separators[1]])
            let type: RawDataType
            if typeBytes.elementsEqual("klines".utf8) {
                type = .klines
            } else if typeBytes.elementsEqual("depth".utf8) {
                type = .depth
            } else {
                return nil
            }
            let digits = separators[1] + 1..<count - 5
            // At most 15 digits (UTCTime.latest has 15), no sign, no leading zero: the canonical text of the number.
            guard (1...15).contains(digits.count), bytes[digits.lowerBound] != UInt8(ascii: "0") || digits.count == 1 else { return nil }
            var capturedAt: Int64 = 0
            for index in digits {
                let digit = bytes[index] &- 48
                guard digit < 10 else { return nil }
                capturedAt = capturedAt * 10 + Int64(digit)
            }
            guard capturedAt <= UTCTime.latest,
                let symbol = try? Symbol(String(decoding: UnsafeBufferPointer(rebasing: bytes[11..<separators[0]]), as: UTF8.self)),
                (CivilDate(epochMilliseconds: capturedAt).daysSinceEpoch - day.daysSinceEpoch).magnitude <= 1
            else { return nil }
            return ParsedKey(day: day, symbol: symbol, type: type, capturedAt: capturedAt)
        }
    }

    /// `YYYY-MM-DD` as ``CivilDate/init(isoString:)`` reads it, or `nil` (also for what that would read but this does not).
    static func usualDay(_ bytes: UnsafeBufferPointer<UInt8>) -> CivilDate? {
        guard bytes.count == 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-") else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for index in range {
                let digit = bytes[index] &- 48
                guard digit < 10 else { return nil }
                value = value * 10 + Int(digit)
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10) else { return nil }
        let date = CivilDate(year: year, month: month, day: day)
        // Through the epoch and back: only a real date (no 02-30) comes back as it was.
        return CivilDate(epochMilliseconds: date.epochMilliseconds) == date ? date : nil
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
