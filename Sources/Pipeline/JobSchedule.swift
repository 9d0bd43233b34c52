/// When a job runs: every so many seconds, or once a week at a UTC time.
public enum JobSchedule: Sendable, Hashable {
    case every(seconds: Int)
    /// `weekday` 0 = Sunday … 6 = Saturday; `minuteOfDay` 0…1439, UTC.
    case weekly(weekday: Int, minuteOfDay: Int)

    public static let weekdayNames = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"]
    /// Shortest interval accepted: a job every few seconds would only pile up requests.
    public static let minimumIntervalSeconds = 10
    /// Longest interval accepted: four weeks.
    public static let maximumIntervalSeconds = 2_419_200

    public var kind: Kind {
        switch self {
        case .every: .interval
        case .weekly: .weekly
        }
    }

    public enum Kind: String, Sendable, Hashable {
        case interval
        case weekly
    }

    /// `HH:MM` of a weekly schedule.
    public static func timeText(minuteOfDay: Int) -> String {
        let hours = minuteOfDay / 60
        let minutes = minuteOfDay % 60
        return (hours < 10 ? "0" : "") + "\(hours):" + (minutes < 10 ? "0" : "") + "\(minutes)"
    }

    /// Parses `HH:MM` (24-hour); `nil` when it is not a time of day.
    public static func minuteOfDay(parsing text: String) -> Int? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ $0.count == 2 && $0.allSatisfy(\.isASCII) }), let hours = Int(parts[0]),
            let minutes = Int(parts[1]), (0..<24).contains(hours), (0..<60).contains(minutes)
        else { return nil }
        return hours * 60 + minutes
    }

    /// Index of a weekday name (`sunday`…`saturday`, any case), or `nil`.
    public static func weekday(parsing text: String) -> Int? {
        weekdayNames.firstIndex(of: text.lowercased())
    }

    public var description: String {
        switch self {
        case .every(let seconds): "every \(seconds) s"
        case .weekly(let weekday, let minute):
            "weekly on \(Self.weekdayNames[weekday].capitalized) at \(Self.timeText(minuteOfDay: minute)) UTC"
        }
    }

    /// When the job is next due.
    ///
    /// An interval job is due `seconds` after its last run started, or at once if it never ran. A weekly job is due at
    /// the first matching time after `anchor` (its last run, or when the schedule was last changed, whichever is newer),
    /// so a run missed while the process was down happens once at start-up, not once per missed week.
    public func nextRun(lastRunStart: Int64?, anchor: Int64) -> Int64 {
        switch self {
        case .every(let seconds):
            guard let lastRunStart else { return anchor }
            // Saturating: the last start is read from the warehouse, possibly written by another worker.
            let (due, overflow) = lastRunStart.addingReportingOverflow(Int64(seconds) * 1_000)
            return overflow ? .max : due
        case .weekly(let weekday, let minuteOfDay):
            // Clamped far inside Int64, so the day arithmetic below cannot overflow whatever the stored times are.
            let from = min(max(max(lastRunStart ?? .min, anchor), -(1 << 60)), 1 << 60)
            let day: Int64 = 86_400_000
            let dayStart = from >= 0 ? from / day * day : (from - day + 1) / day * day
            // 1970-01-01 was a Thursday (weekday 4).
            let dayIndex = dayStart / day
            let currentWeekday = Int((dayIndex % 7 + 7 + 4) % 7)
            var candidate = dayStart + Int64((weekday - currentWeekday + 7) % 7) * day + Int64(minuteOfDay) * 60_000
            if candidate <= from { candidate += 7 * day }
            return candidate
        }
    }
}
