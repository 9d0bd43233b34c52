import Foundation
import MarketData

/// Resolves each setting from its flag, then its environment variable, then its default: the one
/// place where configuration is read.
struct Settings {
    let environment: [String: String]

    init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.environment = environment
    }

    /// A raw text setting.
    func text(_ flag: String?, env: String, default defaultValue: @autoclosure () -> String) -> String {
        if let flag { return flag }
        if let value = environment[env], !value.isEmpty { return value }
        return defaultValue()
    }

    /// A setting parsed by `parse`, with a clear error naming where the bad value came from.
    func value<T>(
        _ flag: String?, option: String, env: String, default defaultValue: T, expected: String, parse: (String) -> T?
    ) throws(CLIError) -> T {
        if let flag {
            guard let value = parse(flag) else { throw .usage("\(option) '\(flag)' is not valid: expected \(expected)") }
            return value
        }
        if let raw = environment[env], !raw.isEmpty {
            guard let value = parse(raw) else { throw .usage("\(env)='\(raw)' is not valid: expected \(expected)") }
            return value
        }
        return defaultValue
    }

    func integer(_ flag: String?, option: String, env: String, default defaultValue: Int, range: ClosedRange<Int>) throws(CLIError) -> Int {
        try value(
            flag, option: option, env: env, default: defaultValue, expected: "an integer from \(range.lowerBound) to \(range.upperBound)"
        ) {
            Int($0).flatMap { range.contains($0) ? $0 : nil }
        }
    }

    func optionalInteger(_ flag: String?, option: String, env: String, range: ClosedRange<Int>) throws(CLIError) -> Int? {
        try value(flag, option: option, env: env, default: nil, expected: "an integer from \(range.lowerBound) to \(range.upperBound)") {
            Int($0).flatMap { range.contains($0) ? $0 : nil }
        }
    }

    func time(_ flag: String?, option: String, env: String) throws(CLIError) -> Int64? {
        try value(flag, option: option, env: env, default: nil, expected: "ISO-8601 (2024-01-31T12:00:00Z) or epoch milliseconds") {
            UTCTime.parse($0)
        }
    }

    func flag(_ flag: Bool, env: String) throws(CLIError) -> Bool {
        if flag { return true }
        guard let raw = environment[env]?.lowercased(), !raw.isEmpty else { return false }
        switch raw {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default: throw .usage("\(env)='\(raw)' is not valid: expected true or false")
        }
    }
}

extension Settings {
    /// A `--symbol` option: upper-cased and validated; `nil` when not given.
    static func symbolOption(_ text: String?) throws(CLIError) -> Symbol? {
        guard let text else { return nil }
        do {
            return try Symbol(text.uppercased())
        } catch {
            throw .usage("--symbol: \(error)")
        }
    }
}
