/// A Binance k-line interval, with the same spelling Binance uses in URLs and dump file names.
public enum Interval: String, Sendable, Hashable, CaseIterable, Codable, CustomStringConvertible {
    case oneSecond = "1s"
    case oneMinute = "1m"
    case threeMinutes = "3m"
    case fiveMinutes = "5m"
    case fifteenMinutes = "15m"
    case thirtyMinutes = "30m"
    case oneHour = "1h"
    case twoHours = "2h"
    case fourHours = "4h"
    case sixHours = "6h"
    case eightHours = "8h"
    case twelveHours = "12h"
    case oneDay = "1d"
    case threeDays = "3d"
    case oneWeek = "1w"
    case oneMonth = "1M"

    public var description: String { rawValue }

    /// Every interval from 1m to 1M: what can be formed from stored minutes (1s is finer than anything stored).
    public static let minuteAndLonger: [Interval] = allCases.filter { $0 != .oneSecond }

    /// Length of one candle in milliseconds; `nil` for `1M`, whose candles follow calendar months.
    public var milliseconds: Int64? {
        let minute: Int64 = 60_000
        switch self {
        case .oneSecond: return 1_000
        case .oneMinute: return minute
        case .threeMinutes: return 3 * minute
        case .fiveMinutes: return 5 * minute
        case .fifteenMinutes: return 15 * minute
        case .thirtyMinutes: return 30 * minute
        case .oneHour: return 60 * minute
        case .twoHours: return 120 * minute
        case .fourHours: return 240 * minute
        case .sixHours: return 360 * minute
        case .eightHours: return 480 * minute
        case .twelveHours: return 720 * minute
        case .oneDay: return 1_440 * minute
        case .threeDays: return 3 * 1_440 * minute
        case .oneWeek: return 7 * 1_440 * minute
        case .oneMonth: return nil
        }
    }

    /// Open time of the candle that contains `time` (UTC epoch ms).
    ///
    /// Binance aligns candles to the Unix epoch, except weeks, which open on Monday 00:00 UTC
    /// (the epoch was a Thursday), and months, which open on the first of the month.
    public func openTime(containing time: Int64) -> Int64 {
        switch self {
        case .oneMonth:
            let date = CivilDate(epochMilliseconds: time)
            return CivilDate(year: date.year, month: date.month, day: 1).epochMilliseconds
        case .oneWeek:
            let week: Int64 = 7 * 86_400_000
            let mondayOffset: Int64 = 4 * 86_400_000
            return floorDivide(time - mondayOffset, week) * week + mondayOffset
        default:
            let length = milliseconds ?? 60_000
            return floorDivide(time, length) * length
        }
    }

    /// Open time of the candle after the one opening at `openTime`.
    public func nextOpenTime(after openTime: Int64) -> Int64 {
        if let length = milliseconds { return openTime + length }
        let date = CivilDate(epochMilliseconds: openTime)
        let next =
            date.month == 12
            ? CivilDate(year: date.year + 1, month: 1, day: 1)
            : CivilDate(year: date.year, month: date.month + 1, day: 1)
        return next.epochMilliseconds
    }
}

@inlinable
func floorDivide(_ value: Int64, _ divisor: Int64) -> Int64 {
    let quotient = value / divisor
    return (value % divisor != 0 && (value < 0) != (divisor < 0)) ? quotient - 1 : quotient
}
