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
    static func error(_ message: String) {
        FileHandle.standardError.write(Data("cryptopipe: error: \(message)\n".utf8))
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
        Console.error(String(describing: error).replacingOccurrences(of: "\n", with: " "))
        throw ExitCode(1)
    }
}
