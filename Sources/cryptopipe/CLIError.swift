import ArgumentParser
import Foundation

/// An error the user can act on, printed as one line without a stack trace.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    /// 64 (EX_USAGE) for bad input, 1 for failures at run time.
    let exitCode: Int32

    init(_ description: String, exitCode: Int32 = 1) {
        self.description = description
        self.exitCode = exitCode
    }

    static func usage(_ description: String) -> CLIError { CLIError(description, exitCode: 64) }
}

enum Console {
    /// One line whatever the message quotes: a value given with a newline, another control character or a bidirectional
    /// override in it is shown with those escaped (`\n`, `\u{1B}`, and `\\` for a backslash, so the escapes are
    /// unambiguous), so an error never spans lines, moves a terminal's cursor or reorders what it shows.
    static func error(_ message: String) {
        FileHandle.standardError.write(Data("cryptopipe: error: \(oneLine(message))\n".utf8))
    }

    static func oneLine(_ text: String) -> String {
        var line = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": line += "\\\\"
            case "\n": line += "\\n"
            case "\r": line += "\\r"
            case "\t": line += "\\t"
            case _
            where scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || (0x2028...0x202E).contains(scalar.value)
                || (0x2066...0x2069).contains(scalar.value):
                line += "\\u{\(String(scalar.value, radix: 16, uppercase: true))}"
            default: line.unicodeScalars.append(scalar)
            }
        }
        return line
    }

    static func print(_ line: String) {
        write(Data((line + "\n").utf8))
    }

    /// Writes to stdout; when the reader has gone away (`cryptopipe export … | head`), stops quietly with exit 0 as
    /// other command-line tools do, instead of trapping on the broken pipe.
    static func write(_ data: Data) {
        do {
            try FileHandle.standardOutput.write(contentsOf: data)
        } catch {
            exit(0)
        }
    }
}

/// Runs a command body, turning any error into one line on stderr and a non-zero exit code.
func guarded(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as CLIError {
        Console.error(error.description)
        throw ExitCode(error.exitCode)
    } catch let error as ExitCode {
        throw error
    } catch {
        Console.error(String(describing: error))
        throw ExitCode(1)
    }
}
