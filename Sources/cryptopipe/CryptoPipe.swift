import ArgumentParser
import Foundation

@main
struct CryptoPipe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cryptopipe",
        abstract: "Binance market data → data lake → SQL warehouse, with a simulated exchange for offline use.",
        discussion: """
            Options that have an environment variable name it in their help; for those, a flag wins over the \
            environment and the environment over the default. Global options (--data-dir, --warehouse, --lake, --symbols, \
            …) may come before the subcommand too: cryptopipe --data-dir /tmp/x status.
            """,
        subcommands: [
            Extract.self, Transform.self, Aggregate.self, Import.self, Backfill.self, Gaps.self, Maintain.self, Run.self, Serve.self,
            Demo.self, Adopt.self,
            Export.self, Lake.self, Status.self, SimulateExchange.self,
        ]
    )

    static func main() async {
        switch LeadingGlobalOptions.rearranged(Array(CommandLine.arguments.dropFirst())) {
        case .success(let arguments):
            await main(arguments)
        case .failure(let error):
            Console.error(error.description)
            Self.exit(withError: ExitCode(error.exitCode))
        }
    }
}

/// Global options written before the subcommand (`cryptopipe --data-dir X status`, as with `git -C`) are moved after
/// it, where the subcommand's parser reads them. Any other option before the subcommand is refused with where it goes.
enum LeadingGlobalOptions {
    /// Arguments the root command answers itself.
    static let rootArguments: Set<String> = ["-h", "--help", "--version", "--generate-completion-script", "--experimental-dump-help"]

    static func rearranged(_ arguments: [String]) -> Result<[String], CLIError> {
        var index = 0
        var moved: [String] = []
        while index < arguments.count, arguments[index].hasPrefix("-"), arguments[index] != "--" {
            let argument = arguments[index]
            let name = argument.split(separator: "=", maxSplits: 1).first.map(String.init) ?? argument
            if rootArguments.contains(name) { return .success(arguments) }
            let takesValue = isGlobal([name, "value"])
            guard takesValue || isGlobal([name]) else { return .failure(notGlobal(name)) }
            if argument.contains("=") || !takesValue {
                moved.append(argument)
                index += 1
            } else {
                guard index + 1 < arguments.count, isGlobal([argument, arguments[index + 1]]) else {
                    return .failure(.usage("'\(shown(name))' needs a value, e.g. cryptopipe \(shown(name)) <value> status"))
                }
                moved += [argument, arguments[index + 1]]
                index += 2
            }
        }
        guard !moved.isEmpty else { return .success(arguments) }
        guard index < arguments.count, arguments[index] != "--" else {
            return .failure(
                .usage("global options need a subcommand after them, e.g. cryptopipe \(moved.joined(separator: " ")) status"))
        }
        var rest = Array(arguments[index...])
        // Right after the subcommand's name (and a nested one's, as in `lake migrate`), so an option written again
        // later on the line still wins, as the last one does.
        let afterNames = rest.firstIndex { $0.hasPrefix("-") } ?? rest.endIndex
        rest.insert(contentsOf: moved, at: afterNames)
        return .success(rest)
    }

    /// Whether the global options' own parser accepts these arguments (one option with its value).
    static func isGlobal(_ arguments: [String]) -> Bool {
        do {
            _ = try GlobalOptions.parse(arguments)
            return true
        } catch {
            return false
        }
    }

    static func notGlobal(_ name: String) -> CLIError {
        .usage(
            "'\(shown(name))' is not a global option: put it after the subcommand (cryptopipe <subcommand> \(shown(name)) …); "
                + "only global options such as --data-dir, --warehouse, --lake and --symbols may come before it")
    }

    /// At most 40 characters of an argument, for an error message.
    static func shown(_ text: String) -> String { text.count > 40 ? String(text.prefix(40)) + "…" : text }
}
